"""What a load did, file by file: counts, and every refused row or warning with its line.

The CLI prints it, tests assert on it, and a data engineer reads it to fix the source file,
so every issue names the file and the line (a spreadsheet's row number for XLSX).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None  # None: about the file as a whole (missing file, bad header)
    reason: str
    id: int | None = None  # the student's or account's id, when known
    severity: str = ERROR

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {self.reason}"


@dataclass
class FileResult:
    """One file's outcome. ``loaded`` rows are new, ``updated`` existing rows whose values
    changed, ``unchanged`` existing rows that already held the same values (a re-import),
    ``refused`` rows not taken for a reason listed in ``errors``, and ``rolled_back`` rows
    that were valid but undone because the file (or, with --strict, the load) failed."""

    file: str
    kind: str | None = None
    table: str | None = None
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    rolled_back: int = 0
    repaired_names: int = 0
    # The file as a whole could not be taken (unreadable, broken SQL structure, no header).
    fatal: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def error(self, line: int | None, reason: str, id: int | None = None, rows: int = 1) -> None:
        """A refused row (``rows`` > 1 when one reason refuses a whole SQL statement)."""
        self.errors.append(Issue(self.file, line, reason, id, ERROR))
        self.refused += rows

    def fail(self, line: int | None, reason: str) -> None:
        """The file cannot be taken at all; reading may go on to report further problems."""
        self.errors.append(Issue(self.file, line, reason, None, ERROR))
        self.fatal = True

    def warn(self, line: int | None, reason: str, id: int | None = None) -> None:
        self.warnings.append(Issue(self.file, line, reason, id, WARNING))

    def roll_back(self) -> None:
        """Record that this file's writes were undone: nothing from it is in the database."""
        self.rolled_back += self.loaded + self.updated + self.unchanged
        self.loaded = self.updated = self.unchanged = 0

    @property
    def taken(self) -> int:
        return self.loaded + self.updated + self.unchanged

    def issues(self) -> list[Issue]:
        """Errors and warnings in file order (file-level issues first)."""
        return sorted(self.errors + self.warnings, key=lambda i: (i.line is not None, i.line or 0))

    def summary(self) -> str:
        kind = f" ({self.kind} -> {self.table})" if self.kind and self.table else ""
        text = (
            f"{self.file}{kind}: loaded {self.loaded}, updated {self.updated}, "
            f"unchanged {self.unchanged}, refused {self.refused}"
        )
        if self.rolled_back:
            text += f", rolled back {self.rolled_back}"
        if self.repaired_names:
            text += f"; {self.repaired_names} names repaired from mojibake"
        text += f"; {len(self.errors)} errors, {len(self.warnings)} warnings"
        if self.fatal:
            text += " - FILE NOT TAKEN"
        return text


@dataclass
class LoadReport:
    strict: bool = False
    results: list[FileResult] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(r.errors for r in self.results)

    @property
    def exit_code(self) -> int:
        """0: everything taken; 1: something refused (the rest loaded); 2: --strict refused
        everything because of at least one error."""
        if not self.has_errors:
            return 0
        return 2 if self.strict else 1

    def format(self) -> str:
        lines: list[str] = []
        for result in self.results:
            lines.append(result.summary())
        for result in self.results:
            lines.extend(str(issue) for issue in result.issues())
        if self.strict and self.has_errors:
            lines.append("strict: errors found, nothing was loaded (the whole load was rolled back)")
        return "\n".join(lines)
