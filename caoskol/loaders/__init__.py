"""Loading the school's files into the ``colegio`` database (``notas``, ``usuarios``).

Formats: the SQL-INSERT dump saved as ``.csv`` (and any SQL file, read, never executed),
the users CSV, the survey XLSX (one comma-joined record per cell), and the plain notas CSV
that ``caoskol generate`` writes. Each refused row is reported with file, line and reason;
the rest are upserted by id in batches. See :mod:`caoskol.loaders.load` for transactions.
"""

from caoskol.loaders.detect import KINDS, detect_kind
from caoskol.loaders.load import load_files, read_records
from caoskol.loaders.report import FileResult, Issue, LoadReport
from caoskol.loaders.users import UserExists, create_user, hash_password

__all__ = [
    "KINDS",
    "FileResult",
    "Issue",
    "LoadReport",
    "UserExists",
    "create_user",
    "detect_kind",
    "hash_password",
    "load_files",
    "read_records",
]
