"""The integrity-check schema shared by the policy (synth) and the validator (run): one parser, one set of
rules, one wire format."""

from __future__ import annotations

from typing import Any

import pytest

from backup_constructs.policy import BackupPolicy, PolicyError
from lambdas.contract.checks import DEFAULT_ECOMMERCE_CHECKS, IntegrityCheck, parse_checks


def test_the_defaults_round_trip_through_the_wire_format() -> None:
    wire = [c.to_json() for c in DEFAULT_ECOMMERCE_CHECKS]
    assert parse_checks(wire) == DEFAULT_ECOMMERCE_CHECKS
    [fk] = parse_checks([{"name": "fk", "kind": "no_orphans", "table": "s.t", "column": "c", "parentTable": "p"}])
    assert (fk.parent_column, fk.sample_limit, fk.table) == ("id", 10_000, "s.t")


def test_what_the_policy_synthesizes_the_validator_parses_and_the_same_limits_apply() -> None:
    policy = BackupPolicy.from_context(
        {"restoreTesting": {"checks": [{"name": "big-sample", "kind": "no_orphans", "table": "orders",
                                        "column": "customer_id", "parentTable": "customers",
                                        "sampleLimit": 5_000_000}]}}
    )  # fmt: skip
    assert parse_checks([c.to_json() for c in policy.restore_testing.checks]) == policy.restore_testing.checks
    with pytest.raises(PolicyError, match="sample_limit: got 20000000"):
        BackupPolicy.from_context(
            {"restoreTesting": {"checks": [{"name": "x", "kind": "no_orphans", "table": "orders", "column": "c",
                                            "parentTable": "p", "sampleLimit": 20_000_000}]}}
        )  # fmt: skip


def test_a_data_modifying_query_is_refused_at_synth_with_the_field_path() -> None:
    with pytest.raises(PolicyError) as refused:
        BackupPolicy.from_context(
            {"restoreTesting": {"checks": [{
                "name": "sneaky", "kind": "checksum",
                "query": "WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d"}]}}
        )  # fmt: skip
    message = str(refused.value)
    assert "restore_testing.checks[sneaky].query" in message and "DELETE is not read-only" in message


def _fk(**extra: Any) -> dict[str, Any]:
    return {
        "name": "fk",
        "kind": "no_orphans",
        "table": "orders",
        "column": "customer_id",
        "parentTable": "customers",
    } | extra


def _sum(query: Any) -> dict[str, Any]:
    return {"name": "sum", "kind": "checksum", "query": query, "expected": "1"}


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"name": "x", "kind": "row_count", "table": "orders"}, ["checks[x].kind", "'row_count'", "table_exists"]),
        (
            {"name": "x", "kind": "table_exists", "table": "orders", "minRows": 1},
            ["checks[x].min_rows", "got 1", "not a field"],
        ),
        ({"name": "x", "kind": "min_rows", "table": "orders"}, ["checks[x].min_rows", "got None", "needs it"]),
        ({"name": "x", "kind": "table_exists", "table": "Orders"}, ["checks[x].table", "'Orders'", "lower-case"]),
        (
            {"name": "x", "kind": "table_exists", "table": "orders; DROP TABLE orders"},
            ["checks[x].table", "'orders; DROP TABLE orders'", "schema.table"],
        ),
        ({"name": "x", "kind": "table_exists", "table": "a.b.c"}, ["checks[x].table", "'a.b.c'"]),
        ({"name": "x", "kind": "table_exists", "table": "t" * 64}, ["checks[x].table", "at most 63"]),
        (_fk(column="o.customer_id"), ["checks[fk].column", "'o.customer_id'", "column name"]),
        (_fk(parentColumn='id"'), ["checks[fk].parent_column", "'id\"'"]),
        (_fk(sampleLimit=0), ["checks[fk].sample_limit", "got 0", "from 1 to 10000000"]),
        (_fk(sampleLimit=True), ["checks[fk].sample_limit", "True"]),
        ({"name": "m", "kind": "min_rows", "table": "t", "minRows": -1}, ["checks[m].min_rows", "-1", "from 0"]),
        ({"name": "m", "kind": "min_rows", "table": "t", "minRows": "5"}, ["checks[m].min_rows", "'5'"]),
        (_sum("SELECT 1; SELECT 2"), ["checks[sum].query", "'SELECT 1; SELECT 2'", "more than one statement"]),
        (_sum("DELETE FROM orders"), ["checks[sum].query", "does not start with SELECT or WITH"]),
        (_sum("WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d"), ["DELETE is not read-only"]),
        (_sum("SELECT * INTO copy_of_orders FROM orders"), ["INTO is not read-only"]),
        (_sum("SELECT id FROM orders FOR UPDATE"), ["is not read-only"]),
        (_sum("SELECT nextval('order_numbers')"), ["NEXTVAL is not read-only"]),
        (_sum("SELECT 1 -- sneaky"), ["comments are not allowed"]),
        (_sum(""), ["checks[sum].query", "got ''"]),
        ({"name": "sum", "kind": "checksum", "query": "SELECT 1", "expected": 1}, ["checks[sum].expected", "got 1"]),
        ({"name": "sum", "kind": "checksum", "query": "SELECT 1", "extra": 1}, ["checks[sum].extra", "unknown key"]),
        ({"kind": "table_exists", "table": "orders"}, ["checks[0]", "needs a name and a kind"]),
        ({"name": "bad name!", "kind": "table_exists", "table": "t"}, ["'bad name!'", ".name"]),
        ({"name": "n" * 65, "kind": "table_exists", "table": "t"}, [".name", "1-64"]),
        ("orders", ["checks[0]", "expected an object", "'orders'"]),
    ],
)
def test_a_bad_check_is_refused_naming_the_check_the_field_and_the_value(spec: Any, fragments: list[str]) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_checks([spec])
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)


def test_duplicate_names_an_empty_list_and_a_non_list_are_refused() -> None:
    spec = {"name": "dup", "kind": "table_exists", "table": "orders"}
    with pytest.raises(PolicyError, match="check names must be unique"):
        parse_checks([spec, spec])
    with pytest.raises(PolicyError, match="at least one"):
        parse_checks([])
    with pytest.raises(PolicyError, match="expected a list"):
        parse_checks({"name": "x"})


def test_a_check_built_in_python_is_validated_too() -> None:
    with pytest.raises(PolicyError, match=r"checks\[q\]\.query"):
        IntegrityCheck("q", "checksum", query="SELECT 1; DROP TABLE orders")
