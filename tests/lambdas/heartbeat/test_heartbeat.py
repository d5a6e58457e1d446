"""The heartbeat writer against a real PostgreSQL server (TLS required): the one-time prerequisite SQL,
the table created on first use, a row a minute, pruning, reading the newest beat as the read-only
validator, the freshness check on it, and the Lambda handler with a real IAM auth token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdas.common.postgres import DatabaseConnectionError, connect
from lambdas.contract.checks import IntegrityCheck
from lambdas.contract.layout import HEARTBEAT_COLUMN, HEARTBEAT_TABLE, HEARTBEAT_USER, VALIDATOR_USER
from lambdas.heartbeat import PREREQUISITE_SQL, HeartbeatError, newest_heartbeat, write_heartbeat
from lambdas.heartbeat import handler as heartbeat_handler
from lambdas.restore_testing.integrity import run_checks
from tests.support.postgres_server import PostgresServer

DATABASE = "ecommerce"
HEARTBEAT_PASSWORD = "heartbeat-password-for-tests-only"
VALIDATOR_PASSWORD = "validator-password-for-tests-only"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as pg:
        pg.run_sql(f"CREATE DATABASE {DATABASE}")
        pg.run_sql("CREATE ROLE rds_iam NOLOGIN")  # what RDS provides
        pg.run_sql("\n".join(PREREQUISITE_SQL), database=DATABASE)
        pg.run_sql(f"ALTER USER {HEARTBEAT_USER} LOGIN PASSWORD '{HEARTBEAT_PASSWORD}'")
        pg.create_user(VALIDATOR_USER, VALIDATOR_PASSWORD)
        pg.run_sql(f"GRANT pg_read_all_data TO {VALIDATOR_USER}")  # the validator's documented grant
        yield pg


def _connect(server: PostgresServer, user: str, password: str) -> Any:
    return connect(
        host=server.host,
        port=server.port,
        database=DATABASE,
        user=user,
        password=password,
        ssl_context=server.ssl_context(),
    )


@pytest.fixture
def fresh(server: PostgresServer) -> Iterator[None]:
    server.run_sql(f"DROP TABLE IF EXISTS {HEARTBEAT_TABLE}", database=DATABASE)
    yield


def test_the_first_write_creates_the_table_in_the_heartbeat_schema_and_returns_the_server_time(
    server: PostgresServer, fresh: None
) -> None:
    conn = _connect(server, HEARTBEAT_USER, HEARTBEAT_PASSWORD)
    try:
        before = datetime.now(UTC)
        first = write_heartbeat(conn, keep_days=35)
        second = write_heartbeat(conn, keep_days=35)
    finally:
        conn.close()
    assert before - timedelta(seconds=5) <= first <= second <= datetime.now(UTC) + timedelta(seconds=5)
    rows = server.run_sql(f"SELECT count(*), max({HEARTBEAT_COLUMN}) FROM {HEARTBEAT_TABLE}", database=DATABASE)
    assert rows[0][0] == 2 and rows[0][1].replace(tzinfo=UTC) == second
    owner = server.run_sql(
        "SELECT tableowner FROM pg_tables WHERE schemaname || '.' || tablename = :t".replace(
            ":t", f"'{HEARTBEAT_TABLE}'"
        ),
        database=DATABASE,
    )
    assert owner == [[HEARTBEAT_USER]]


def test_rows_older_than_the_retention_are_pruned_in_the_same_transaction(server: PostgresServer, fresh: None) -> None:
    conn = _connect(server, HEARTBEAT_USER, HEARTBEAT_PASSWORD)
    try:
        write_heartbeat(conn, keep_days=35)
        server.run_sql(
            f"INSERT INTO {HEARTBEAT_TABLE} VALUES (now() - interval '40 days'), (now() - interval '3 days')",
            database=DATABASE,
        )
        write_heartbeat(conn, keep_days=35)
        assert server.run_sql(f"SELECT count(*) FROM {HEARTBEAT_TABLE}", database=DATABASE) == [[3]]
        write_heartbeat(conn, keep_days=2)
    finally:
        conn.close()
    assert server.run_sql(
        f"SELECT count(*) FROM {HEARTBEAT_TABLE} WHERE {HEARTBEAT_COLUMN} < now() - interval '2 days'",
        database=DATABASE,
    ) == [[0]]


def test_the_read_only_validator_reads_the_newest_beat_and_the_freshness_check_judges_it(
    server: PostgresServer, fresh: None
) -> None:
    writer = _connect(server, HEARTBEAT_USER, HEARTBEAT_PASSWORD)
    try:
        beat = write_heartbeat(writer, keep_days=35)
    finally:
        writer.close()
    reader = _connect(server, VALIDATOR_USER, VALIDATOR_PASSWORD)
    try:
        assert newest_heartbeat(reader) == beat
        check = IntegrityCheck("heartbeat-fresh", "fresh_writes", table=HEARTBEAT_TABLE, column=HEARTBEAT_COLUMN)
        (ok,) = run_checks(reader, [check], recovery_point_time=beat + timedelta(minutes=10), rpo_minutes=15)
        (late,) = run_checks(reader, [check], recovery_point_time=beat + timedelta(minutes=30), rpo_minutes=15)
    finally:
        reader.close()
    assert ok.passed, ok.message
    assert not late.passed and "heartbeat" in late.name


def test_the_validator_cannot_write_heartbeats_and_the_error_names_the_table(
    server: PostgresServer, fresh: None
) -> None:
    writer = _connect(server, HEARTBEAT_USER, HEARTBEAT_PASSWORD)
    write_heartbeat(writer, keep_days=35)
    writer.close()
    reader = _connect(server, VALIDATOR_USER, VALIDATOR_PASSWORD)
    try:
        with pytest.raises(HeartbeatError, match=r"could not write the heartbeat into backup_heartbeat.beats: .*"):
            write_heartbeat(reader, keep_days=35)
    finally:
        reader.close()
    assert server.run_sql(f"SELECT count(*) FROM {HEARTBEAT_TABLE}", database=DATABASE) == [[1]]  # nothing half-done


def test_an_empty_or_missing_table_reads_as_no_heartbeat_or_a_clear_error(server: PostgresServer, fresh: None) -> None:
    reader = _connect(server, VALIDATOR_USER, VALIDATOR_PASSWORD)
    try:
        with pytest.raises(HeartbeatError, match=r"could not read backup_heartbeat\.beats"):
            newest_heartbeat(reader)
    finally:
        reader.close()
    server.run_sql(f"CREATE TABLE {HEARTBEAT_TABLE} ({HEARTBEAT_COLUMN} timestamptz PRIMARY KEY)", database=DATABASE)
    reader = _connect(server, VALIDATOR_USER, VALIDATOR_PASSWORD)
    try:
        assert newest_heartbeat(reader) is None
    finally:
        reader.close()


class _RdsAcceptingItsTokens:
    """botocore's real RDS client signs the token; the test server then accepts exactly that token
    as the heartbeat user's password (what RDS does with IAM database authentication)."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server
        self.client = boto3.client(
            "rds", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret"
        )
        self.tokens: list[dict[str, Any]] = []

    def generate_db_auth_token(self, **kwargs: Any) -> str:
        token = str(self.client.generate_db_auth_token(**kwargs))
        self.tokens.append(kwargs)
        literal = token.replace("'", "''")
        self.server.run_sql(f"ALTER USER {HEARTBEAT_USER} PASSWORD '{literal}'")
        return token


