"""What a policy achieves: worst-case RPO per resource type and the synth-time policy checks.

Pure functions of a :class:`BackupPolicy`, shared by the constructs' validations, the synth summary
and the generated strategy document. Each check is a small rule in the cdk-nag shape: it returns
the findings it has (empty when compliant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from backup_constructs.policy import (
    PITR_RPO_MINUTES,
    BackupPolicy,
    BackupRule,
    PolicyError,
    RegionLossChoice,
    RegionLossMechanism,
    ResourceType,
)
from backup_constructs.policy.cron import CronSchedule, max_gap_minutes
from backup_constructs.policy.model import REGION_LOSS_SUPPORT

DAY_MINUTES = 1440
# A cross-Region read replica streams asynchronously; its lag is seconds in normal operation.
REPLICA_RPO_MINUTES = 1
# RDS cross-Region automated backups replication: AWS quotes an RPO of minutes to tens of minutes.
BACKUP_REPLICATION_RPO_MINUTES = 30
# S3 Replication Time Control replicates 99.99 % of objects within 15 minutes.
S3_REPLICATION_TIME_MINUTES = 15


@dataclass(frozen=True)
class RpoAssessment:
    """The worst-case data loss for one resource type, and how it is achieved. A ``None`` target
    is reported but not held."""

    resource_type: ResourceType
    worst_case_minutes: int
    mechanism: str
    target_minutes: int | None

    @property
    def meets_target(self) -> bool:
        return self.target_minutes is None or self.worst_case_minutes <= self.target_minutes


def _snapshot_interval(policy: BackupPolicy, rules: list[BackupRule], resource_type: ResourceType) -> int:
    """Worst case between two usable snapshots: the largest gap plus the latest a job may start."""
    interval = max_gap_minutes([r.cron for r in rules])
    if resource_type is ResourceType.RDS and policy.continuous_rules:
        # With continuous backup on, RDS takes at most one snapshot a day whatever the schedule.
        interval = max(interval, DAY_MINUTES)
    return interval + max(r.start_window_minutes for r in rules)


def achieved_rpo(policy: BackupPolicy, resource_type: ResourceType) -> RpoAssessment:
    """Worst-case RPO in the primary region for ``resource_type`` under ``policy``."""
    target = policy.rpo_target_minutes
    if resource_type.supports_continuous_backup and policy.continuous_rules:
        days = max(r.retention_days for r in policy.continuous_rules)
        return RpoAssessment(resource_type, PITR_RPO_MINUTES, f"AWS Backup continuous backup (PITR, {days} d)", target)
    if resource_type is ResourceType.DYNAMODB:
        return RpoAssessment(
            resource_type, PITR_RPO_MINUTES, "DynamoDB point-in-time recovery (on for every protected table)", target
        )
    if resource_type.has_native_pitr and policy.rds_automated_backup_retention_days >= 1:
        days = policy.rds_automated_backup_retention_days
        return RpoAssessment(resource_type, PITR_RPO_MINUTES, f"RDS automated backups (PITR, {days} d)", target)
    rules = list(policy.snapshot_rules) or list(policy.rules)
    worst = _snapshot_interval(policy, rules, resource_type)
    return RpoAssessment(resource_type, worst, f"scheduled snapshots ({_describe(rules)})", target)


def achieved_dr_rpo(policy: BackupPolicy, resource_type: ResourceType) -> RpoAssessment | None:
    """Worst-case RPO after losing the primary region, from the mechanism that carries the type to
    the DR region; ``None`` without a DR region (or with copies and nothing copied).

    - ``replica``: the replica's lag, seconds in normal operation (rounded up to a minute here);
      the live ``ReplicaLag`` alarm at the region-loss target is what holds it.
    - ``backup-replication``: AWS quotes minutes to tens of minutes for replicated automated
      backups; the upper end is used, so it never counts toward a 15-minute target.
    - ``copies``: a copy is a snapshot (a continuous recovery point is copied as a snapshot, with no
      PITR): the largest gap between copied backups; the copy job's own duration comes on top.
    """
    mechanism = policy.region_loss_mechanism(resource_type)
    if mechanism is None or policy.dr_region is None:
        return None
    target = policy.region_loss.rpo_target_minutes if policy.region_loss else None
    if mechanism is RegionLossMechanism.REPLICA:
        return RpoAssessment(
            resource_type,
            REPLICA_RPO_MINUTES,
            f"cross-Region read replica in {policy.dr_region} (replica lag, alarmed above the target)",
            target,
        )
    if mechanism is RegionLossMechanism.BACKUP_REPLICATION:
        return RpoAssessment(
            resource_type,
            BACKUP_REPLICATION_RPO_MINUTES,
            f"RDS automated backups replicated to {policy.dr_region} "
            "(PITR there; AWS quotes minutes to tens of minutes)",
            target,
        )
    rules = [r for r in policy.rules if r.copy_to_dr]
    if not rules:
        return None
    worst = _snapshot_interval(policy, rules, resource_type)
    return RpoAssessment(resource_type, worst, f"copies in {policy.dr_region} ({_describe(rules)})", target)


def achieved_account_loss_rpo(policy: BackupPolicy, resource_type: ResourceType) -> RpoAssessment | None:
    """Worst-case RPO when the whole account is lost or in hostile hands, from the isolated copy in the
    backup account: the copy schedule's largest gap plus the rule's completion window (the snapshot and
    its copy finish within it). Reported, not held to a target: the guide states none for it."""
    spec = policy.account_isolation
    if spec is None or policy.isolated_vault_name is None:
        return None
    worst = spec.interval_minutes + spec.completion_window_minutes
    where = "a logically air-gapped vault" if spec.vault_kind.value == "logically-air-gapped" else "the backup account"
    return RpoAssessment(
        resource_type,
        worst,
        f"daily copy into {policy.isolated_vault_name} in {where} (kept {spec.retention_days} d)",
        None,
    )


@dataclass(frozen=True)
class RtoPath:
    """How service comes back for one scope, with the target it is held to (``None``: not held) and
    what measures it (the targets are met when the measured time is at most the target)."""

    scope: str
    steps: str
    target_minutes: int | None
    measured_by: str


def rto_paths(policy: BackupPolicy) -> list[RtoPath]:
    """The in-region and (with a DR region) the region-loss recovery path."""
    paths = [
        RtoPath(
            "in-region",
            "restore the newest recovery point as a new instance, apply the configuration backup, verify",
            policy.rto_target_minutes,
            "the monthly restore test (restore time per run, alarmed above the target)",
        )
    ]
    if policy.dr_region is not None:
        target = policy.region_loss.rto_target_minutes if policy.region_loss else None
        if policy.wants_replica:
            steps = f"promote the read replica in {policy.dr_region}, restore the replicated configuration, verify"
        else:
            steps = (
                f"restore the newest copy in {policy.dr_region} as a new instance, restore the configuration, verify"
            )
        paths.append(
            RtoPath(
                "region loss",
                steps,
                target,
                "the quarterly DR drill in the DR region (alarmed above the target) and `backupctl dr failover`",
            )
        )
    if policy.account_isolation is not None:
        paths.append(
            RtoPath(
                "account loss",
                "restore the newest isolated copy in the backup account, with that account's credentials "
                "(`backupctl db restore --env ENV --from-backup-account`), as a new instance there, then repoint",
                None,
                "the restore's own report when it is run (no scheduled test restores in the backup account)",
            )
        )
    return paths


@dataclass(frozen=True)
class ConfigRpo:
    """The configuration backup's worst-case data loss for one scope and kind of change."""

    scope: str
    change: str
    worst_case_minutes: int
    how: str


