"""Data-integrity checks run against a restored RDS PostgreSQL test copy.

After AWS Backup restores a recovery point into a throwaway instance, the restore validator connects to it
(:func:`connect_first` tries the IAM token, then the secret's current and previous passwords) and runs the checks
declared in the backup policy (:func:`parse_checks`, :func:`run_checks`); :func:`summarize` turns the results
into the status message for ``PutRestoreValidationResult``.

Every check runs in its own ``READ ONLY`` transaction under a ``statement_timeout``; a check that errors becomes
a failed :class:`CheckResult` carrying the server's message and the transaction is rolled back, so the remaining
checks still run. The checks' schema (kinds, fields, limits, the read-only rule for queries) is
:mod:`lambdas.contract.checks`, the one the policy builds them with; table and column names are always quoted
and values passed as bind parameters. Pure Python plus ``pg8000``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from lambdas.common.postgres import (
    Connection,
    Credentials,
    connect,
    connect_first,
    error_message,
)
from lambdas.common.postgres import DatabaseConnectionError as ValidatorConnectionError
from lambdas.contract.checks import DEFAULT_ECOMMERCE_CHECKS, IntegrityCheck, parse_checks, read_only_query

__all__ = [
    "DEFAULT_ECOMMERCE_CHECKS",
    "CheckResult",
    "Connection",
    "Credentials",
    "IntegrityCheck",
    "ValidatorConnectionError",
    "connect",
    "connect_first",
    "error_message",
    "parse_checks",
    "quote_identifier",
    "run_checks",
    "summarize",
]

MAX_EXAMPLE_KEYS: Final = 5
STATUS_MESSAGE_LIMIT: Final = 1000


@dataclass(frozen=True)
class CheckResult:
    name: str
    kind: str
    passed: bool
    expected: str
    found: str
    message: str
    duration_ms: int


# --------------------------------------------------------------------------------------------------- running


def quote_identifier(identifier: str) -> str:
    """``schema.table`` -> ``"schema"."table"`` (each part double-quoted, embedded quotes doubled)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in identifier.split("."))


class _CheckFailed(Exception):
    """A check's verdict reached early (e.g. a precondition), carrying expected/found/message."""

    def __init__(self, expected: str, found: str, message: str) -> None:
        super().__init__(message)
        self.expected, self.found, self.message = expected, found, message


def run_checks(
    conn: Connection,
    checks: Sequence[IntegrityCheck],
    *,
    recovery_point_time: datetime | None,
    rpo_minutes: float,
    reference: Mapping[str, str] | None = None,
    statement_timeout_ms: int = 60_000,
) -> list[CheckResult]:
    """Run ``checks`` in order, each in its own read-only transaction, and return one result per check.

    A check that errors is a failed result (with the server's message); the transaction is rolled back and the
    next check runs. ``reference`` supplies expected checksum values by check name when a check has none.
    A naive ``recovery_point_time`` is taken as UTC; ``None`` (unknown) fails ``fresh_writes`` checks.
    """
    if statement_timeout_ms <= 0:
        raise ValueError(f"statement_timeout_ms must be positive, got {statement_timeout_ms}")
    if rpo_minutes < 0:
        raise ValueError(f"rpo_minutes must not be negative, got {rpo_minutes}")
    if recovery_point_time is not None and recovery_point_time.tzinfo is None:
        recovery_point_time = recovery_point_time.replace(tzinfo=UTC)
    results: list[CheckResult] = []
    session_error: str | None = None
    try:
        conn.run("SELECT set_config('default_transaction_read_only', 'on', false)")
        conn.run("SELECT set_config('statement_timeout', :ms, false)", ms=str(statement_timeout_ms))
    except Exception as error:  # connection-level trouble: every check reports it
        session_error = f"could not prepare the session: {error_message(error)}"
    for check in checks:
        started = time.monotonic()
        if session_error is not None:
            results.append(_result(check, started, False, _expected_text(check, reference), "error", session_error))
            continue
        try:
            conn.run("START TRANSACTION READ ONLY")
            passed, expected, found, message = _run_one(
                conn, check, recovery_point_time=recovery_point_time, rpo_minutes=rpo_minutes, reference=reference
            )
            conn.run("COMMIT")
        except _CheckFailed as verdict:
            _rollback(conn)
            passed, expected, found, message = False, verdict.expected, verdict.found, verdict.message
        except Exception as error:
            _rollback(conn)
            passed, expected, found = False, _expected_text(check, reference), "error"
            message = f"{check.kind} check failed with an error: {error_message(error)}"
        results.append(_result(check, started, passed, expected, found, message))
    return results


