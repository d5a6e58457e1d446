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
    raw: dict[str, Any] = {"account": "111111111111", "region": "eu-west-1", "drRegion": "eu-central-1"}
    assert (
        EnvironmentConfig.from_context("perf", raw).policy.rules
        == EnvironmentConfig.from_context("production", raw).policy.rules
    )
    staging_like = EnvironmentConfig.from_context("qa", {**raw, "preset": "staging", "drRegion": None})
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


def test_isolated_copy_vault_arn_is_validated() -> None:
    raw = {"account": "111111111111", "region": "us-east-1", "isolatedCopyVaultArn": "vault-in-other-account"}
    with pytest.raises(
        PolicyError, match=r"isolatedCopyVaultArn: got 'vault-in-other-account'; expected a backup vault"
    ):
        EnvironmentConfig.from_context("x", raw)


def test_isolated_copy_vault_from_context_gets_the_dr_rules_copies(tmp_path: Any) -> None:
    from tests.conftest import synth_app

    context = cdk_json_context() | {"environment": "production", "nag": False}
    arn = "arn:aws:backup:us-east-1:222222222222:backup-vault:air-gapped"
    context["environments"]["production"]["isolatedCopyVaultArn"] = arn
    out = synth_app(tmp_path, context)
    (plan,) = out.resources("ecommerce-production-backup", "AWS::Backup::BackupPlan").values()
    daily = next(r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"] if r["RuleName"] == "daily-full")
    assert arn in [c["DestinationBackupVaultArn"] for c in daily["CopyActions"]]
