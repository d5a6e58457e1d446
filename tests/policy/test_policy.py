"""The policy model: presets reproduce the guide, every invalid value fails with field, value, rule."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from backup_constructs.policy import (
    BackupPolicy,
    BackupRule,
    ConfigBackupSpec,
    DatabaseBackupSpec,
    PolicyError,
    RegionLossChoice,
    RegionLossMechanism,
    RegionLossSpec,
    ResourceType,
    VaultLock,
    VaultLockMode,
)


def rule(**changes: Any) -> BackupRule:
    base: dict[str, Any] = {
        "name": "daily",
        "purpose": "test",
        "schedule": "cron(0 2 * * ? *)",
        "retention_days": 30,
    }
    return BackupRule(**{**base, **changes})


# Presets ------------------------------------------------------------------------------------------


def test_production_preset_reproduces_the_guide() -> None:
    policy = BackupPolicy.production()
    by_name = {r.name: r for r in policy.rules}
    daily, hourly, continuous = by_name["daily-full"], by_name["hourly-incremental"], by_name["transaction-log"]
    assert (daily.interval_minutes, daily.retention_days, daily.continuous) == (1440, 30, False)
    assert (hourly.interval_minutes, hourly.retention_days, hourly.continuous) == (60, 7, False)
    assert (continuous.retention_days, continuous.continuous) == (7, True)
    assert policy.config_backup.retention_days == 90
    assert policy.config_backup.on_deploy is True
    assert policy.log_retention_days == 90
    assert policy.metric_retention_months == 15
    assert (policy.rpo_target_minutes, policy.rto_target_minutes) == (15, 60)
    assert policy.dr_region is not None
    assert daily.copy_to_dr and daily.dr_retention_days == 30


def test_staging_preset_reproduces_the_guide() -> None:
    policy = BackupPolicy.staging()
    assert [(r.interval_minutes, r.continuous) for r in policy.rules] == [(1440, False)]
    assert policy.log_retention_days == 30
    assert policy.dr_region is None
    assert policy.config_backup.on_deploy is True


@pytest.mark.parametrize("preset", [BackupPolicy.production, BackupPolicy.staging])
def test_both_presets_share_the_guides_database_settings(preset: Any) -> None:
    db = preset().database
    assert (db.backup_window, db.backup_retention_days, db.multi_az, db.pitr_days) == ("02:00-04:00", 30, True, 7)


def test_daily_rule_runs_inside_the_guides_backup_window() -> None:
    daily = BackupPolicy.production().rules[0]
    start = daily.cron.fire_minutes()[0] % 1440
    assert start == 2 * 60
    assert start + daily.completion_window_minutes <= 4 * 60


def test_policies_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        BackupPolicy.production().log_retention_days = 1  # type: ignore[misc]


def test_rds_retention_follows_continuous_backup_when_aws_backup_manages_it() -> None:
    assert BackupPolicy.production().rds_automated_backup_retention_days == 7
    assert BackupPolicy.staging().rds_automated_backup_retention_days == 30


# Validation: one test per rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field", "allowed"),
    [
        (lambda: DatabaseBackupSpec(backup_window="2:00-4:00"), "database.backup_window", "HH:MM-HH:MM"),
        (lambda: DatabaseBackupSpec(backup_window="02:00-02:20"), "database.backup_window", "at least 30 minutes"),
        (
            lambda: DatabaseBackupSpec(maintenance_window="sun:02:30-sun:03:30"),
            "database.maintenance_window",
            "must not overlap",
        ),
        (lambda: DatabaseBackupSpec(maintenance_window="sunday 4am"), "database.maintenance_window", "ddd:HH:MM"),
        (lambda: DatabaseBackupSpec(backup_retention_days=36), "database.backup_retention_days", "from 1 to 35"),
        (lambda: DatabaseBackupSpec(pitr_days=0), "database.pitr_days", "from 1 to 35"),
        (lambda: DatabaseBackupSpec(backup_retention_days=5, pitr_days=7), "database.pitr_days", "cannot exceed"),
        (lambda: rule(continuous=True, retention_days=36), "rules[daily].retention_days", "from 1 to 35"),
        (lambda: rule(retention_days=0), "rules[daily].retention_days", "from 1 to"),
        (lambda: rule(schedule="cron(0/30 * * * ? *)"), "rules[daily].schedule", "at most one backup every 60"),
        (lambda: rule(schedule="every day"), "rules[daily].schedule", "not an AWS cron expression"),
        (lambda: rule(copy_to_dr=True), "rules[daily].dr_retention_days", "needs a retention"),
        (lambda: rule(dr_retention_days=7), "rules[daily].dr_retention_days", "only allowed with copy_to_dr"),
        (lambda: rule(start_window_minutes=30), "rules[daily].start_window_minutes", "at least 60"),
        (lambda: rule(completion_window_minutes=60), "rules[daily].completion_window_minutes", "longer than"),
        (lambda: rule(name="has space"), "rules[has space].name", "letters, digits"),
        (lambda: ConfigBackupSpec(refresh_interval_days=90), "config_backup.refresh_interval_days", "shorter than"),
        (lambda: ConfigBackupSpec(schedule="cron(x)"), "config_backup.schedule", "6"),
        (lambda: VaultLock(mode=VaultLockMode.COMPLIANCE), "vault_lock.changeable_for_days", "at least 3 days"),
        (lambda: VaultLock(changeable_for_days=3), "vault_lock.changeable_for_days", "only allowed in compliance"),
        (lambda: VaultLock(min_retention_days=30, max_retention_days=7), "vault_lock.max_retention_days", "at least"),
    ],
)
def test_invalid_part_values_name_field_value_and_rule(make: Any, field: str, allowed: str) -> None:
    with pytest.raises(PolicyError) as err:
        make()
    assert str(err.value).startswith(f"{field}: got ")
    assert allowed in str(err.value)


@pytest.mark.parametrize(
    ("changes", "field", "allowed"),
    [
        ({"log_retention_days": 45}, "log_retention_days", "CloudWatch Logs accepts 1, 3, 5"),
        ({"metric_retention_months": 24}, "metric_retention_months", "not configurable"),
        ({"dr_region": "west"}, "dr_region", "AWS region name"),
        ({"vault_name": "a b"}, "vault_name", "vault names"),
        ({"rules": ()}, "rules", "at least one backup rule"),
        ({"rpo_target_minutes": 0}, "rpo_target_minutes", "whole minutes from 1"),
        ({"protected_resource_types": ()}, "protected_resource_types", "at least one"),
        ({"vault_lock": VaultLock(min_retention_days=8)}, "vault_lock.min_retention_days", "shortest retention"),
        ({"vault_lock": VaultLock(max_retention_days=10)}, "vault_lock.max_retention_days", "longest retention"),
        ({"dr_region": None}, "rules[daily-full].copy_to_dr", "needs dr_region"),
        (
            {
                "region_loss": RegionLossSpec(
                    mechanisms=(RegionLossChoice(ResourceType.RDS, RegionLossMechanism.BACKUP_REPLICATION),)
                )
            },
            "region_loss.mechanisms[0].mechanism",
            "continuous rule (transaction-log) managing the instance's automated backups, so it is not used with one; "
            "allowed here: replica, copies",
        ),
    ],
)
def test_invalid_policy_values_name_field_value_and_rule(changes: dict[str, Any], field: str, allowed: str) -> None:
    with pytest.raises(PolicyError) as err:
        dataclasses.replace(BackupPolicy.production(), **changes)
    assert str(err.value).startswith(f"{field}: got ")
    assert allowed in str(err.value)


def test_duplicate_rule_names_are_rejected() -> None:
    with pytest.raises(PolicyError, match="rule names must be unique"):
        dataclasses.replace(BackupPolicy.staging(), rules=(rule(), rule()))


def test_vault_lock_longer_than_shortest_rule_names_that_rule() -> None:
    with pytest.raises(PolicyError, match=r"rules\[hourly-incremental\].retention_days = 7"):
        dataclasses.replace(BackupPolicy.production(), vault_lock=VaultLock(min_retention_days=14))


# Context overrides ----------------------------------------------------------------------------------


def test_from_context_defaults_to_production_and_applies_camel_case_keys() -> None:
    policy = BackupPolicy.from_context({"logRetentionDays": 365, "database": {"pitrDays": 14}})
    assert policy.environment == "production"
    assert policy.log_retention_days == 365
    assert policy.database.pitr_days == 14
    assert policy.database.backup_window == "02:00-04:00"


def test_from_context_patches_rules_by_name() -> None:
    policy = BackupPolicy.from_context({"rules": {"hourly-incremental": {"retentionDays": 14}}})
    hourly = next(r for r in policy.rules if r.name == "hourly-incremental")
    assert hourly.retention_days == 14
    assert len(policy.rules) == 3


def test_from_context_replaces_rules_with_a_list() -> None:
    policy = BackupPolicy.from_context(
        {"rules": [{"name": "every-2h", "purpose": "p", "schedule": "cron(0 */2 * * ? *)", "retentionDays": 3}]},
        base=BackupPolicy.staging(),
    )
    assert [r.name for r in policy.rules] == ["every-2h"]


def test_from_context_builds_optional_parts_and_enums() -> None:
    policy = BackupPolicy.from_context(
        {"vaultLock": {"mode": "compliance", "changeableForDays": 3}, "protectedResourceTypes": ["RDS", "EBS"]},
        base=BackupPolicy.staging(),
    )
    assert policy.vault_lock == VaultLock(mode=VaultLockMode.COMPLIANCE, changeable_for_days=3)
    assert policy.protected_resource_types == (ResourceType.RDS, ResourceType.EBS)


def test_changing_hourly_to_every_30_minutes_is_one_edit_and_is_checked() -> None:
    with pytest.raises(PolicyError, match=r"rules\[hourly-incremental\].schedule: got 'cron\(0/30"):
        BackupPolicy.from_context({"rules": {"hourly-incremental": {"schedule": "cron(0/30 * * * ? *)"}}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"logRetentionDay": 30}, r"policy.logRetentionDay: got 30; unknown key; allowed: .*log_retention_days"),
        ({"database": {"backupWindw": "01:00-02:00"}}, r"policy.database.backupWindw: got '01:00-02:00'; unknown key"),
        ({"rules": {"weekly": {"retentionDays": 1}}}, r"policy.rules.weekly: .*no such rule"),
        (
            {"rules": [{"name": "x", "schedule": "cron(0 2 * * ? *)"}]},
            r"missing required keys: purpose, retention_days",
        ),
        ({"logRetentionDays": "90"}, r"policy.logRetentionDays: got '90'; expected a whole number"),
        ({"database": {"multiAz": "yes"}}, r"policy.database.multiAz: got 'yes'; expected true or false"),
        ({"protectedResourceTypes": ["Redshift"]}, r"protectedResourceTypes\[0\]: got 'Redshift'; allowed: RDS"),
        ({"vaultLock": {"mode": "strict"}}, r"policy.vaultLock.mode: got 'strict'; allowed: governance, compliance"),
        (
            {"configBackup": {"objectLockMode": "strict"}},
            r"policy.configBackup.objectLockMode: got 'strict'; allowed: governance, compliance",
        ),
        ({"database": 7}, r"policy.database: got 7; expected an object"),
    ],
)
def test_from_context_rejects_bad_overrides_by_path(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        BackupPolicy.from_context(overrides)


def test_unknown_preset_is_rejected() -> None:
    with pytest.raises(PolicyError, match="preset: got 'prod'; allowed: production, staging"):
        BackupPolicy.preset("prod")


def test_region_loss_targets_need_a_dr_region() -> None:
    with pytest.raises(PolicyError) as err:
        dataclasses.replace(BackupPolicy.staging(), region_loss=RegionLossSpec())
    assert str(err.value) == "region_loss: got 'set'; region-loss targets need dr_region (or remove region_loss)"


def test_region_loss_from_context_overrides_the_preset() -> None:
    policy = BackupPolicy.from_context(
        {"regionLoss": {"rpoTargetMinutes": 1560, "mechanisms": [{"resourceType": "RDS", "mechanism": "copies"}]}}
    )
    assert policy.region_loss is not None
    assert policy.region_loss.rpo_target_minutes == 1560 and policy.region_loss.rto_target_minutes == 60
    assert policy.region_loss_mechanism(ResourceType.RDS) is RegionLossMechanism.COPIES
    assert not policy.wants_replica
    with pytest.raises(PolicyError) as err:
        BackupPolicy.from_context({"regionLoss": {"mechanisms": [{"resourceType": "RDS", "mechanism": "mirror"}]}})
    assert str(err.value).startswith("policy.regionLoss.mechanisms[0].mechanism: got 'mirror'; allowed: replica")


@pytest.mark.parametrize(
    ("kwargs", "field", "allowed"),
    [
        (
            {"mechanisms": (RegionLossChoice(ResourceType.RDS, RegionLossMechanism.COPIES),) * 2},
            "region_loss.mechanisms[1].resource_type",
            "each resource type once",
        ),
        ({"rpo_target_minutes": 0}, "region_loss.rpo_target_minutes", "whole minutes from 1"),
        ({"rto_target_minutes": 20000}, "region_loss.rto_target_minutes", "whole minutes from 1 to 10080"),
        (
            {"mechanisms": (RegionLossChoice(ResourceType.EBS, RegionLossMechanism.REPLICA),)},
            "region_loss.mechanisms[0].mechanism",
            "allowed for EBS: copies",
        ),
    ],
)
def test_invalid_region_loss_values_name_field_value_and_rule(kwargs: dict[str, Any], field: str, allowed: str) -> None:
    with pytest.raises(PolicyError) as err:
        RegionLossSpec(**kwargs)
    assert str(err.value).startswith(f"{field}: got ")
    assert allowed in str(err.value)


def test_a_configuration_rpo_target_is_a_whole_number_of_minutes() -> None:
    with pytest.raises(PolicyError, match=r"^config_backup.rpo_target_minutes: got 0; .*whole minutes from 1"):
        ConfigBackupSpec(rpo_target_minutes=0)


def test_production_is_immutable_in_compliance_mode_and_says_so_loudly() -> None:
    from backup_constructs.policy.immutability import immutability

    production, staging = BackupPolicy.production(), BackupPolicy.staging()
    assert production.vault_lock is not None and production.vault_lock.mode is VaultLockMode.COMPLIANCE
    assert production.vault_lock.changeable_for_days == 3
    assert production.config_backup.object_lock_mode is VaultLockMode.COMPLIANCE
    assert staging.config_backup.object_lock_mode is VaultLockMode.GOVERNANCE
    (vaults, vault_text), (config, config_text), (isolated, isolated_text) = immutability(production)
    assert vaults == "the vault and the DR vault" and "COMPLIANCE" in vault_text and "NOBODY" in vault_text
    assert config == "configuration backups and their DR replica" and "COMPLIANCE mode for 90 d" in config_text
    assert "ecommerce-backup-production-isolated" in isolated and "outside this account" in isolated
    assert "kept 35 d under a COMPLIANCE-mode vault lock" in isolated_text
    assert "governance" in immutability(staging)[1][1] and len(immutability(staging)) == 2
