"""Writing and reading the heartbeat table (``backup_heartbeat.beats``: one ``beat_at`` per minute).

The writer creates its table on first use in its own schema (the one-time database prerequisite
creates the schema for the heartbeat user), inserts the database server's time and prunes rows older
than ``keep_days``, all in one transaction. Readers (the validator's freshness check, the DR exposure
monitor, the failover's assessment) take ``max(beat_at)``.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Final

from lambdas.common.postgres import Connection, error_message
from lambdas.contract.layout import HEARTBEAT_COLUMN, HEARTBEAT_SCHEMA, HEARTBEAT_TABLE, HEARTBEAT_USER

# Once, as the master user, in the source database (replicas and restored copies inherit it).
PREREQUISITE_SQL: Final = (
    f"CREATE USER {HEARTBEAT_USER};",
    f"GRANT rds_iam TO {HEARTBEAT_USER};",
    f"CREATE SCHEMA {HEARTBEAT_SCHEMA} AUTHORIZATION {HEARTBEAT_USER};",
)

_CREATE: Final = (
    f"CREATE TABLE IF NOT EXISTS {HEARTBEAT_TABLE} ({HEARTBEAT_COLUMN} timestamptz PRIMARY KEY DEFAULT now())"
)


class HeartbeatError(RuntimeError):
    """The heartbeat could not be written or read (the message says why; it never holds credentials)."""


def _utc(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise HeartbeatError(f"{HEARTBEAT_TABLE}.{HEARTBEAT_COLUMN} is not a timestamp: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def write_heartbeat(conn: Connection, *, keep_days: int) -> datetime:
    """Insert the server's ``now()`` and prune rows older than ``keep_days``; returns the time written."""
    if keep_days < 1:
        raise ValueError(f"keep_days must be at least 1, got {keep_days}")
    try:
        conn.run("BEGIN")
        conn.run(_CREATE)
        rows = conn.run(
            f"INSERT INTO {HEARTBEAT_TABLE} ({HEARTBEAT_COLUMN}) VALUES (now()) "
            f"ON CONFLICT ({HEARTBEAT_COLUMN}) DO UPDATE SET {HEARTBEAT_COLUMN} = EXCLUDED.{HEARTBEAT_COLUMN} "
            f"RETURNING {HEARTBEAT_COLUMN}"
        )
        conn.run(
            f"DELETE FROM {HEARTBEAT_TABLE} WHERE {HEARTBEAT_COLUMN} < now() - make_interval(days => :days)",
            days=keep_days,
        )
        conn.run("COMMIT")
    except Exception as error:
        with contextlib.suppress(Exception):
            conn.run("ROLLBACK")
        raise HeartbeatError(f"could not write the heartbeat into {HEARTBEAT_TABLE}: {error_message(error)}") from None
    return _utc(rows[0][0])


def newest_heartbeat(conn: Connection) -> datetime | None:
    """The newest heartbeat in this copy of the database (``None`` when the table is empty)."""
    try:
        rows = conn.run(f"SELECT max({HEARTBEAT_COLUMN}) FROM {HEARTBEAT_TABLE}")
    except Exception as error:
        raise HeartbeatError(f"could not read {HEARTBEAT_TABLE}: {error_message(error)}") from None
    value = rows[0][0] if rows else None
    return None if value is None else _utc(value)
