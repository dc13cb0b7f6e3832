"""Reading SQL text (``US_Dataset.csv``, ``init.sql``) as data, never executing it.

The school's "CSV" is an ``INSERT INTO notas (...) VALUES (...), ...;`` statement, and its
``init.sql`` is a whole script. Running either against MySQL would hand our database to a
file nobody reviewed (DROP TABLE included) and, for init.sql, fail half-way. Instead this
module tokenizes the SQL the way MySQL would (strings with '' and backslash escapes, NULL,
numbers, the three comment styles) and takes only the tuples of ``INSERT INTO notas``
statements, with the line each tuple starts on. Everything else is reported:

* other statements (DDL, INSERTs into other tables) - a warning, they are not executed;
* an INSERT whose column list is missing, has columns ``notas`` lacks (``clave``) or lacks
  ones it needs - an error refusing that statement's rows;
* a tuple with the wrong number of values, or one that is not plain literals - an error
  for that row;
* ``/*`` inside a block comment - a warning, since MySQL does not nest comments and the
  outer comment ends at the first ``*/`` (init.sql's ``/*DATOS REALES*/``);
* a ``*/`` that closes no comment, an unterminated string or comment - the file's
  structure is broken, so which text is data is unknown, and nothing from it is taken.

Columns come from each INSERT's own column list (old names such as ``puntaje_mat`` are
mapped by :data:`caoskol.loaders.values.COLUMN_ALIASES`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Iterator

from caoskol import schema
from caoskol.loaders.records import NOTAS_REQUIRED, RawRow
from caoskol.loaders.report import FileResult
from caoskol.loaders.textfiles import read_text
from caoskol.loaders.values import canonical_column

_STR_SQ = r"'(?:[^'\\]++|\\.|'')*+'"
_STR_DQ = r'"(?:[^"\\]++|\\.|"")*+"'
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_LIT = rf"(?:{_STR_SQ}|{_STR_DQ}|{_NUM}|(?i:NULL|TRUE|FALSE)\b)"
# A tuple of plain literals is one token: the common case (one per line in a dump) then
# costs one regex match instead of a dozen tokens. Anything else in parentheses is read
# token by token and reported.
_SIMPLE_TUPLE = rf"\(\s*{_LIT}(?:\s*,\s*{_LIT})*\s*\)"

_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<tuple>{_SIMPLE_TUPLE})
  | (?P<bc>/\*)
  | (?P<lc>(?:--(?=\s|$)|\#)[^\n]*)
  | (?P<str>{_STR_SQ}|{_STR_DQ})
  | (?P<ident>`(?:[^`]|``)*`)
  | (?P<num>{_NUM})
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<cc>\*/)
  | (?P<punct>[(),;.])
  | (?P<other>.)
    """,
    re.X | re.S,
)
_LITERAL = re.compile(_LIT, re.S)
_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
_ESCAPE_RE = re.compile(r"\\(.)|''|\"\"", re.S)

Token = tuple[str, str, int]  # kind, text, line


def _unescape(body: str) -> str:
    if "\\" not in body and "''" not in body and '""' not in body:
        return body

    def one(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]
        return _ESCAPES.get(m.group(1), m.group(1))

    return _ESCAPE_RE.sub(one, body)


def literal_value(text: str) -> object:
    """An SQL literal as Python: str, int, Decimal or None (NULL)."""
    # The tokenizer already proved ``text`` is one literal, so the first character decides.
    first = text[0]
    if first in "'\"":
        return _unescape(text[1:-1])
    if first in "nN":
        return None
    if first in "tT":
        return 1
    if first in "fF":
        return 0
    try:
        return int(text)  # digits only here (no '_'), so int() is exact
    except ValueError:
        return Decimal(text)


def _describe(tok: Token | None) -> str:
    if tok is None:
        return "end of file"
    text = tok[1] if len(tok[1]) <= 40 else tok[1][:37] + "..."
    return repr(text)


