"""lambdas.restore_testing.integrity against a real PostgreSQL server (TLS required, read-only validator role).

Each scenario is its own database seeded with a small e-commerce schema: ``good`` (a healthy copy),
``missing_table`` (no order_items), ``orphans`` (orders/items whose parents are gone) and ``stale`` (the newest
order is days older than the recovery point).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pg8000.exceptions
import pg8000.native
import pytest

from lambdas.restore_testing.integrity import (
    DEFAULT_ECOMMERCE_CHECKS,
    CheckResult,
    Connection,
    Credentials,
    IntegrityCheck,
    ValidatorConnectionError,
    connect,
    connect_first,
    parse_checks,
    run_checks,
    summarize,
)
from tests.support.postgres_server import PostgresServer

RECOVERY_POINT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RPO_MINUTES = 60
VALIDATOR = "validator"
VALIDATOR_PASSWORD = "correct-horse-battery-staple-42"
SECRET_NOTE = "SECRET-NOTE-do-not-log"

SCHEMA = """
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint,  -- FK-like, deliberately without a constraint so orphans can exist
    note text,
    created_at timestamptz NOT NULL
);
CREATE TABLE order_items (order_id bigint, product_id bigint, quantity int NOT NULL);  -- no PK: sampled by ctid
CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamptz);
INSERT INTO customers VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com');
INSERT INTO products VALUES (1, 'kettle'), (2, 'teapot');
CREATE SCHEMA backup_heartbeat;
CREATE TABLE backup_heartbeat.beats (beat_at timestamptz PRIMARY KEY);
"""


def _beats(*ages: timedelta) -> str:
    """Heartbeat rows this long before the recovery point (the writer puts one a minute)."""
    return "INSERT INTO backup_heartbeat.beats VALUES " + ", ".join(f"({_ts(age)})" for age in ages) + ";"


def _ts(delta: timedelta) -> str:
    return f"'{(RECOVERY_POINT - delta).isoformat()}'"


FRESH_BEATS = _beats(timedelta(minutes=3), timedelta(minutes=2), timedelta(minutes=1))


def _orders(*rows: tuple[int, int | None, timedelta]) -> str:
    values = ", ".join(
        f"({oid}, {'NULL' if cid is None else cid}, '{SECRET_NOTE}', {_ts(age)})" for oid, cid, age in rows
    )
    return f"INSERT INTO orders VALUES {values};"


GOOD_ORDERS = _orders(
    (1, 1, timedelta(days=2)), (2, 2, timedelta(days=1)), (3, 3, timedelta(hours=3)), (4, 1, timedelta(minutes=10))
)
GOOD_ITEMS = "INSERT INTO order_items VALUES (1, 1, 1), (2, 2, 1), (3, 1, 2), (4, 2, 1), (4, 1, 3);"

SCENARIOS: dict[str, str] = {
    "good": SCHEMA + FRESH_BEATS + GOOD_ORDERS + GOOD_ITEMS,
    "missing_table": SCHEMA + FRESH_BEATS + GOOD_ORDERS + "DROP TABLE order_items;",
    "orphans": SCHEMA
    + FRESH_BEATS
    + _orders(
        (1, 900, timedelta(days=3)),
        (2, 901, timedelta(days=2)),
        (3, 900, timedelta(days=2)),
        (4, None, timedelta(days=1)),  # NULL is not an orphan
        (5, 1, timedelta(minutes=20)),
        (6, 2, timedelta(minutes=5)),
    )
    + "INSERT INTO order_items VALUES (7777, 1, 1), (5, 1, 1), (NULL, 2, 1), (6, 2, 1);",
    "stale": SCHEMA
    + _beats(timedelta(days=3))  # the heartbeat stopped with the data
    + _orders((1, 1, timedelta(days=5)), (2, 2, timedelta(days=3)))
    + "INSERT INTO order_items VALUES (1, 1, 1), (2, 2, 1);",
}


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    with PostgresServer() as pg:
        pg.create_user(VALIDATOR, VALIDATOR_PASSWORD)
        for database, seed in SCENARIOS.items():
            pg.run_sql(f"CREATE DATABASE {database}")
            pg.run_sql(
                seed
                + f"GRANT USAGE ON SCHEMA public TO {VALIDATOR};"
                + f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {VALIDATOR};"
                + f"GRANT USAGE ON SCHEMA backup_heartbeat TO {VALIDATOR};"
                + f"GRANT SELECT ON ALL TABLES IN SCHEMA backup_heartbeat TO {VALIDATOR};",
                database=database,
            )
        yield pg


@pytest.fixture
def db(server: PostgresServer) -> Iterator[Callable[[str], Connection]]:
    """Open validator connections (TLS, verified CA) to scenario databases; closed after the test."""
    opened: list[Connection] = []

    def open_db(database: str) -> Connection:
        conn = connect(
            host=server.host,
            port=server.port,
            database=database,
            user=VALIDATOR,
            password=VALIDATOR_PASSWORD,
            ssl_context=server.ssl_context(),
        )
        opened.append(conn)
        return conn

    yield open_db
    for conn in opened:
        conn.close()


def _run(
    conn: Connection, specs: Sequence[Mapping[str, Any] | IntegrityCheck], **kwargs: Any
) -> dict[str, CheckResult]:
    kwargs.setdefault("recovery_point_time", RECOVERY_POINT)
    kwargs.setdefault("rpo_minutes", RPO_MINUTES)
    checks = parse_checks([s.to_json() if isinstance(s, IntegrityCheck) else s for s in specs])
    results = run_checks(conn, checks, **kwargs)
    assert [r.name for r in results] == [c.name for c in checks]
    return {r.name: r for r in results}


def unchecked(name: str, query: str, expected: str) -> IntegrityCheck:
    """A checksum check built without the schema's validation: what the READ ONLY transaction and
    run_checks' own screen must still stop."""
    check = object.__new__(IntegrityCheck)
    for field_name, value in {
        "name": name, "kind": "checksum", "table": None, "min_rows": None, "column": None, "parent_table": None,
        "parent_column": "id", "sample_limit": 10_000, "query": query, "expected": expected,
    }.items():  # fmt: skip
        object.__setattr__(check, field_name, value)
    return check