def config_rpo(policy: BackupPolicy) -> list[ConfigRpo]:
    """Configuration RPO in-region and after region loss, for a change made through a deploy (the
    deploy exports it) and one made out of band (the next scheduled run finds it). Replication to
    the DR region uses S3 Replication Time Control (objects within 15 minutes)."""
    spec = policy.config_backup
    interval = max_gap_minutes([CronSchedule.parse(spec.schedule)])
    through_deploy = (0, "exported by the deploy") if spec.on_deploy else (interval, "the next scheduled export")
    out = [
        ConfigRpo("in-region", "through a deploy", through_deploy[0], through_deploy[1]),
        ConfigRpo("in-region", "out of band", interval, f"the next scheduled export ({spec.schedule})"),
    ]
    if policy.dr_region is not None:
        out += [
            ConfigRpo(
                "region loss",
                c.change,
                c.worst_case_minutes + S3_REPLICATION_TIME_MINUTES,
                f"{c.how} + replication to {policy.dr_region} (S3 RTC, {S3_REPLICATION_TIME_MINUTES} min)",
            )
            for c in list(out)
        ]
    return out


def _describe(rules: list[BackupRule]) -> str:
    return ", ".join(f"{r.name} every {format_minutes(r.interval_minutes)}" for r in rules)


def format_minutes(minutes: int) -> str:
    if minutes == 0:
        return "0 min"
    if minutes % DAY_MINUTES == 0:
        days = minutes // DAY_MINUTES
        return f"{days} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    if minutes > 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} min"


# Policy checks ------------------------------------------------------------------------------------


def check_rpo_targets(policy: BackupPolicy) -> list[str]:
    return [
        f"RPO for {a.resource_type.value} is {format_minutes(a.worst_case_minutes)} ({a.mechanism}), "
        f"above the target of {format_minutes(policy.rpo_target_minutes)}: add a continuous rule or a more "
        "frequent schedule, or raise rpo_target_minutes"
        for a in (achieved_rpo(policy, t) for t in policy.protected_resource_types)
        if not a.meets_target
    ]