def _result(
    check: IntegrityCheck, started: float, passed: bool, expected: str, found: str, message: str
) -> CheckResult:
    duration_ms = round((time.monotonic() - started) * 1000)
    return CheckResult(check.name, check.kind, passed, expected, found, message, duration_ms)


def _rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # the connection is gone; the next check reports its own error
        conn.run("ROLLBACK")


def _expected_text(check: IntegrityCheck, reference: Mapping[str, str] | None) -> str:
    if check.kind == "table_exists":
        return "table exists"
    if check.kind == "min_rows":
        return f">= {check.min_rows} rows"
    if check.kind == "no_orphans":
        return "0 orphan rows"
    if check.kind == "fresh_writes":
        return "newest write within the RPO"
    value = _checksum_expected(check, reference)
    return value if value is not None else "(none configured)"


def _checksum_expected(check: IntegrityCheck, reference: Mapping[str, str] | None) -> str | None:
    if check.expected is not None:
        return check.expected
    if reference is not None:
        return reference.get(check.name)
    return None


def _run_one(
    conn: Connection,
    check: IntegrityCheck,
    *,
    recovery_point_time: datetime | None,
    rpo_minutes: float,
    reference: Mapping[str, str] | None,
) -> tuple[bool, str, str, str]:
    if check.kind == "table_exists":
        return _table_exists(conn, check)
    if check.kind == "min_rows":
        return _min_rows(conn, check)
    if check.kind == "no_orphans":
        return _no_orphans(conn, check)
    if check.kind == "fresh_writes":
        return _fresh_writes(conn, check, recovery_point_time, rpo_minutes)
    return _checksum(conn, check, reference)


def _table_exists(conn: Connection, check: IntegrityCheck) -> tuple[bool, str, str, str]:
    assert check.table is not None
    rows = conn.run("SELECT to_regclass(:relation)::text", relation=quote_identifier(check.table))
    resolved = rows[0][0] if rows else None
    if resolved is None:
        return False, "table exists", "missing", f"table {check.table} does not exist (or is not visible to this user)"
    return True, "table exists", "exists", f"table {check.table} exists"


def _min_rows(conn: Connection, check: IntegrityCheck) -> tuple[bool, str, str, str]:
    assert check.table is not None and check.min_rows is not None
    floor = check.min_rows
    # Count at most `floor` rows: proves the floor without scanning a huge table.
    rows = conn.run(
        f"SELECT count(*) FROM (SELECT 1 FROM {quote_identifier(check.table)} LIMIT :floor) AS counted",
        floor=floor,
    )
    count = int(rows[0][0])
    expected = f">= {floor} rows"
    if count < floor:
        noun = "row" if count == 1 else "rows"
        return False, expected, f"{count} {noun}", f"{check.table} has {count} {noun}, expected at least {floor}"
    noun = "row" if floor == 1 else "rows"
    return True, expected, f">= {floor} {noun}", f"{check.table} has at least {floor} {noun}"


def _single_primary_key(conn: Connection, table: str) -> str | None:
    rows = conn.run(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = to_regclass(:relation) AND i.indisprimary",
        relation=quote_identifier(table),
    )
    return str(rows[0][0]) if rows and len(rows) == 1 else None