# ------------------------------------------------------------------------------------------------ scenarios


def test_good_copy_passes_all_default_checks(db: Callable[[str], Connection]) -> None:
    results = _run(db("good"), DEFAULT_ECOMMERCE_CHECKS)
    assert all(r.passed for r in results.values()), [r for r in results.values() if not r.passed]
    assert results["orders-not-empty"].message == "orders has at least 1 row"
    assert results["orders-have-customers"].found == "0 orphan rows"
    assert "newest 4 rows sampled" in results["orders-have-customers"].message
    assert "gap 00:10:00" in results["orders-fresh"].message
    assert all(r.duration_ms >= 0 for r in results.values())
    assert summarize(list(results.values())) == (True, f"All {len(DEFAULT_ECOMMERCE_CHECKS)} integrity checks passed")


def test_session_is_read_only(db: Callable[[str], Connection]) -> None:
    conn = db("good")
    run_checks(conn, [], recovery_point_time=RECOVERY_POINT, rpo_minutes=RPO_MINUTES, statement_timeout_ms=1234)
    assert conn.run("SHOW default_transaction_read_only") == [["on"]]
    assert conn.run("SHOW statement_timeout") == [["1234ms"]]


def test_read_only_transaction_stops_writes_even_for_a_superuser(server: PostgresServer) -> None:
    server.run_sql("CREATE SEQUENCE IF NOT EXISTS order_numbers", database="good")
    server.run_sql(
        "CREATE OR REPLACE FUNCTION next_order_number() RETURNS bigint LANGUAGE sql"
        " AS $$ SELECT nextval('order_numbers') $$",
        database="good",
    )
    checks = [
        # Passes every screen (a function call) but writes a sequence: the READ ONLY transaction stops it.
        IntegrityCheck("nextval", "checksum", query="SELECT next_order_number()", expected="1"),
        # Built without the schema: run_checks screens the query again.
        unchecked("sneaky", "SELECT 1) AS x; DELETE FROM orders; SELECT (1", "1"),
        IntegrityCheck("slices", "checksum", query="SELECT (ARRAY[3, 4, 5])[2:3]::text", expected="{4,5}"),
    ]
    conn = server.admin_connection("good")
    try:
        results = run_checks(conn, checks, recovery_point_time=RECOVERY_POINT, rpo_minutes=RPO_MINUTES)
    finally:
        conn.close()
    assert "cannot execute nextval() in a read-only transaction" in results[0].message
    assert (results[1].passed, results[1].found) == (False, "not run")
    assert "more than one statement" in results[1].message
    assert results[2].passed, results[2]
    assert server.run_sql("SELECT count(*) FROM orders", database="good") == [[4]]


