"""The integrity-check schema: the kinds, their fields and limits, the read-only rule for queries and
the JSON wire format. The policy builds checks with it at synth time; the validator parses the same
JSON with it at run time, so a check that synthesizes is one the validator accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

from lambdas.contract.errors import PolicyError, fail
from lambdas.contract.layout import HEARTBEAT_COLUMN, HEARTBEAT_TABLE

CHECK_KINDS: Final = ("table_exists", "min_rows", "no_orphans", "fresh_writes", "checksum")
# snake_case field -> camelCase JSON key, per kind: (required, optional).
_FIELDS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "table_exists": (("table",), ()),
    "min_rows": (("table", "min_rows"), ()),
    "no_orphans": (("table", "column", "parent_table"), ("parent_column", "sample_limit")),
    "fresh_writes": (("table", "column"), ()),
    "checksum": (("query",), ("expected",)),
}
_JSON_KEYS: Final = {
    "name": "name",
    "kind": "kind",
    "table": "table",
    "min_rows": "minRows",
    "column": "column",
    "parent_table": "parentTable",
    "parent_column": "parentColumn",
    "sample_limit": "sampleLimit",
    "query": "query",
    "expected": "expected",
}
_FROM_JSON: Final = {v: k for k, v in _JSON_KEYS.items()}

NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
RELATION_PATTERN: Final = r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$"
COLUMN_PATTERN: Final = r"^[a-z_][a-z0-9_]*$"
MAX_IDENTIFIER_PART: Final = 63  # PostgreSQL's NAMEDATALEN - 1
DEFAULT_PARENT_COLUMN: Final = "id"
DEFAULT_SAMPLE_LIMIT: Final = 10_000
MAX_SAMPLE_LIMIT: Final = 10_000_000
MAX_MIN_ROWS: Final = 2**62

# What could make a single SELECT/WITH statement write or lock: data-modifying CTEs, SELECT INTO, row
# locks, transaction control, set_config. The validator's READ ONLY transaction is the last line; this
# refuses such a policy when it is built (at synth) instead of at every monthly test.
_FORBIDDEN_WORDS: Final = (
    "insert", "update", "delete", "merge", "truncate", "drop", "alter", "create", "grant", "revoke",
    "copy", "call", "into", "lock", "commit", "rollback", "set_config", "do", "execute", "prepare",
    "vacuum", "analyze", "refresh", "listen", "notify", "nextval", "setval",
)  # fmt: skip
_FORBIDDEN_RE: Final = re.compile(
    r"\b(" + "|".join(_FORBIDDEN_WORDS) + r"|for\s+share|for\s+key\s+share|for\s+update)\b", re.IGNORECASE
)
_QUERY_START_RE: Final = re.compile(r"^(select|with)\b", re.IGNORECASE)
_NAME_RE: Final = re.compile(NAME_PATTERN)
_RELATION_RE: Final = re.compile(RELATION_PATTERN)
_COLUMN_RE: Final = re.compile(COLUMN_PATTERN)
WHERE: Final = "restore_testing.checks"


def read_only_query(where: str, value: object) -> str:
    """The query without a trailing semicolon, or PolicyError: a single SELECT/WITH statement without
    comments or anything that writes, locks or controls the transaction."""
    allowed = (
        "a single read-only SELECT or WITH statement without comments, semicolons (but one at the end) "
        "or data-modifying, locking or transaction keywords"
    )
    if not isinstance(value, str) or not value.strip():
        fail(where, value, allowed)
    query = value.strip()
    if query.endswith(";"):
        query = query[:-1].rstrip()
    if ";" in query:
        fail(where, value, f"more than one statement; {allowed}")
    if "--" in query or "/*" in query:
        fail(where, value, f"comments are not allowed; {allowed}")
    if not _QUERY_START_RE.match(query):
        fail(where, value, f"it does not start with SELECT or WITH; {allowed}")
    forbidden = _FORBIDDEN_RE.search(query)
    if forbidden:
        fail(where, value, f"{forbidden.group(1).upper()} is not read-only; {allowed}")
    return query


def _identifier(where: str, value: object, pattern: re.Pattern[str], what: str) -> None:
    if (
        not isinstance(value, str)
        or not pattern.match(value)
        or any(len(part) > MAX_IDENTIFIER_PART for part in value.split("."))
    ):
        fail(where, value, f"expected {what}: lower-case letters, digits and '_', each part at most "
             f"{MAX_IDENTIFIER_PART} characters (pattern {pattern.pattern})")  # fmt: skip


def _whole(where: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(where, value, f"expected a whole number from {low} to {high}")


@dataclass(frozen=True)
class IntegrityCheck:
    """One named data-integrity check run against a restored copy of the database."""

    name: str
    kind: str
    table: str | None = None
    min_rows: int | None = None
    column: str | None = None
    parent_table: str | None = None
    parent_column: str = DEFAULT_PARENT_COLUMN
    sample_limit: int = DEFAULT_SAMPLE_LIMIT
    query: str | None = None
    expected: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            fail(f"{WHERE}[{self.name!r}].name", self.name, "allowed: 1-64 letters, digits, '.', '_' or '-'")
        where = f"{WHERE}[{self.name}]"
        if self.kind not in CHECK_KINDS:
            fail(f"{where}.kind", self.kind, f"allowed: {', '.join(CHECK_KINDS)}")
        required, optional = _FIELDS[self.kind]
        for name in required:
            if getattr(self, name) is None:
                fail(f"{where}.{name}", None, f"a {self.kind} check needs it")
        defaults = {f.name: f.default for f in fields(self)}
        for name in (
            "table",
            "min_rows",
            "column",
            "parent_table",
            "parent_column",
            "sample_limit",
            "query",
            "expected",
        ):
            if name not in required and name not in optional and getattr(self, name) != defaults[name]:
                fail(f"{where}.{name}", getattr(self, name), f"not a field of a {self.kind} check")
        for name in ("table", "parent_table"):
            if getattr(self, name) is not None:
                _identifier(f"{where}.{name}", getattr(self, name), _RELATION_RE, "a table, optionally schema.table")
        for name in ("column", "parent_column"):
            if getattr(self, name) is not None:
                _identifier(f"{where}.{name}", getattr(self, name), _COLUMN_RE, "a column name")
        if self.min_rows is not None:
            _whole(f"{where}.min_rows", self.min_rows, 0, MAX_MIN_ROWS)
        _whole(f"{where}.sample_limit", self.sample_limit, 1, MAX_SAMPLE_LIMIT)
        if self.query is not None:
            object.__setattr__(self, "query", read_only_query(f"{where}.query", self.query))
        if self.expected is not None and not isinstance(self.expected, str):
            fail(f"{where}.expected", self.expected, "expected a string")

    def to_json(self) -> dict[str, Any]:
        """The camelCase wire form (the validator's CHECKS), with only this kind's fields."""
        required, optional = _FIELDS[self.kind]
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        for name in (*required, *optional):
            value = getattr(self, name)
            if value is not None:
                out[_JSON_KEYS[name]] = value
        return out

    @classmethod
    def from_json(cls, spec: object, index: int = 0) -> IntegrityCheck:
        """Parse one wire-form check (unknown keys refused)."""
        if not isinstance(spec, Mapping):
            fail(f"{WHERE}[{index}]", spec, "expected an object")
        kwargs: dict[str, Any] = {}
        for key, value in spec.items():
            if key not in _FROM_JSON:
                label = spec.get("name", index)
                fail(f"{WHERE}[{label}].{key}", value, f"unknown key; allowed: {', '.join(_JSON_KEYS.values())}")
            kwargs[_FROM_JSON[key]] = value
        if "name" not in kwargs or "kind" not in kwargs:
            fail(f"{WHERE}[{index}]", dict(spec), "a check needs a name and a kind")
        return cls(**kwargs)


def parse_checks(specs: object) -> tuple[IntegrityCheck, ...]:
    """The checks of a wire-form list; PolicyError naming the check, the field, the value and the rule."""
    if not isinstance(specs, Sequence) or isinstance(specs, str | bytes):
        fail(WHERE, specs, "expected a list of check objects")
    checks = tuple(IntegrityCheck.from_json(spec, i) for i, spec in enumerate(specs))
    check_unique(checks)
    return checks


def check_unique(checks: Sequence[IntegrityCheck]) -> None:
    if not checks:
        fail(WHERE, (), "declare at least one integrity check")
    names = [c.name for c in checks]
    if len(set(names)) != len(names):
        fail(WHERE, names, "check names must be unique")


# The e-commerce schema's checks: the tables exist, customers and orders are not empty, no orphans on
# the two foreign keys (in a bounded sample), and the newest order is within the RPO.
HEARTBEAT_CHECK: Final = "heartbeat-fresh"
DEFAULT_ECOMMERCE_CHECKS: Final = (
    IntegrityCheck("customers-table", "table_exists", table="customers"),
    IntegrityCheck("orders-table", "table_exists", table="orders"),
    IntegrityCheck("order-items-table", "table_exists", table="order_items"),
    IntegrityCheck("products-table", "table_exists", table="products"),
    IntegrityCheck("customers-not-empty", "min_rows", table="customers", min_rows=1),
    IntegrityCheck("orders-not-empty", "min_rows", table="orders", min_rows=1),
    IntegrityCheck(
        "orders-have-customers", "no_orphans", table="orders", column="customer_id", parent_table="customers"
    ),
    IntegrityCheck("items-have-orders", "no_orphans", table="order_items", column="order_id", parent_table="orders"),
    IntegrityCheck("orders-fresh", "fresh_writes", table="orders", column="created_at"),
    # The heartbeat writes a row a minute whatever the traffic: the copy's data loss, measured.
    IntegrityCheck(HEARTBEAT_CHECK, "fresh_writes", table=HEARTBEAT_TABLE, column=HEARTBEAT_COLUMN),
)

__all__ = [
    "CHECK_KINDS",
    "DEFAULT_ECOMMERCE_CHECKS",
    "HEARTBEAT_CHECK",
    "IntegrityCheck",
    "PolicyError",
    "check_unique",
    "parse_checks",
    "read_only_query",
]