def _no_orphans(conn: Connection, check: IntegrityCheck) -> tuple[bool, str, str, str]:
    assert check.table is not None and check.column is not None and check.parent_table is not None
    child, parent = quote_identifier(check.table), quote_identifier(check.parent_table)
    column, parent_column = quote_identifier(check.column), quote_identifier(check.parent_column)
    primary_key = _single_primary_key(conn, check.table)
    # Newest rows first: by a single-column primary key when there is one (index scan), else by physical position.
    order = f"c.{quote_identifier(primary_key)}" if primary_key else "c.ctid"
    rows = conn.run(
        f"WITH sample AS (SELECT c.{column} AS k FROM {child} AS c ORDER BY {order} DESC LIMIT :limit), "
        f"orphans AS (SELECT s.k FROM sample AS s WHERE s.k IS NOT NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE p.{parent_column} = s.k)) "
        "SELECT (SELECT count(*) FROM sample), (SELECT count(*) FROM orphans), "
        "(SELECT array_agg(e.k::text ORDER BY e.k) FROM (SELECT DISTINCT o.k FROM orphans AS o ORDER BY o.k "
        "LIMIT :examples) AS e)",
        limit=check.sample_limit,
        examples=MAX_EXAMPLE_KEYS,
    )
    sampled, orphans, examples = int(rows[0][0]), int(rows[0][1]), list(rows[0][2] or [])
    relation = f"{check.table}.{check.column} -> {check.parent_table}.{check.parent_column}"
    scope = f"in the newest {sampled} rows sampled (limit {check.sample_limit})"
    if orphans:
        noun = "row has" if orphans == 1 else "rows have"
        return (
            False,
            "0 orphan rows",
            f"{orphans} orphan {'row' if orphans == 1 else 'rows'}",
            f"{relation}: {orphans} {noun} no parent {scope}; example keys: {', '.join(map(str, examples))}",
        )
    return True, "0 orphan rows", "0 orphan rows", f"{relation}: no orphan rows {scope}"


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _fresh_writes(
    conn: Connection, check: IntegrityCheck, recovery_point_time: datetime | None, rpo_minutes: float
) -> tuple[bool, str, str, str]:
    assert check.table is not None and check.column is not None
    if recovery_point_time is None:
        raise _CheckFailed(
            "newest write within the RPO", "not run", "the recovery point's creation time is unknown; cannot judge"
        )
    rows = conn.run(f"SELECT max({quote_identifier(check.column)}) FROM {quote_identifier(check.table)}")
    threshold = recovery_point_time - timedelta(minutes=rpo_minutes)
    expected = f">= {threshold.isoformat()}"
    where = f"{check.table}.{check.column}"
    rp = recovery_point_time.isoformat()
    raw = rows[0][0]
    if raw is None:
        return (
            False,
            expected,
            "NULL",
            f"{where} has no values (max is NULL); recovery point {rp}, RPO {rpo_minutes:g} min",
        )
    newest = _as_datetime(raw)
    if newest is None:
        raise _CheckFailed(
            expected, repr(raw), f"{where} is not a timestamp or date column (max is {type(raw).__name__} {raw!r})"
        )
    gap = recovery_point_time - newest
    gap_text = _gap(gap)
    detail = f"newest write {newest.isoformat()}, recovery point {rp}, gap {gap_text}, RPO {rpo_minutes:g} min"
    if newest < threshold:
        return False, expected, newest.isoformat(), f"{where} is stale: {detail}"
    return True, expected, newest.isoformat(), f"{where} is fresh: {detail}"


def _gap(gap: timedelta) -> str:
    seconds = int(gap.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{sign}{days}d {text}" if days else f"{sign}{text}"


def _as_text(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _checksum(
    conn: Connection, check: IntegrityCheck, reference: Mapping[str, str] | None
) -> tuple[bool, str, str, str]:
    assert check.query is not None
    # Re-validated here too (an IntegrityCheck may be built without parse_checks): with no semicolon the wrapped
    # query is one statement, inside this check's READ ONLY transaction. No bind parameters, so pg8000 sends it as
    # is (its ":name" placeholder syntax would otherwise clash with slices like arr[1:5]).
    try:
        query = read_only_query(f"check {check.name!r}", check.query)
    except ValueError as invalid:
        raise _CheckFailed(_expected_text(check, reference), "not run", str(invalid)) from None
    rows = conn.run(f"SELECT * FROM (\n{query}\n) AS integrity_check LIMIT 1")
    expected = _checksum_expected(check, reference)
    expected_text = expected if expected is not None else "(none configured)"
    if not rows or not rows[0]:
        return False, expected_text, "(no rows)", f"checksum query returned no rows; expected {expected_text!r}"
    found = _as_text(rows[0][0])
    if expected is None:
        return False, expected_text, found, f"no expected value configured (found {found!r})"
    if found != expected:
        return False, expected, found, f"checksum mismatch: expected {expected!r}, found {found!r}"
    return True, expected, found, f"checksum matches {found!r}"


# --------------------------------------------------------------------------------------------------- summary


def summarize(results: Sequence[CheckResult]) -> tuple[bool, str]:
    """``(all passed?, one-line message of at most 1000 characters)`` for ``PutRestoreValidationResult``.

    No results is not a pass: nothing was validated.
    """
    if not results:
        return False, "No integrity checks ran"
    failed = [result for result in results if not result.passed]
    if not failed:
        return True, _clip(f"All {len(results)} integrity checks passed")
    details = "; ".join(f"{result.name}: {' '.join(result.message.split())}" for result in failed)
    return False, _clip(f"{len(failed)} of {len(results)} checks failed: {details}")


def _clip(message: str) -> str:
    return message if len(message) <= STATUS_MESSAGE_LIMIT else message[: STATUS_MESSAGE_LIMIT - 1] + "…"