def test_missing_table_fails_table_exists_and_other_checks_still_run(db: Callable[[str], Connection]) -> None:
    results = _run(db("missing_table"), DEFAULT_ECOMMERCE_CHECKS)
    missing = results["order-items-table"]
    assert (missing.passed, missing.expected, missing.found) == (False, "table exists", "missing")
    assert missing.message == "table order_items does not exist (or is not visible to this user)"
    orphan_check = results["items-have-orders"]
    assert not orphan_check.passed and orphan_check.found == "error"
    assert 'relation "order_items" does not exist (SQLSTATE 42P01)' in orphan_check.message
    failed = sorted(name for name, r in results.items() if not r.passed)
    assert failed == ["items-have-orders", "order-items-table"]
    ok, message = summarize(list(results.values()))
    assert not ok
    assert message.startswith("2 of 10 checks failed: order-items-table: table order_items does not exist")


def test_orphans_are_counted_with_example_keys_only(db: Callable[[str], Connection]) -> None:
    results = _run(db("orphans"), DEFAULT_ECOMMERCE_CHECKS)
    orders = results["orders-have-customers"]
    assert not orders.passed and orders.found == "3 orphan rows"
    assert orders.message == (
        "orders.customer_id -> customers.id: 3 rows have no parent in the newest 6 rows sampled (limit 10000); "
        "example keys: 900, 901"
    )
    items = results["items-have-orders"]
    assert not items.passed and items.found == "1 orphan row"
    assert "order_items.order_id -> orders.id: 1 row has no parent" in items.message
    assert items.message.endswith("example keys: 7777")
    for result in results.values():
        assert SECRET_NOTE not in result.message and "example.com" not in result.message


def test_orphan_sample_is_bounded_to_the_newest_rows(db: Callable[[str], Connection]) -> None:
    spec = {"kind": "no_orphans", "table": "orders", "column": "customer_id", "parentTable": "customers"}
    results = _run(
        db("orphans"),
        [{"name": "newest_two", "sampleLimit": 2, **spec}, {"name": "newest_five", "sampleLimit": 5, **spec}],
    )
    assert results["newest_two"].passed  # orders 5 and 6 (by primary key) have customers
    assert "newest 2 rows sampled (limit 2)" in results["newest_two"].message
    # orders 2..6: customers 901, 900, NULL (not an orphan), 1, 2
    assert results["newest_five"].found == "2 orphan rows"
    assert results["newest_five"].message.endswith("in the newest 5 rows sampled (limit 5); example keys: 900, 901")


def test_stale_data_fails_fresh_writes_with_both_times(db: Callable[[str], Connection]) -> None:
    results = _run(db("stale"), DEFAULT_ECOMMERCE_CHECKS)
    fresh = results["orders-fresh"]
    newest = RECOVERY_POINT - timedelta(days=3)
    assert not fresh.passed
    assert fresh.found == newest.isoformat()
    assert fresh.expected == ">= " + (RECOVERY_POINT - timedelta(minutes=RPO_MINUTES)).isoformat()
    assert fresh.message == (
        f"orders.created_at is stale: newest write {newest.isoformat()}, recovery point {RECOVERY_POINT.isoformat()}, "
        f"gap 3d 00:00:00, RPO {RPO_MINUTES} min"
    )
    assert [name for name, r in results.items() if not r.passed] == ["orders-fresh", "heartbeat-fresh"]


