"""Environment settings from cdk.json: defaults, overrides, and rejected input."""

from __future__ import annotations

from typing import Any

import pytest

from backup_constructs.policy import PolicyError
from backup_constructs.policy.environments import EnvironmentConfig, load_environments
from tests.conftest import cdk_json_context


def test_cdk_json_defines_production_and_staging_with_placeholder_account() -> None:
    configs = {c.name: c for c in load_environments(cdk_json_context())}
    assert set(configs) == {"production", "staging"}
    assert configs["production"].account == "111111111111"
    assert (configs["production"].region, configs["production"].dr_region) == ("us-east-1", "us-west-2")
    assert configs["staging"].dr_region is None
    assert configs["production"].policy.log_retention_days == 90
    assert configs["staging"].policy.log_retention_days == 30
    assert configs["production"].termination_protection is True


def test_account_and_region_can_come_from_the_deploy_environment() -> None:
    (config,) = load_environments(cdk_json_context(), only="staging", account="222222222222", region="eu-west-1")
    assert (config.account, config.region) == ("222222222222", "eu-west-1")


def test_other_environment_names_start_from_the_production_preset_or_a_named_one() -> None:
    raw: dict[str, Any] = {
        "account": "111111111111",
        "region": "eu-west-1",
        "drRegion": "eu-central-1",
        "backupAccount": {"account": "222222222222"},
    }
    assert (
        EnvironmentConfig.from_context("perf", raw).policy.rules
        == EnvironmentConfig.from_context("production", raw).policy.rules
    )
    staging_like = EnvironmentConfig.from_context(
        "qa", {**raw, "preset": "staging", "drRegion": None, "backupAccount": None}
    )
    assert staging_like.policy.environment == "qa" and len(staging_like.policy.rules) == 1


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"account": "1234", "region": "us-east-1"}, r"environments.x.account: got '1234'; expected a 12-digit"),
        ({"account": "111111111111", "region": "mars"}, r"environments.x.region: got 'mars'"),
        ({"account": "111111111111", "region": "us-east-1", "dRegion": "x"}, r"environments.x.dRegion: .*unknown key"),
        (
            {"account": "111111111111", "region": "us-west-2", "drRegion": "us-west-2"},
            r"drRegion: got 'us-west-2'; the DR region must differ",
        ),
        (
            {"account": "111111111111", "region": "us-east-1", "applicationLogGroups": "/a"},
            r"applicationLogGroups: got '/a'; expected a list of strings",
        ),
        (
            {"account": "111111111111", "region": "us-east-1", "policy": {"logRetentionDays": 45}},
            r"environments.x.policy: log_retention_days: got 45; CloudWatch Logs accepts",
        ),
    ],
)
def test_bad_environment_settings_are_rejected_by_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        EnvironmentConfig.from_context("x", raw)


def test_unknown_environment_is_refused_with_the_known_ones() -> None:
    with pytest.raises(PolicyError, match="environment: got 'prod'; allowed: production, staging"):
        load_environments(cdk_json_context(), only="prod")


BACKUP_ACCOUNT = {"account": "222222222222", "breakGlassRoleArns": ["arn:aws:iam::222222222222:role/bg"]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {},
            r"environments.x.backupAccount: got None; required: the policy keeps an isolated copy outside this account",
        ),
        (
            {"backupAccount": {"account": "111111111111"}},
            r"backupAccount.account: got '111111111111'; must differ from the environment's own account",
        ),
        ({"backupAccount": {"account": "22"}}, r"backupAccount.account: got '22'; expected the 12-digit id"),
        (
            {"backupAccount": {"account": "222222222222", "breakGlassRoleArns": ["arn:aws:iam::111111111111:role/bg"]}},
            r"backupAccount.breakGlassRoleArns: got 'arn:aws:iam::111111111111:role/bg'; expected an IAM role ARN in "
            r"account 222222222222",
        ),
        ({"backupAccount": {"acount": "222222222222"}}, r"backupAccount.acount: .*unknown key; allowed: account"),
        (
            {"backupAccount": BACKUP_ACCOUNT, "policy": {"accountIsolation": None}},
            r"backupAccount: got .*only allowed with policy.accountIsolation",
        ),
        (
            {
                "backupAccount": BACKUP_ACCOUNT,
                "alerts": {"crossAccountTopicArn": "arn:aws:sns:us-east-1:111111111111:t"},
            },
            r"alerts.crossAccountTopicArn: got .*expected a topic in another account",
        ),
        (
            {"backupAccount": BACKUP_ACCOUNT, "alerts": {"crossAccountTopicArn": "topic"}},
            r"alerts.crossAccountTopicArn: got 'topic'; expected an SNS topic ARN",
        ),
        (
            {
                "backupAccount": BACKUP_ACCOUNT,
                "organization": {"managementAccount": "333333333333", "targetIds": ["x"]},
            },
            r"organization.targetIds: got 'x'; expected an account id, a root id \(r-...\) or an OU id",
        ),
        (
            {"backupAccount": BACKUP_ACCOUNT, "organization": {"managementAccount": "333333333333"}},
            r"organization.targetIds: got \[\]; name the account ids or OUs",
        ),
    ],
)
def test_backup_account_organization_and_cross_account_alerts_are_validated(
    extra: dict[str, Any], message: str
) -> None:
    raw = {"account": "111111111111", "region": "us-east-1", **extra}
    with pytest.raises(PolicyError, match=message):
        EnvironmentConfig.from_context("x", raw)


def test_a_backup_account_organization_and_cross_account_topic_are_read() -> None:
    raw = {
        "account": "111111111111",
        "region": "us-east-1",
        "backupAccount": BACKUP_ACCOUNT,
        "organization": {"managementAccount": "333333333333", "targetIds": ["ou-ab12-cdef3456", "111111111111"]},
        "alerts": {"crossAccountTopicArn": "arn:aws:sns:us-east-1:222222222222:alerts"},
    }
    config = EnvironmentConfig.from_context("x", raw)
    assert config.backup_account is not None and config.backup_account.account == "222222222222"
    assert config.backup_account.break_glass_role_arns == ("arn:aws:iam::222222222222:role/bg",)
    assert config.organization is not None and config.organization.target_ids == ("ou-ab12-cdef3456", "111111111111")
    assert config.alert_cross_account_topic_arn == "arn:aws:sns:us-east-1:222222222222:alerts"
    # Without an isolated copy in the policy there is no backup account to name.
    staging = EnvironmentConfig.from_context(
        "qa", {"account": "111111111111", "region": "us-east-1", "preset": "staging"}
    )
    assert staging.backup_account is None and staging.policy.account_isolation is None