def check_continuous_covers_pitr(policy: BackupPolicy) -> list[str]:
    pitr = policy.database.pitr_days
    return [
        f"rules[{r.name}].retention_days is {r.retention_days}, shorter than database.pitr_days "
        f"({pitr}): point-in-time recovery would not reach back {pitr} days"
        for r in policy.continuous_rules
        if r.retention_days < pitr
    ]


def check_region_loss_targets(policy: BackupPolicy) -> list[str]:
    """A region-loss RPO above the region-loss target refuses the synth, naming the mechanism field."""
    spec = policy.region_loss
    if spec is None or spec.rpo_target_minutes is None:
        return []
    target = spec.rpo_target_minutes
    findings = []
    for resource_type in policy.protected_resource_types:
        a = achieved_dr_rpo(policy, resource_type)
        mechanism = policy.region_loss_mechanism(resource_type)
        assert mechanism is not None
        index = spec.index_of(resource_type)
        where = f"region_loss.mechanisms[{index}].mechanism" if index is not None else "region_loss.mechanisms"
        value = mechanism.value if index is not None else f"{mechanism.value} (the default for {resource_type.value})"
        if a is None:
            findings.append(
                f"{where}: got {value!r}; nothing reaches {policy.dr_region} for {resource_type.value} "
                "(no rule copies); allowed: a mechanism that does, or copy_to_dr on a rule"
            )
        elif not a.meets_target:
            allowed = sorted(
                m.value
                for m, types in REGION_LOSS_SUPPORT.items()
                if resource_type in types and m is not mechanism and _mechanism_rpo(policy, resource_type, m)
            )
            findings.append(
                f"{where}: got {value!r}; the region-loss RPO for {resource_type.value} would be "
                f"{format_minutes(a.worst_case_minutes)} ({a.mechanism}), above region_loss.rpo_target_minutes "
                f"({format_minutes(target)}); allowed: {', '.join(allowed) or 'none'}, "
                "or relax region_loss.rpo_target_minutes explicitly"
            )
    return findings


def _mechanism_rpo(policy: BackupPolicy, resource_type: ResourceType, mechanism: RegionLossMechanism) -> bool:
    """Whether ``mechanism`` would meet the region-loss RPO target for ``resource_type``."""
    assert policy.region_loss is not None
    others = tuple(c for c in policy.region_loss.mechanisms if c.resource_type is not resource_type)
    try:
        trial = dataclasses.replace(
            policy,
            region_loss=dataclasses.replace(
                policy.region_loss, mechanisms=(*others, RegionLossChoice(resource_type, mechanism))
            ),
        )
    except PolicyError:
        return False
    assessment = achieved_dr_rpo(trial, resource_type)
    return assessment is not None and assessment.meets_target


def check_config_rpo_target(policy: BackupPolicy) -> list[str]:
    target = policy.config_backup.rpo_target_minutes
    if target is None:
        return []
    return [
        f"config_backup.rpo_target_minutes: got {target}; the configuration RPO {c.scope}, {c.change}, is "
        f"{format_minutes(c.worst_case_minutes)} ({c.how}); allowed: at least {c.worst_case_minutes}, or a more "
        "frequent config_backup.schedule"
        for c in config_rpo(policy)
        if c.worst_case_minutes > target
    ]


def check_dr_copy(policy: BackupPolicy) -> list[str]:
    if policy.dr_region is not None and not any(r.copy_to_dr for r in policy.rules):
        return [
            f"dr_region is {policy.dr_region!r} but no rule copies to it: set copy_to_dr on at "
            "least one rule, or remove dr_region"
        ]
    return []


POLICY_CHECKS: tuple[Callable[[BackupPolicy], list[str]], ...] = (
    check_rpo_targets,
    check_continuous_covers_pitr,
    check_dr_copy,
    check_region_loss_targets,
    check_config_rpo_target,
)


def policy_findings(policy: BackupPolicy) -> list[str]:
    """Every finding of every policy check, in check order."""
    return [finding for check in POLICY_CHECKS for finding in check(policy)]


# Alarm thresholds ---------------------------------------------------------------------------------


def recovery_point_age_allowance_minutes(policy: BackupPolicy, resource_type: ResourceType) -> int:
    """How old the newest recovery point of a resource may get before something is wrong: the
    longest scheduled gap (RDS: one snapshot a day under continuous backup) plus the windows in
    which the job may start and must complete."""
    rules = list(policy.snapshot_rules) or list(policy.rules)
    return _snapshot_interval(policy, rules, resource_type) + max(r.completion_window_minutes for r in rules)


def config_backup_age_allowance_minutes(policy: BackupPolicy) -> int:
    """An unchanged namespace is re-backed up after the refresh interval, at the next scheduled run."""
    spec = policy.config_backup
    return spec.refresh_interval_days * DAY_MINUTES + max_gap_minutes([CronSchedule.parse(spec.schedule)])


def config_check_age_allowance_minutes(policy: BackupPolicy) -> int:
    """Two scheduled runs missed in a row means the export has stopped running."""
    return 2 * max_gap_minutes([CronSchedule.parse(policy.config_backup.schedule)])