class _SqlReader:
    def __init__(self, text: str, result: FileResult) -> None:
        self.text = text
        self.result = result
        self._tokens = self._tokenize()
        self._pushed: list[Token] = []

    # --- tokens -------------------------------------------------------------------------

    def _tokenize(self) -> Iterator[Token]:
        text, result = self.text, self.result
        pos, line, end = 0, 1, len(self.text)
        closed_early: tuple[int, int] | None = None  # (opened at, closed at) of last nested case
        while pos < end:
            m = _TOKEN.match(text, pos)
            kind, start = m.lastgroup, pos
            pos = m.end()
            if kind == "bc":
                close = text.find("*/", start + 2)
                if close == -1:
                    result.fail(line, "comment opened here is never closed")
                    return
                inner = text.find("/*", start + 2, close)
                if inner != -1:
                    inner_line = line + text.count("\n", start, inner)
                    close_line = line + text.count("\n", start, close)
                    closed_early = (line, inner_line)
                    result.warn(
                        inner_line,
                        f"'/*' inside the comment opened at line {line}: MySQL does not nest "
                        f"comments, so that comment ends at the '*/' on line {close_line} and "
                        "the text after it is live SQL",
                    )
                line += text.count("\n", start, close)
                pos = close + 2
                continue
            if kind in ("ws", "lc"):
                line += text.count("\n", start, pos)
                continue
            if kind == "cc":
                hint = ""
                if closed_early:
                    hint = (
                        f" (the comment opened at line {closed_early[0]} was already closed at "
                        f"line {closed_early[1]})"
                    )
                result.fail(
                    line,
                    f"'*/' closes no comment{hint}: the file's comments are broken, so which "
                    "text is data is unknown; nothing from this file is loaded",
                )
                continue
            if kind == "other" and m.group() in "'\"":
                result.fail(line, "string opened here is never closed")
                return
            yield kind, m.group(), line
            line += text.count("\n", start, pos)

    def next(self) -> Token | None:
        if self._pushed:
            return self._pushed.pop()
        return next(self._tokens, None)

    def push(self, tok: Token | None) -> None:
        if tok is not None:
            self._pushed.append(tok)

    @staticmethod
    def is_punct(tok: Token | None, char: str) -> bool:
        return tok is not None and tok[0] == "punct" and tok[1] == char

    @staticmethod
    def is_word(tok: Token | None, *words: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1].upper() in words

    def skip_statement(self) -> list[Token]:
        """Consume up to and including the next ';'; return what was consumed."""
        consumed = []
        while (tok := self.next()) is not None and not self.is_punct(tok, ";"):
            consumed.append(tok)
        return consumed

    # --- statements ---------------------------------------------------------------------

    def rows(self) -> Iterator[RawRow]:
        while (tok := self.next()) is not None:
            if self.is_punct(tok, ";"):
                continue
            if self.is_word(tok, "INSERT", "REPLACE"):
                yield from self._insert(tok)
                continue
            rest = self.skip_statement()
            words = " ".join(t[1] for t in [tok, *rest[:5]] if t[0] in ("word", "ident"))
            self.result.warn(
                tok[2],
                f"statement not executed: {words} ... (the loader reads only INSERT INTO notas "
                "and never runs SQL from a file)",
            )

    def _insert(self, first: Token) -> Iterator[RawRow]:
        line = first[2]
        tok = self.next()
        while self.is_word(tok, "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"):
            tok = self.next()
        table = self._table_name(tok)
        if table is None:
            self.skip_statement()
            self.result.error(line, f"INSERT statement not understood near {_describe(tok)}; statement skipped", rows=0)
            return
        if table != "notas":
            self.skip_statement()
            self.result.warn(line, f"INSERT INTO {table} not taken: only INSERT INTO notas is read")
            return
        columns, problem = self._column_list(line)
        if problem is None:
            tok = self.next()
            if not self.is_word(tok, "VALUES", "VALUE"):
                problem = f"expected VALUES, found {_describe(tok)} (INSERT ... SELECT/SET is not read)"
                self.push(tok)
        if problem is not None:
            count = self._count_tuples()
            self.result.error(
                line, f"INSERT INTO notas not taken: {problem}; its {count} rows are refused", rows=count
            )
            return
        yield from self._tuples(line, columns)

    def _table_name(self, tok: Token | None) -> str | None:
        if tok is None or tok[0] not in ("word", "ident"):
            return None
        name = canonical_column(tok[1])
        if self.is_punct(nxt := self.next(), "."):  # schema.table: keep the table
            tok = self.next()
            if tok is None or tok[0] not in ("word", "ident"):
                return None
            name = canonical_column(tok[1])
        else:
            self.push(nxt)
        return name

    def _column_list(self, line: int) -> tuple[list[str], str | None]:
        tok = self.next()
        if not self.is_punct(tok, "("):
            self.push(tok)
            return [], "no column list, so which value is which column is unknown"
        columns: list[str] = []
        while True:
            tok = self.next()
            if tok is None or tok[0] not in ("word", "ident"):
                return columns, f"column list not understood near {_describe(tok)}"
            columns.append(canonical_column(tok[1]))
            tok = self.next()
            if self.is_punct(tok, ")"):
                break
            if not self.is_punct(tok, ","):
                return columns, f"column list not understood near {_describe(tok)}"
        unknown = [c for c in columns if c not in NOTAS_REQUIRED]
        missing = [c for c in NOTAS_REQUIRED if c not in columns]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        problems = []
        if unknown:
            problems.append(f"column(s) {', '.join(unknown)} that notas does not have")
        if missing:
            ordered = [c for c in schema.NOTAS_COLUMNS if c in missing]
            problems.append(f"no column(s) {', '.join(ordered)}")
        if repeated:
            problems.append(f"column(s) {', '.join(repeated)} named twice")
        return columns, ("; ".join(problems) if problems else None)

    def _count_tuples(self) -> int:
        """Rows of a refused statement, counted so the report says how many were lost."""
        count = 0
        depth = 0
        while (tok := self.next()) is not None and not self.is_punct(tok, ";"):
            if tok[0] == "tuple" and depth == 0:
                count += 1
            elif self.is_punct(tok, "("):
                depth += 1
                count += depth == 1
            elif self.is_punct(tok, ")"):
                depth = max(0, depth - 1)
        return count

    def _tuples(self, line: int, columns: list[str]) -> Iterator[RawRow]:
        width = len(columns)
        while True:
            tok = self.next()
            if tok is not None and tok[0] == "tuple":
                values = [literal_value(t) for t in _LITERAL.findall(tok[1], 1, len(tok[1]) - 1)]
                if len(values) != width:
                    self.result.error(
                        tok[2],
                        f"bad arity: {len(values)} values, the column list at line {line} has {width}",
                    )
                else:
                    yield RawRow(tok[2], dict(zip(columns, values)))
            elif self.is_punct(tok, "("):
                self._complex_tuple(tok[2])
            else:
                self.push(tok)
                self._refuse_rest(tok, line, f"expected a tuple, found {_describe(tok)}")
                return
            tok = self.next()
            if self.is_punct(tok, ","):
                continue
            if self.is_punct(tok, ";"):
                return
            if tok is None:
                self.result.warn(None, f"INSERT at line {line} is not ended by ';' (is the file truncated?)")
                return
            if self.is_word(tok, "ON"):
                self.skip_statement()
                self.result.warn(tok[2], "ON DUPLICATE KEY UPDATE clause ignored: the loader always upserts by id")
                return
            if tok[0] == "tuple" or self.is_punct(tok, "("):
                self.result.warn(tok[2], "missing ',' between tuples; read as if it were there")
                self.push(tok)
                continue
            self._refuse_rest(tok, line, f"unexpected {_describe(tok)} after a tuple")
            return

    def _refuse_rest(self, tok: Token | None, line: int, problem: str) -> None:
        """Past a point the statement cannot be followed: its remaining rows are refused."""
        count = self._count_tuples()
        self.result.error(
            tok[2] if tok else None,
            f"INSERT at line {line}: {problem}; the rest of the statement ({count} rows) is refused",
            rows=count,
        )

    def _complex_tuple(self, line: int) -> None:
        """A parenthesised group that is not plain literals: a missing comma, an expression
        (NOW()), an empty value. Consumed up to its ')' and refused."""
        depth, parts = 1, []
        while True:
            tok = self.next()
            if tok is None or self.is_punct(tok, ";") or tok[0] == "tuple":
                self.push(tok)
                self.result.error(line, "tuple opened here is not closed")
                return
            if self.is_punct(tok, "("):
                depth += 1
            elif self.is_punct(tok, ")"):
                depth -= 1
                if depth == 0:
                    break
            parts.append(tok[1])
        shown = " ".join(parts)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        self.result.error(line, f"tuple is not a list of literal values (missing comma? expression?): ({shown})")


def read_sql(path: Path, result: FileResult) -> Iterator[RawRow]:
    """The rows of every ``INSERT INTO notas`` in an SQL file, with their line numbers."""
    text = read_text(path, result)
    yield from _SqlReader(text, result).rows()
