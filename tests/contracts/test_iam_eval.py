"""The permission contract's IAM evaluator: each rule it models, allowed and denied."""

from __future__ import annotations

from typing import Any

import pytest

from tests.contracts.iam_eval import Request, UnsupportedPolicy, conditions_hold, evaluate

ROLE = "arn:aws:iam::111111111111:role/ecommerce-backup-production-config-export"
OBJECT = "arn:aws:s3:::bucket/ecommerce-production/ns/20261201T000000Z/manifest.json"


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


def request(action: str = "s3:PutObject", resource: str = OBJECT, **context: Any) -> Request:
    return Request(ROLE, action, resource, context)


def test_identity_allow_with_wildcards_matches_and_actions_are_case_insensitive() -> None:
    policy = allow("S3:Put*", "arn:aws:s3:::bucket/ecommerce-production/*")
    assert evaluate(request(), [policy]).allowed
    assert not evaluate(request(resource="arn:aws:s3:::bucket/other/x"), [policy]).allowed
    assert not evaluate(request(action="s3:GetObject"), [policy]).allowed


def test_question_mark_matches_one_character_only() -> None:
    policy = allow("s3:GetObject", "arn:aws:s3:::bucket/a?c")
    assert evaluate(request("s3:GetObject", "arn:aws:s3:::bucket/abc"), [policy]).allowed
    assert not evaluate(request("s3:GetObject", "arn:aws:s3:::bucket/abbc"), [policy]).allowed


def test_an_explicit_deny_anywhere_wins() -> None:
    bucket_policy = {
        "Statement": [{"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*", "Sid": "No"}]
    }
    decision = evaluate(request(), [allow("s3:PutObject", "*")], bucket_policy)
    assert not decision.allowed and "No" in decision.reason


def test_not_action_and_not_resource() -> None:
    policy = {"Statement": [{"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": "arn:aws:s3:::secret/*"}]}
    assert evaluate(request(), [policy]).allowed
    assert not evaluate(request(action="s3:DeleteObject"), [policy]).allowed
    assert not evaluate(request(resource="arn:aws:s3:::secret/x"), [policy]).allowed


def test_a_resource_policy_naming_the_role_allows_without_an_identity_policy() -> None:
    bucket_policy = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:PutObject", "Resource": OBJECT}]
    }
    assert evaluate(request(), [], bucket_policy).allowed


def test_a_resource_policy_naming_the_account_only_defers_to_iam() -> None:
    bucket_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "s3:*",
                "Resource": "*",
            }
        ]
    }
    assert not evaluate(request(), [], bucket_policy).allowed
    assert evaluate(request(), [allow("s3:PutObject", OBJECT)], bucket_policy).allowed


def test_a_kms_key_policy_is_required_and_account_principals_defer_to_iam() -> None:
    key = "arn:aws:kms:us-east-1:111111111111:key/0000"
    root = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    by_name = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:Encrypt", "Resource": "*"}]}
    encrypt = request("kms:Encrypt", key)
    assert not evaluate(encrypt, [allow("kms:Encrypt", key)], None, key_policy=True).allowed
    assert not evaluate(encrypt, [], root, key_policy=True).allowed
    assert evaluate(encrypt, [allow("kms:Encrypt", key)], root, key_policy=True).allowed
    assert evaluate(encrypt, [], by_name, key_policy=True).allowed
    assert not evaluate(encrypt, [allow("kms:Encrypt", key)], {"Statement": []}, key_policy=True).allowed


def test_service_principals_never_match_a_role() -> None:
    policy = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "*", "Resource": "*"}
        ]
    }
    assert not evaluate(request(), [], policy).allowed


@pytest.mark.parametrize(
    ("conditions", "context", "holds"),
    [
        ({"StringEquals": {"k": "a"}}, {"k": "a"}, True),
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),
        ({"StringEquals": {"k": "a"}}, {}, False),
        ({"StringNotEquals": {"k": "a"}}, {"k": "b"}, True),
        ({"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),
        # A negated operator holds when the key is missing (AWS's documented rule).
        ({"StringNotEquals": {"k": "a"}}, {}, True),
        # ...IfExists holds when the key is missing: as a Deny, it refuses requests without the key.
        ({"StringNotEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringNotEqualsIfExists": {"k": "a"}}, {"k": "a"}, False),
        ({"StringLike": {"k": "ecommerce-*/x"}}, {"k": "ecommerce-prod/x"}, True),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::1:role/cdk-*"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:role/cdk-x"},
            True,
        ),
        (
            {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]}},
            {"aws:PrincipalArn": "arn:aws:iam::1:role/b"},
            False,
        ),
        (
            {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a"]}},
            {"aws:PrincipalArn": "arn:aws:iam::1:role/c"},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:SecureTransport": "false"}, True),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "false"}}, {}, False),
        ({"Null": {"k": "false"}}, {"k": "x"}, True),
        ({"NumericLessThanEquals": {"n": "5"}}, {"n": "3"}, True),
        (
            {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/a"}},
            {"kms:ResourceAliases": ["alias/b", "alias/a"]},
            True,
        ),
        ({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/a"}}, {"kms:ResourceAliases": []}, False),
        ({"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/a"}}, {}, False),
        ({"ForAllValues:StringEquals": {"tags": ["a", "b"]}}, {"tags": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"tags": ["a"]}}, {"tags": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"tags": ["a"]}}, {}, True),
        # All operators of a block must hold.
        ({"Null": {"k": "false"}, "StringNotEquals": {"k": "key-1"}}, {"k": "key-2"}, True),
        ({"Null": {"k": "false"}, "StringNotEquals": {"k": "key-1"}}, {}, False),
    ],
)
def test_condition_operators(conditions: dict[str, Any], context: dict[str, Any], holds: bool) -> None:
    assert conditions_hold(conditions, context) is holds


def test_an_unknown_operator_or_an_unqualified_multi_valued_key_is_refused() -> None:
    with pytest.raises(UnsupportedPolicy):
        conditions_hold({"IpAddressMaybe": {"k": "x"}}, {"k": "x"})
    with pytest.raises(UnsupportedPolicy):
        conditions_hold({"StringEquals": {"k": "x"}}, {"k": ["x", "y"]})