def test_fresh_writes_reports_an_empty_column(db: Callable[[str], Connection]) -> None:
    results = _run(
        db("good"), [{"name": "events_fresh", "kind": "fresh_writes", "table": "events", "column": "created_at"}]
    )
    assert not results["events_fresh"].passed
    assert results["events_fresh"].found == "NULL"
    assert "max is NULL" in results["events_fresh"].message


def test_checksum_mismatch_and_match(db: Callable[[str], Connection]) -> None:
    results = _run(
        db("good"),
        [
            {"name": "orders_count", "kind": "checksum", "query": "SELECT count(*) FROM orders", "expected": "5"},
            {
                "name": "orders_md5",
                "kind": "checksum",
                "query": "SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM public.orders;",
                "expected": "f0a1f1b7f4e0e1c5c1b3c0d9bd2d3ad6",
            },
            {
                "name": "products",
                "kind": "checksum",
                "query": "WITH p AS (SELECT name FROM products) SELECT string_agg(name, '|' ORDER BY name) FROM p",
                "expected": "kettle|teapot",
            },
        ],
    )
    count = results["orders_count"]
    assert (count.passed, count.expected, count.found) == (False, "5", "4")
    assert count.message == "checksum mismatch: expected '5', found '4'"
    assert not results["orders_md5"].passed and "found '" in results["orders_md5"].message
    assert results["products"].passed


def test_checksum_expected_from_reference(db: Callable[[str], Connection]) -> None:
    specs: list[dict[str, Any]] = [
        {"name": "orders_count", "kind": "checksum", "query": "SELECT count(*) FROM orders"},
        {"name": "customers_count", "kind": "checksum", "query": "SELECT count(*) FROM customers"},
        {"name": "no_reference", "kind": "checksum", "query": "SELECT max(id) FROM orders"},
    ]
    results = _run(db("good"), specs, reference={"orders_count": "4", "customers_count": "99"})
    assert results["orders_count"].passed and results["orders_count"].expected == "4"
    assert results["customers_count"].message == "checksum mismatch: expected '99', found '3'"
    assert not results["no_reference"].passed
    assert results["no_reference"].message == "no expected value configured (found '4')"


def test_min_rows_floor(db: Callable[[str], Connection]) -> None:
    results = _run(
        db("good"),
        [
            {"name": "orders_floor", "kind": "min_rows", "table": "orders", "minRows": 1000},
            {"name": "orders_exact", "kind": "min_rows", "table": "public.orders", "minRows": 4},
            {"name": "events_floor", "kind": "min_rows", "table": "events", "minRows": 1},
        ],
    )
    assert results["orders_floor"].message == "orders has 4 rows, expected at least 1000"
    assert (results["orders_floor"].expected, results["orders_floor"].found) == (">= 1000 rows", "4 rows")
    assert results["orders_exact"].passed
    assert results["events_floor"].message == "events has 0 rows, expected at least 1"


def test_sql_error_is_a_failed_result_and_later_checks_run(db: Callable[[str], Connection]) -> None:
    results = _run(
        db("good"),
        [
            {"name": "broken", "kind": "checksum", "query": "SELECT count(*) FROM no_such_table", "expected": "1"},
            {"name": "bad_cast", "kind": "checksum", "query": "SELECT 'x'::int", "expected": "1"},
            {"name": "orders-table", "kind": "table_exists", "table": "public.orders"},
        ],
    )
    assert not results["broken"].passed and results["broken"].found == "error"
    assert 'relation "no_such_table" does not exist' in results["broken"].message
    assert "invalid input syntax for type integer" in results["bad_cast"].message
    assert results["orders-table"].passed


