"""Achieved RPO per resource type and the policy checks (each with a compliant and a failing case)."""

from __future__ import annotations

import dataclasses

from backup_constructs.policy import (
    BackupPolicy,
    BackupRule,
    RegionLossChoice,
    RegionLossMechanism,
    ResourceType,
    VaultLock,
)
from backup_constructs.policy.rpo import (
    achieved_account_loss_rpo,
    achieved_dr_rpo,
    achieved_rpo,
    check_config_rpo_target,
    check_continuous_covers_pitr,
    check_dr_copy,
    check_region_loss_targets,
    check_rpo_targets,
    config_rpo,
    format_minutes,
    policy_findings,
    rto_paths,
)

PRODUCTION = BackupPolicy.production()
STAGING = BackupPolicy.staging()


def with_mechanism(policy: BackupPolicy, mechanism: RegionLossMechanism, rpo_target: int | None = 15) -> BackupPolicy:
    assert policy.region_loss is not None
    return dataclasses.replace(
        policy,
        region_loss=dataclasses.replace(
            policy.region_loss,
            rpo_target_minutes=rpo_target,
            mechanisms=(RegionLossChoice(ResourceType.RDS, mechanism),),
        ),
    )


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


def test_region_loss_rpo_of_copies_counts_rds_snapshots_once_a_day_under_continuous_backup() -> None:
    copies = with_mechanism(PRODUCTION, RegionLossMechanism.COPIES, rpo_target=None)
    dr = achieved_dr_rpo(copies, ResourceType.RDS)
    assert dr is not None and dr.worst_case_minutes == 1440 + 60 and dr.meets_target  # not held: no target
    ebs = achieved_dr_rpo(PRODUCTION, ResourceType.EBS)  # a type the region-loss part does not name: copies
    assert ebs is not None and ebs.worst_case_minutes == 120 and "copies in us-west-2" in ebs.mechanism
    assert achieved_dr_rpo(STAGING, ResourceType.RDS) is None


def test_production_meets_the_region_loss_rpo_with_a_read_replica() -> None:
    dr = achieved_dr_rpo(PRODUCTION, ResourceType.RDS)
    assert dr is not None
    assert (dr.worst_case_minutes, dr.target_minutes, dr.meets_target) == (1, 15, True)
    assert dr.mechanism.startswith("cross-Region read replica in us-west-2")
    assert check_region_loss_targets(PRODUCTION) == []


def test_copies_alone_refuse_the_region_loss_target_naming_the_field_and_what_is_allowed() -> None:
    (finding,) = check_region_loss_targets(with_mechanism(PRODUCTION, RegionLossMechanism.COPIES))
    assert finding.startswith(
        "region_loss.mechanisms[0].mechanism: got 'copies'; the region-loss RPO for RDS would be 25 h"
    )
    assert "above region_loss.rpo_target_minutes (15 min); allowed: replica," in finding


def test_backup_replication_is_reported_at_its_upper_bound_and_never_meets_15_minutes() -> None:
    no_continuous = dataclasses.replace(PRODUCTION, rules=PRODUCTION.snapshot_rules)
    replicated = with_mechanism(no_continuous, RegionLossMechanism.BACKUP_REPLICATION)
    dr = achieved_dr_rpo(replicated, ResourceType.RDS)
    assert dr is not None and dr.worst_case_minutes == 30 and not dr.meets_target
    assert "got 'backup-replication'" in check_region_loss_targets(replicated)[0]
    relaxed = with_mechanism(no_continuous, RegionLossMechanism.BACKUP_REPLICATION, rpo_target=30)
    assert check_region_loss_targets(relaxed) == []


def test_an_unnamed_type_is_refused_under_its_default_mechanism() -> None:
    policy = dataclasses.replace(PRODUCTION, protected_resource_types=(ResourceType.RDS, ResourceType.EBS))
    assert policy.region_loss is not None
    strict = dataclasses.replace(policy, region_loss=dataclasses.replace(policy.region_loss, rpo_target_minutes=60))
    (finding,) = check_region_loss_targets(strict)  # EBS: copies of the hourly rule, 2 h
    assert finding.startswith("region_loss.mechanisms: got 'copies (the default for EBS)'; the region-loss RPO for EBS")
    assert "allowed: none, or relax" in finding


def test_the_rto_paths_name_the_region_loss_mechanism() -> None:
    in_region, region_loss, account_loss = rto_paths(PRODUCTION)
    assert (account_loss.scope, account_loss.target_minutes) == ("account loss", None)
    assert "--from-backup-account" in account_loss.steps
    assert (in_region.scope, in_region.target_minutes) == ("in-region", 60)
    assert (region_loss.scope, region_loss.target_minutes) == ("region loss", 60)
    assert region_loss.steps.startswith("promote the read replica in us-west-2")
    copies = with_mechanism(PRODUCTION, RegionLossMechanism.COPIES, rpo_target=None)
    assert rto_paths(copies)[1].steps.startswith("restore the newest copy in us-west-2")
    assert [p.scope for p in rto_paths(STAGING)] == ["in-region"]


def test_losing_the_account_costs_the_isolated_copys_gap_plus_its_window_and_is_not_held_to_a_target() -> None:
    found = achieved_account_loss_rpo(PRODUCTION, ResourceType.RDS)
    assert found is not None
    assert found.worst_case_minutes == 24 * 60 + 240 and found.target_minutes is None and found.meets_target
    assert "ecommerce-backup-production-isolated" in found.mechanism
    hourly = BackupPolicy.from_context({"accountIsolation": {"schedule": "cron(0 */6 * * ? *)"}})
    assert achieved_account_loss_rpo(hourly, ResourceType.RDS).worst_case_minutes == 6 * 60 + 240  # type: ignore[union-attr]
    assert achieved_account_loss_rpo(STAGING, ResourceType.RDS) is None


def test_configuration_rpo_for_both_scopes_and_both_kinds_of_change() -> None:
    rows = {(c.scope, c.change): c.worst_case_minutes for c in config_rpo(PRODUCTION)}
    assert rows == {
        ("in-region", "through a deploy"): 0,
        ("in-region", "out of band"): 360,
        ("region loss", "through a deploy"): 15,
        ("region loss", "out of band"): 375,
    }
    no_deploy = dataclasses.replace(
        STAGING, config_backup=dataclasses.replace(STAGING.config_backup, on_deploy=False, schedule="cron(0 * * * ? *)")
    )
    assert {(c.scope, c.change): c.worst_case_minutes for c in config_rpo(no_deploy)} == {
        ("in-region", "through a deploy"): 60,
        ("in-region", "out of band"): 60,
    }


def test_a_configuration_rpo_target_is_checked_at_synth() -> None:
    def target(minutes: int) -> BackupPolicy:
        return dataclasses.replace(
            PRODUCTION, config_backup=dataclasses.replace(PRODUCTION.config_backup, rpo_target_minutes=minutes)
        )

    assert check_config_rpo_target(target(375)) == []
    findings = check_config_rpo_target(target(60))
    assert [f.split(" is ")[0] for f in findings] == [
        "config_backup.rpo_target_minutes: got 60; the configuration RPO in-region, out of band,",
        "config_backup.rpo_target_minutes: got 60; the configuration RPO region loss, out of band,",
    ]


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