def test_the_handler_signs_a_token_for_the_heartbeat_user_and_writes_over_verified_tls(
    server: PostgresServer, fresh: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rds = _RdsAcceptingItsTokens(server)
    monkeypatch.setattr(heartbeat_handler, "aws_client", lambda service: rds)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(server.ca_pem)
    for name, value in {
        "DB_HOST": server.host,
        "DB_PORT": str(server.port),
        "DATABASE_NAME": DATABASE,
        "RDS_CA_BUNDLE": str(ca),
    }.items():
        monkeypatch.setenv(name, value)
    try:
        result = heartbeat_handler.handler({}, None)
    finally:
        server.run_sql(f"ALTER USER {HEARTBEAT_USER} PASSWORD '{HEARTBEAT_PASSWORD}'")
    assert rds.tokens == [{"DBHostname": server.host, "Port": server.port, "DBUsername": HEARTBEAT_USER}]
    beat = datetime.fromisoformat(result["beatAt"])
    assert abs(beat - datetime.now(UTC)) < timedelta(seconds=30)


def test_the_handler_fails_loudly_and_never_prints_the_token(
    server: PostgresServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class WrongToken:
        def generate_db_auth_token(self, **kwargs: Any) -> str:
            return "not-the-password-token-1234567890"

    monkeypatch.setattr(heartbeat_handler, "aws_client", lambda service: WrongToken())
    monkeypatch.setenv("DB_HOST", server.host)
    monkeypatch.setenv("DB_PORT", str(server.port))
    monkeypatch.setenv("DATABASE_NAME", DATABASE)
    with pytest.raises(DatabaseConnectionError) as err:
        heartbeat_handler.handler({}, None)
    assert "backup_heartbeat" in str(err.value) and "not-the-password-token" not in str(err.value)
    assert "not-the-password-token" not in capsys.readouterr().err