def test_statement_timeout_fails_instead_of_hanging(db: Callable[[str], Connection]) -> None:
    started = time.monotonic()
    results = _run(
        db("good"),
        [
            {"name": "slow", "kind": "checksum", "query": "SELECT pg_sleep(10)::text", "expected": ""},
            {"name": "orders-table", "kind": "table_exists", "table": "orders"},
        ],
        statement_timeout_ms=300,
    )
    assert time.monotonic() - started < 5
    assert not results["slow"].passed
    assert "canceling statement due to statement timeout" in results["slow"].message
    assert results["orders-table"].passed


# ------------------------------------------------------------------------------------------------ connecting


def test_connect_first_falls_back_to_the_next_credentials(server: PostgresServer) -> None:
    conn, label = connect_first(
        [
            Credentials("iam", VALIDATOR, "not-the-token"),
            Credentials("secret:AWSCURRENT", VALIDATOR, VALIDATOR_PASSWORD),
            Credentials("secret:AWSPREVIOUS", VALIDATOR, "old"),
        ],
        host=server.host,
        port=server.port,
        database="good",
        ssl_context=server.ssl_context(),
    )
    try:
        assert label == "secret:AWSCURRENT"
        assert conn.run("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [[VALIDATOR, True]]
    finally:
        conn.close()


def test_connect_first_reports_every_label_and_never_a_password(server: PostgresServer) -> None:
    candidates = [
        Credentials("iam", VALIDATOR, "wrong-token-123"),
        Credentials("secret:AWSCURRENT", VALIDATOR, "pw-456"),
    ]
    with pytest.raises(ValidatorConnectionError) as caught:
        connect_first(candidates, host=server.host, port=server.port, database="good", ssl_context=server.ssl_context())
    message = str(caught.value)
    assert "iam:" in message and "secret:AWSCURRENT:" in message
    assert f"{server.host}:{server.port}" in message and repr(VALIDATOR) in message
    assert 'password authentication failed for user "validator"' in message
    assert "wrong-token-123" not in message and "pw-456" not in message
    assert [label for label, _ in caught.value.attempts] == ["iam", "secret:AWSCURRENT"]
    assert "pw-456" not in repr(candidates[1])


def test_untrusted_certificate_stops_connect_first_early(server: PostgresServer) -> None:
    with pytest.raises(ValidatorConnectionError) as caught:
        connect_first(
            [Credentials("iam", VALIDATOR, "x"), Credentials("secret:AWSCURRENT", VALIDATOR, VALIDATOR_PASSWORD)],
            host=server.host,
            port=server.port,
            database="good",
            ssl_context=ssl.create_default_context(),  # system CAs do not know the test CA
            timeout_s=5,
        )
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message
    assert message.endswith("not tried: secret:AWSCURRENT")


def test_plain_connection_is_refused_by_the_server(server: PostgresServer) -> None:
    with pytest.raises(pg8000.exceptions.DatabaseError) as caught:
        pg8000.native.Connection(
            user=VALIDATOR,
            password=VALIDATOR_PASSWORD,
            host=server.host,
            port=server.port,
            database="good",
            ssl_context=False,  # no TLS at all
        )
    assert "no encryption" in str(caught.value)


def test_connect_requires_an_ssl_context(server: PostgresServer) -> None:
    with pytest.raises(TypeError, match=r"ssl_context must be an ssl\.SSLContext"):
        connect(
            host=server.host,
            port=server.port,
            database="good",
            user=VALIDATOR,
            password=VALIDATOR_PASSWORD,
            ssl_context=None,  # type: ignore[arg-type]
        )


# ------------------------------------------------------------------------------------------------ summary


def test_summarize_fits_the_status_message_limit() -> None:
    failures = [CheckResult(f"check_{i}", "checksum", False, "a", "b", "x" * 200, 1) for i in range(20)]
    ok, message = summarize([*failures, CheckResult("fine", "table_exists", True, "", "", "", 0)])
    assert not ok and len(message) <= 1000
    assert message.startswith("20 of 21 checks failed: check_0: xxx")
    assert summarize([]) == (False, "No integrity checks ran")
    assert summarize([CheckResult("a", "min_rows", False, "", "", "line one\n  line two", 0)]) == (
        False,
        "1 of 1 checks failed: a: line one line two",
    )
