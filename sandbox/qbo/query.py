"""The QBO query language subset: parse, then run against a company's sorted views.

SELECT * | COUNT(*) | field, ... FROM Entity [WHERE cond AND cond ...]
[ORDER BY | ORDERBY field [ASC|DESC], ...] [STARTPOSITION n] [MAXRESULTS n]
cond: field (= | < | > | <= | >= | !=) literal | field IN (literal, ...) | field LIKE 'a%'.
String equality (=, !=, IN) and LIKE ignore case, as in QuickBooks.
Without ORDER BY rows come in Id order. Inactive Customer/Item/Account/PaymentMethod rows
are hidden unless the WHERE clause mentions Active.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .faults import QboFault
from .store import NAME_FIELDS, URL_NAMES, Company, OrderSpec, get_path
from .util import parse_timestamp

MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100

_TOKEN = re.compile(
    r"""\s*(?:(?P<string>'(?:[^'\\]|\\.|'')*')
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),*])
    |(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""",
    re.VERBOSE,
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}

Row = dict[str, Any]


def parse_error(detail: str) -> QboFault:
    """Code 4000: the statement does not parse."""
    return QboFault(400, 4000, "Error parsing query", f"QueryParserError: {detail}")


def validation_error(detail: str) -> QboFault:
    """Code 4001: the statement parses but is not allowed."""
    return QboFault(400, 4001, "Invalid query", f"QueryValidationError: {detail}")


@dataclass
class Condition:
    """One WHERE term: a lower-cased field path, operator and literal(s)."""

    path: tuple[str, ...]
    op: str
    values: list[Any]


@dataclass
class Query:
    """A parsed statement."""

    entity: str
    count: bool = False
    fields: list[str] | None = None
    conditions: list[Condition] = field(default_factory=list)
    order: OrderSpec = ()
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def tokenize(text: str) -> list[tuple[str, str]]:
    """Split a statement into (kind, text) tokens."""
    tokens, pos, text = [], 0, text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise parse_error(f"Encountered unexpected text at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


class _Parser:
    """Recursive-descent parser over the token list."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> str:
        """The next token's text, upper-cased ('' at the end)."""
        return self.tokens[self.pos][1].upper() if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        """Consume a token, optionally requiring its (upper-cased) text."""
        if self.pos >= len(self.tokens):
            raise parse_error(f"Encountered end of statement, expected {expected or 'more'}")
        token = self.tokens[self.pos]
        if expected is not None and token[1].upper() != expected:
            raise parse_error(f'Encountered " {token[1]} " but expected {expected}')
        self.pos += 1
        return token

    def word(self) -> str:
        """Consume an identifier."""
        kind, text = self.take()
        if kind != "word":
            raise parse_error(f'Encountered " {text} " where a name was expected')
        return text

    def literal(self) -> Any:
        """Consume a string, number or boolean literal."""
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("\\'", "'").replace("''", "'").replace("\\\\", "\\")
        if kind == "number":
            return Decimal(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise parse_error(f'Encountered " {text} " where a value was expected')

    def parse(self) -> Query:
        """Parse a whole statement."""
        self.take("SELECT")
        count, fields = self.select_list()
        self.take("FROM")
        name = self.word()
        entity = URL_NAMES.get(name.lower())
        if entity is None:
            raise validation_error(f"Entity {name} is not supported by the sandbox")
        query = Query(entity, count=count, fields=fields)
        if self.peek() == "WHERE":
            self.take()
            query.conditions = self.conditions()
        self.tail(query)
        if self.pos < len(self.tokens):
            raise parse_error(f'Encountered " {self.tokens[self.pos][1]} " after the statement')
        return query

    def select_list(self) -> tuple[bool, list[str] | None]:
        """SELECT * | COUNT(*) | field list ('*, Sku' counts as *)."""
        if self.peek() == "COUNT":
            self.take()
            self.take("(")
            self.take("*")
            self.take(")")
            return True, None
        names, star = [], False
        while True:
            if self.peek() == "*":
                self.take()
                star = True
            else:
                names.append(self.word())
            if self.peek() != ",":
                return False, None if star else names
            self.take()

    def conditions(self) -> list[Condition]:
        """cond AND cond ...; OR is not part of the language."""
        found = [self.condition()]
        while self.peek() == "AND":
            self.take()
            found.append(self.condition())
        if self.peek() in ("OR", "NOT"):
            raise parse_error(f'Encountered " {self.peek()} " (OR/NOT are not supported)')
        return found

    def condition(self) -> Condition:
        """One comparison, IN or LIKE."""
        path = tuple(self.word().lower().split("."))
        kind, op = self.take()
        op = op.upper()
        if op == "IN":
            self.take("(")
            values = [self.literal()]
            while self.peek() == ",":
                self.take()
                values.append(self.literal())
            self.take(")")
            return Condition(path, "IN", values)
        if op == "LIKE":
            return Condition(path, "LIKE", [self.literal()])
        if kind != "op":
            raise parse_error(f'Encountered " {op} " where an operator was expected')
        return Condition(path, "!=" if op == "<>" else op, [self.literal()])

    def tail(self, query: Query) -> None:
        """ORDER BY / STARTPOSITION / MAXRESULTS in any order."""
        while self.pos < len(self.tokens):
            keyword = self.peek()
            if keyword in ("ORDER", "ORDERBY"):
                self.take()
                if keyword == "ORDER":
                    self.take("BY")
                query.order = self.order_list()
            elif keyword in ("STARTPOSITION", "MAXRESULTS"):
                self.take()
                kind, text = self.take()
                if kind != "number" or "." in text:
                    raise parse_error(f'Encountered " {text} " where an integer was expected')
                if keyword == "STARTPOSITION":
                    query.start = int(text)
                else:
                    query.max_results = int(text)
            else:
                raise parse_error(f'Encountered " {self.tokens[self.pos][1]} "')

    def order_list(self) -> OrderSpec:
        """field [ASC|DESC], ..."""
        order = []
        while True:
            path = tuple(self.word().lower().split("."))
            descending = False
            if self.peek() in ("ASC", "DESC"):
                descending = self.take()[1].upper() == "DESC"
            order.append((path, descending))
            if self.peek() != ",":
                return tuple(order)
            self.take()


def parse_query(text: str) -> Query:
    """Parse and validate a statement; raises QboFault 4000/4001."""
    query = _Parser(text).parse()
    if query.max_results > MAX_RESULTS_LIMIT:
        raise validation_error(
            f"value {query.max_results} is too large. Max allowed value is {MAX_RESULTS_LIMIT}"
        )
    if query.max_results < 1 or query.start < 1:
        raise validation_error("STARTPOSITION and MAXRESULTS must be positive")
    return query


def _coerce(literal: Any, sample: Any) -> Any:
    """Bring a literal to the type of a row value so the comparison is meaningful."""
    if isinstance(sample, bool):
        return literal if isinstance(literal, bool) else str(literal).lower() == "true"
    if isinstance(sample, int | Decimal):
        try:
            return Decimal(str(literal))
        except InvalidOperation:
            return None
    if isinstance(sample, str) and sample.isdigit() and str(literal).isdigit():
        return int(literal)
    return str(literal) if not isinstance(literal, bool) else str(literal).lower()


def _row_value(value: Any) -> Any:
    """Refs compare by their value; numeric Id strings compare as numbers."""
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def compile_condition(cond: Condition, company: Company) -> Callable[[Row], bool]:
    """Turn a condition into a row predicate."""
    values = list(cond.values)
    if cond.path[-1].endswith("time"):
        # timestamps are stored in the company offset, so normalized strings compare correctly
        try:
            values = [
                company.timestamp(parse_timestamp(str(v), company.utc_offset)) for v in values
            ]
        except ValueError as exc:
            raise validation_error(f"invalid date/time value {values!r}") from exc
    if cond.op == "LIKE":
        pattern = re.escape(str(values[0])).replace("%", ".*")
        regex = re.compile(f"^{pattern}$", re.IGNORECASE | re.DOTALL)
        return lambda row: regex.match(str(_row_value(get_path(row, cond.path)) or "")) is not None
    compare = _OPS.get(cond.op)
    # QuickBooks compares strings for equality without regard to case ('checking' finds
    # "Checking"), as LIKE and the duplicate-name check do
    fold = cond.op in ("=", "!=", "IN")

    def predicate(row: Row) -> bool:
        value = _row_value(get_path(row, cond.path))
        if value is None:
            return False
        wanted = [_coerce(v, value) for v in values]
        if fold and isinstance(value, str):
            value = value.casefold()
            wanted = [w.casefold() if isinstance(w, str) else w for w in wanted]
        try:
            if cond.op == "IN":
                return value in wanted
            return compare is not None and compare(value, wanted[0])
        except TypeError:
            return False

    return predicate


def run_query(company: Company, query: Query) -> dict[str, Any]:
    """Execute a parsed query; returns the QueryResponse object."""
    predicates = [compile_condition(c, company) for c in query.conditions]
    if query.entity in NAME_FIELDS and not any(c.path == ("active",) for c in query.conditions):
        predicates.append(lambda row: row.get("Active", True) is True)
    rows = company.view(query.entity, query.order)
    if query.count:
        return {"totalCount": sum(1 for row in rows if all(p(row) for p in predicates))}
    page: list[Row] = []
    skip = query.start - 1
    for row in rows:
        if predicates and not all(p(row) for p in predicates):
            continue
        if skip:
            skip -= 1
            continue
        page.append(_project(row, query.fields))
        if len(page) >= query.max_results:
            break
    if not page:
        return {}
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}


def _project(row: Row, fields: list[str] | None) -> Row:
    """Select specific fields (plus Id and SyncToken) when the query named them."""
    if fields is None:
        return row
    wanted = {name.lower() for name in fields} | {"id", "synctoken"}
    picked = {k: v for k, v in row.items() if k.lower() in wanted}
    picked["sparse"] = True
    return picked
