"""A corpus of bad inputs, as a careless or hostile user writes them: each is refused with a
``PolicyError`` whose one line names the field path and the value received. The policy's overrides
(the Python API and cdk.json's ``policy`` object), the environment loader, and one real synth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backup_constructs.policy import BackupPolicy, BackupRule, PolicyError, SelectionTag, VaultLock
from backup_constructs.policy.environments import EnvironmentConfig
from tests.conftest import ROOT, cdk_json_context

# (overrides of the production preset, the field path the message must name, the value it must quote)
POLICY_CASES: list[tuple[dict[str, Any], str, Any]] = [
    ({"logRetentionDays": "90"}, "policy.logRetentionDays", "90"),
    ({"logRetentionDays": True}, "policy.logRetentionDays", True),
    ({"logRetentionDays": 91}, "log_retention_days", 91),
    ({"logRetentionDays": 90.0}, "policy.logRetentionDays", 90.0),
    ({"logRetentionDays": -1}, "log_retention_days", -1),
    ({"logRetention": {"days": 90, "mode": "cap"}}, "policy.logRetention.mode", "cap"),
    ({"logRetention": {"days": "90"}}, "policy.logRetention.days", "90"),
    ({"logRetention": 90}, "policy.logRetention", 90),
    ({"logRetention": {}}, "policy.logRetention", {}),
    ({"logRetention": {"days": 90, "keep": "all"}}, "policy.logRetention", {"days": 90, "keep": "all"}),
    ({"logRetention": {"days": 30}, "logRetentionDays": 30}, "policy.logRetentionDays", 30),
    ({"logRetentionMode": "floors"}, "policy.logRetentionMode", "floors"),
    ({"rpoTargetMinutes": "15"}, "policy.rpoTargetMinutes", "15"),
    ({"rpoTargetMinutes": True}, "policy.rpoTargetMinutes", True),
    ({"rpoTargetMinutes": 0}, "rpo_target_minutes", 0),
    ({"rpoTargetMinutes": []}, "policy.rpoTargetMinutes", []),
    ({"rtoTargetMinutes": False}, "policy.rtoTargetMinutes", False),
    ({"rtoTargetMinutes": "1h"}, "policy.rtoTargetMinutes", "1h"),
    ({"drRegion": "us-east-9"}, "dr_region", "us-east-9"),
    ({"drRegion": "US-WEST-2"}, "dr_region", "US-WEST-2"),
    ({"drRegion": " us-west-2"}, "dr_region", " us-west-2"),
    ({"drRegion": 5}, "policy.drRegion", 5),
    ({"drRegion": "mars"}, "dr_region", "mars"),
    ({"vaultName": "a"}, "vault_name", "a"),
    ({"vaultName": "x" * 51}, "vault_name", "x" * 51),
    ({"vaultName": "bad name"}, "vault_name", "bad name"),
    ({"vaultName": 7}, "policy.vaultName", 7),
    ({"drVaultName": "semi;colon"}, "dr_vault_name", "semi;colon"),
    ({"vaultLock": []}, "policy.vaultLock", []),
    ({"vaultLock": {"mode": "compliance", "changeableForDays": None}}, "vault_lock.changeable_for_days", None),
    ({"vaultLock": {"mode": "forever"}}, "policy.vaultLock.mode", "forever"),
    ({"vaultLock": {"minRetentionDays": 0}}, "vault_lock.min_retention_days", 0),
    ({"vaultLock": {"maxRetentionDays": 40000}}, "vault_lock.max_retention_days", 40000),
    ({"vaultLock": {"mode": "governance", "changeableForDays": 3}}, "vault_lock.changeable_for_days", 3),
    ({"vaultLock": {"mode": "compliance", "changeableForDays": 1}}, "vault_lock.changeable_for_days", 1),
    ({"selectionTag": {"key": "aws:backup"}}, "selection_tag.key", "aws:backup"),
    ({"selectionTag": {"key": ""}}, "selection_tag.key", ""),
    ({"selectionTag": {"value": "x" * 257}}, "selection_tag.value", "x" * 257),
    ({"selectionTag": {"key": 5}}, "policy.selectionTag.key", 5),
    ({"selectionTag": {"key": "backup "}}, "selection_tag.key", "backup "),
    ({"protectedResourceTypes": ["rds"]}, "policy.protectedResourceTypes[0]", "rds"),
    ({"protectedResourceTypes": "RDS"}, "policy.protectedResourceTypes", "RDS"),
    ({"protectedResourceTypes": []}, "protected_resource_types", ()),
    ({"rules": {"daily-full": {"retentionDays": "30"}}}, "policy.rules.daily-full.retentionDays", "30"),
    ({"rules": {"daily-full": {"continuous": "false"}}}, "policy.rules.daily-full.continuous", "false"),
    (
        {"rules": {"daily-full": {"schedule": "cron(0/5 * * * ? *)"}}},
        "rules[daily-full].schedule",
        "cron(0/5 * * * ? *)",
    ),
    ({"rules": {"daily-full": {"schedule": " cron(0 2 * * ? *)"}}}, "rules[daily-full].schedule", " cron(0 2 * * ? *)"),
    ({"rules": {"daily-full": {"schedule": "cron(0 2 * *)"}}}, "rules[daily-full].schedule", "cron(0 2 * *)"),
    ({"rules": {"daily-full": {"schedule": "cron(61 2 * * ? *)"}}}, "rules[daily-full].schedule", "cron(61 2 * * ? *)"),
    ({"rules": {"nope": {}}}, "policy.rules.nope", {}),
    ({"rules": {"daily-full": {"startWindowMinutes": 30}}}, "rules[daily-full].start_window_minutes", 30),
    ({"rules": {"daily-full": {"completionWindowMinutes": 60}}}, "rules[daily-full].completion_window_minutes", 60),
    ({"rules": {"daily-full": {"copyToDr": "yes"}}}, "policy.rules.daily-full.copyToDr", "yes"),
    ({"rules": {"daily-full": {"drRetentionDays": 0}}}, "rules[daily-full].dr_retention_days", 0),
    ({"rules": {"daily-full": {"retentionDays": 0}}}, "rules[daily-full].retention_days", 0),
    ({"rules": {"transaction-log": {"retentionDays": 36}}}, "rules[transaction-log].retention_days", 36),
    ({"rules": {"daily-full": {"name": "bad name"}}}, "rules[bad name].name", "bad name"),
    ({"rules": []}, "rules", ()),
    ({"rules": "daily"}, "policy.rules", "daily"),
    ({"rules": [{"name": "x"}]}, "policy.rules[0]", {"name": "x"}),
    ({"database": {"backupWindow": "2-4"}}, "database.backup_window", "2-4"),
    ({"database": {"backupWindow": "02:00-02:10"}}, "database.backup_window", "02:00-02:10"),
    ({"database": {"backupRetentionDays": "30"}}, "policy.database.backupRetentionDays", "30"),
    ({"database": {"multiAz": "true"}}, "policy.database.multiAz", "true"),
    ({"database": []}, "policy.database", []),
    ({"configBackup": {"retentionDays": 0}}, "config_backup.retention_days", 0),
    ({"configBackup": {"objectLockMode": "legal-hold"}}, "policy.configBackup.objectLockMode", "legal-hold"),
    ({"configBackup": {"onDeploy": 1}}, "policy.configBackup.onDeploy", 1),
    ({"restoreTesting": {"instanceClass": "t4g.medium"}}, "restore_testing.instance_class", "t4g.medium"),
    ({"restoreTesting": {"startWindowHours": True}}, "policy.restoreTesting.startWindowHours", True),
    ({"regionLoss": {"rpoTargetMinutes": "15"}}, "policy.regionLoss.rpoTargetMinutes", "15"),
    (
        {"regionLoss": {"mechanisms": [{"resourceType": "RDS", "mechanism": "teleport"}]}},
        "policy.regionLoss.mechanisms[0].mechanism",
        "teleport",
    ),
    ({"accountIsolation": {"retentionDays": 1}}, "account_isolation.retention_days", 1),
    ({"accountIsolation": {"vaultKind": "air"}}, "policy.accountIsolation.vaultKind", "air"),
    ({"accountIsolation": {"schedule": "cron(0 4 * * ? *) "}}, "account_isolation.schedule", "cron(0 4 * * ? *) "),
    ({"accountIsolation": {"changeableForDays": 2}}, "account_isolation.changeable_for_days", 2),
    ({"rules": {"daily-full": {"schedule": "cron(0 2 31 2 ? *)"}}}, "rules[daily-full].schedule", "cron(0 2 31 2 ? *)"),
    ({"rules": {"daily-full": {"schedule": "cron(0 2 ² * ? *)"}}}, "rules[daily-full].schedule", "cron(0 2 ² * ? *)"),
    ({"rules": {"daily-full": {"schedule": "cron(0 ٢ * * ? *)"}}}, "rules[daily-full].schedule", "cron(0 ٢ * * ? *)"),
    ({"configBackup": {"schedule": "cron(0 2 31 2 ? *)"}}, "config_backup.schedule", "cron(0 2 31 2 ? *)"),
    ({"restoreTesting": {"schedule": "cron(0 6 30 2 ? *)"}}, "restore_testing.schedule", "cron(0 6 30 2 ? *)"),
    (
        {"restoreTesting": {"drillSchedule": "cron(0 6 31 4 ? *)"}},
        "restore_testing.drill_schedule",
        "cron(0 6 31 4 ? *)",
    ),
    ({"accountIsolation": {"schedule": "cron(0 4 31 11 ? *)"}}, "account_isolation.schedule", "cron(0 4 31 11 ? *)"),
    ({"logRetention": 90}, "policy.logRetention", 90),
    ({"logRetentionDays": 90, "log_retention_days": 30}, "policy.log_retention_days", 30),
    ({"metricRetentionMonths": 24}, "metric_retention_months", 24),
    ({"environment": "bad name!"}, "environment", "bad name!"),
]


def _names_field_and_value(message: str, field: str, value: Any) -> None:
    assert "\n" not in message, message
    assert field in message, (field, message)
    assert f"got {value!r}" in message or f"got {tuple(value)!r}" in message, (value, message)


@pytest.mark.parametrize(("overrides", "field", "value"), POLICY_CASES, ids=[c[1] for c in POLICY_CASES])
def test_every_bad_policy_value_is_refused_with_its_field_and_value(
    overrides: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(PolicyError) as refused:
        BackupPolicy.from_context(overrides)
    _names_field_and_value(str(refused.value), field, value)


RULE = {"name": "r", "purpose": "p", "schedule": "cron(0 2 * * ? *)", "retention_days": 7}
API_CASES: list[tuple[Any, dict[str, Any], str, Any]] = [
    (BackupRule, {**RULE, "continuous": "false"}, "rules[r].continuous", "false"),
    (BackupRule, {**RULE, "start_window_minutes": True}, "rules[r].start_window_minutes", True),
    (BackupRule, {**RULE, "retention_days": 7.5}, "rules[r].retention_days", 7.5),
    (BackupRule, {**RULE, "schedule": "cron(0 2 * * ? *)\n"}, "rules[r].schedule", "cron(0 2 * * ? *)\n"),
    (BackupRule, {**RULE, "purpose": None}, "rules[r].purpose", None),
    (VaultLock, {"mode": "compliance"}, "vault_lock.changeable_for_days", None),
    (VaultLock, {"mode": "COMPLIANCE", "changeable_for_days": 3}, "vault_lock.mode", "COMPLIANCE"),
    (VaultLock, {"min_retention_days": "7"}, "vault_lock.min_retention_days", "7"),
    (SelectionTag, {"key": "aws:x"}, "selection_tag.key", "aws:x"),
    (SelectionTag, {"value": 3}, "selection_tag.value", 3),
]


@pytest.mark.parametrize(("cls", "kwargs", "field", "value"), API_CASES, ids=[c[2] for c in API_CASES])
def test_the_python_api_is_as_strict_as_cdk_json(cls: Any, kwargs: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(PolicyError) as refused:
        cls(**kwargs)
    _names_field_and_value(str(refused.value), field, value)


def test_a_rare_but_valid_schedule_is_accepted_and_its_gap_is_computed_honestly() -> None:
    from backup_constructs.policy.cron import CronSchedule, max_gap_minutes

    policy = BackupPolicy.from_context({"rules": {"daily-full": {"schedule": "cron(0 2 29 2 ? *)"}}})
    (rule,) = [r for r in policy.rules if r.name == "daily-full"]
    assert max_gap_minutes([CronSchedule.parse(rule.schedule)]) == 4 * 365 * 1440 + 1440  # 29 Feb to 29 Feb


def test_a_known_enum_value_given_as_a_string_becomes_the_enum_and_is_honoured() -> None:
    from backup_constructs.policy import VaultLockMode

    lock = VaultLock(mode="compliance", changeable_for_days=3)  # type: ignore[arg-type]
    assert lock.mode is VaultLockMode.COMPLIANCE  # never quietly governance


ENV = {"account": "111111111111", "region": "us-east-1", "preset": "staging"}
ENV_CASES: list[tuple[str, dict[str, Any], str, Any]] = [
    ("x", {**ENV, "account": 111111111111}, "environments.x.account", 111111111111),
    ("x", {**ENV, "account": "1111"}, "environments.x.account", "1111"),
    ("x", {**ENV, "account": None}, "environments.x.account", None),
    ("x", {**ENV, "region": "us-east-9"}, "environments.x.region", "us-east-9"),
    ("x", {**ENV, "region": "us-east-1\n"}, "environments.x.region", "us-east-1\n"),
    ("x", {**ENV, "region": "eu-west-1 "}, "environments.x.region", "eu-west-1 "),
    ("stage_eu", ENV, "environments", "stage_eu"),
    ("a-very-long-name", ENV, "environments", "a-very-long-name"),
    ("Prod", ENV, "environments", "Prod"),
    ("x", {**ENV, "policy": []}, "environments.x.policy", []),
    ("x", {**ENV, "policy": "x"}, "environments.x.policy", "x"),
    ("x", {**ENV, "policy": None}, "environments.x.policy", None),
    (
        "x",
        {**ENV, "preset": "production", "drRegion": "us-west-2", "policy": {"drRegion": "eu-west-1"}},
        "environments.x.drRegion",
        "us-west-2",
    ),
    ("x", {**ENV, "terminationProtection": "true"}, "environments.x.terminationProtection", "true"),
    ("x", {**ENV, "applicationLogGroups": "/a"}, "environments.x.applicationLogGroups", "/a"),
    ("x", {**ENV, "applicationLogGroups": ["bad group name"]}, "environments.x.applicationLogGroups", "bad group name"),
    ("x", {**ENV, "applicationLogGroups": [5]}, "environments.x.applicationLogGroups", [5]),
    ("x", {**ENV, "breakGlassRoleArns": ["not-an-arn"]}, "environments.x.breakGlassRoleArns", "not-an-arn"),
    (
        "x",
        {**ENV, "breakGlassRoleArns": ["arn:aws:iam::999999999999:role/bg"]},
        "environments.x.breakGlassRoleArns",
        "arn:aws:iam::999999999999:role/bg",
    ),
    ("x", {**ENV, "breakGlassRoleArns": "arn"}, "environments.x.breakGlassRoleArns", "arn"),
    ("x", {**ENV, "alerts": {"emails": ["no-at"]}}, "environments.x.alerts.emails", "no-at"),
    ("x", {**ENV, "alerts": {"emails": ["a@b"]}}, "environments.x.alerts.emails", "a@b"),
    ("x", {**ENV, "alerts": {"httpsEndpoints": ["http://x"]}}, "environments.x.alerts.httpsEndpoints", "http://x"),
    ("x", {**ENV, "alerts": []}, "environments.x.alerts", []),
    ("x", {**ENV, "alerts": {"sms": ["+1"]}}, "environments.x.alerts.sms", ["+1"]),
    (
        "x",
        {**ENV, "monitoring": {"enableConfigRecording": "yes"}},
        "environments.x.monitoring.enableConfigRecording",
        "yes",
    ),
    ("x", {**ENV, "kubernetes": {}}, "environments.x.kubernetes.clusterName", None),
    ("x", {**ENV, "kubernetes": {"clusterName": "c"}}, "environments.x.kubernetes.namespaces", []),
    (
        "x",
        {**ENV, "kubernetes": {"clusterName": "c", "namespaces": "prod"}},
        "environments.x.kubernetes.namespaces",
        "prod",
    ),
    (
        "x",
        {**ENV, "kubernetes": {"clusterName": "c", "namespaces": ["p"], "drClusterName": "bad name"}},
        "environments.x.kubernetes.drClusterName",
        "bad name",
    ),
    ("x", {**ENV, "kubernetes": []}, "environments.x.kubernetes", []),
    ("x", {**ENV, "dRegion": "us-west-2"}, "environments.x.dRegion", "us-west-2"),
    ("x", {**ENV, "preset": "prod"}, "preset", "prod"),
    ("x", {**ENV, "preset": "production"}, "environments.x.backupAccount", None),
    (
        "x",
        {**ENV, "backupAccount": {"account": "222222222222"}},
        "environments.x.backupAccount",
        {"account": "222222222222"},
    ),
]


@pytest.mark.parametrize(("name", "raw", "field", "value"), ENV_CASES, ids=[f"{c[0]}:{c[2]}" for c in ENV_CASES])
def test_every_bad_cdk_json_value_is_refused_with_its_field_and_value(
    name: str, raw: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(PolicyError) as refused:
        EnvironmentConfig.from_context(name, raw)
    _names_field_and_value(str(refused.value), field, value)


def _run_app(outdir: Path, context: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``python app.py`` as the CDK CLI runs it: the context as CDK_CONTEXT_JSON, templates into ``outdir``."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir)}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_synth_refused_for_a_bad_value_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    context = cdk_json_context()
    context["environments"]["staging"]["policy"] = {"logRetentionDays": 91}
    result = _run_app(tmp_path, context)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: environments.staging.policy: log_retention_days: got 91; CloudWatch Logs accepts "
        "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"
    ], result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_a_null_in_cdk_json_means_null_not_the_default(tmp_path: Path) -> None:
    """jsii drops nulls from context; the app reads the CLI's context JSON itself, so turning the isolated
    copy off with ``"accountIsolation": null`` works (else production would demand a backup account)."""
    context = cdk_json_context()
    production = context["environments"]["production"]
    production["policy"] = {"accountIsolation": None}
    del production["backupAccount"], production["organization"], production["alerts"]["crossAccountTopicArn"]
    result = _run_app(
        tmp_path, {**context, "environment": "production", "nag": False, "backup-constructs:bundling": "source-only"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    template = json.loads((tmp_path / "ecommerce-production-backup.template.json").read_text())
    plans = [r for r in template["Resources"].values() if r["Type"] == "AWS::Backup::BackupPlan"]
    assert [p["Properties"]["BackupPlan"]["BackupPlanName"] for p in plans] == ["ecommerce-backup-production"]
    assert not (tmp_path / "ecommerce-production-backup-account.template.json").exists()


def test_a_synth_check_that_fails_prints_each_finding_on_one_line_without_a_stack(tmp_path: Path) -> None:
    context = cdk_json_context()
    context["environments"]["staging"]["policy"] = {"rpoTargetMinutes": 60, "protectedResourceTypes": ["EBS"]}
    context |= {"environment": "staging", "nag": False, "backup-constructs:bundling": "source-only"}
    result = _run_app(tmp_path, context)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "error: [ecommerce-staging-backup/Strategy] RPO for EBS is 25 h (scheduled snapshots (daily-full every 1 d)), "
        "above the target of 1 h: add a continuous rule or a more frequent schedule, or raise rpo_target_minutes"
    ], result.stderr
