"""Achieved RPO per resource type and the policy checks (each with a compliant and a failing case)."""

from __future__ import annotations

import dataclasses

from backup_constructs.policy import BackupPolicy, BackupRule, ResourceType, VaultLock
from backup_constructs.policy.rpo import (
    achieved_dr_rpo,
    achieved_rpo,
    check_continuous_covers_pitr,
    check_dr_copy,
    check_rpo_targets,
    format_minutes,
    policy_findings,
)

PRODUCTION = BackupPolicy.production()
STAGING = BackupPolicy.staging()


def test_production_rds_gets_pitr_from_continuous_backup() -> None:
    rpo = achieved_rpo(PRODUCTION, ResourceType.RDS)
    assert (rpo.worst_case_minutes, rpo.meets_target) == (5, True)
    assert "continuous" in rpo.mechanism


def test_staging_rds_meets_the_target_through_its_own_automated_backups_not_by_exemption() -> None:
    rpo = achieved_rpo(STAGING, ResourceType.RDS)
    assert (rpo.worst_case_minutes, rpo.meets_target) == (5, True)
    assert "RDS automated backups (PITR, 30 d)" in rpo.mechanism


def test_snapshot_only_types_get_the_largest_gap_plus_the_start_window() -> None:
    assert achieved_rpo(PRODUCTION, ResourceType.EBS).worst_case_minutes == 60 + 60
    assert achieved_rpo(STAGING, ResourceType.EBS).worst_case_minutes == 1440 + 60


def test_region_loss_rpo_counts_rds_snapshots_once_a_day_under_continuous_backup() -> None:
    dr = achieved_dr_rpo(PRODUCTION, ResourceType.RDS)
    assert dr is not None and dr.worst_case_minutes == 1440 + 60
    ebs = achieved_dr_rpo(PRODUCTION, ResourceType.EBS)
    assert ebs is not None and ebs.worst_case_minutes == 120
    assert achieved_dr_rpo(STAGING, ResourceType.RDS) is None


def test_rpo_check_compliant_and_failing() -> None:
    assert check_rpo_targets(PRODUCTION) == []
    ebs_only = dataclasses.replace(STAGING, protected_resource_types=(ResourceType.EBS,))
    (finding,) = check_rpo_targets(ebs_only)
    assert finding.startswith("RPO for EBS is 25 h")
    assert "target of 15 min" in finding


def test_changing_the_rpo_target_changes_the_verdict() -> None:
    relaxed = dataclasses.replace(STAGING, protected_resource_types=(ResourceType.EBS,), rpo_target_minutes=1500)
    assert check_rpo_targets(relaxed) == []


def test_pitr_check_compliant_and_failing() -> None:
    assert check_continuous_covers_pitr(PRODUCTION) == []
    short = dataclasses.replace(
        PRODUCTION,
        rules=tuple(dataclasses.replace(r, retention_days=3) if r.continuous else r for r in PRODUCTION.rules),
        vault_lock=VaultLock(min_retention_days=3),
    )
    assert check_continuous_covers_pitr(short) == [
        "rules[transaction-log].retention_days is 3, shorter than database.pitr_days (7): "
        "point-in-time recovery would not reach back 7 days"
    ]


def test_dr_copy_check_compliant_and_failing() -> None:
    assert check_dr_copy(PRODUCTION) == []
    assert check_dr_copy(STAGING) == []
    no_copy = dataclasses.replace(
        PRODUCTION,
        rules=tuple(dataclasses.replace(r, copy_to_dr=False, dr_retention_days=None) for r in PRODUCTION.rules),
    )
    assert "no rule copies to it" in check_dr_copy(no_copy)[0]


def test_presets_have_no_findings() -> None:
    assert policy_findings(PRODUCTION) == [] and policy_findings(STAGING) == []


def test_every_two_hours_snapshot_rule_changes_the_achieved_rpo() -> None:
    two_hourly = BackupRule(name="two-hourly", purpose="p", schedule="cron(0 */2 * * ? *)", retention_days=7)
    policy = dataclasses.replace(STAGING, rules=(two_hourly,), protected_resource_types=(ResourceType.EFS,))
    assert achieved_rpo(policy, ResourceType.EFS).worst_case_minutes == 180


def test_format_minutes() -> None:
    assert [format_minutes(m) for m in (5, 60, 90, 1440, 1500)] == ["5 min", "1 h", "1 h 30 min", "1 d", "25 h"]
