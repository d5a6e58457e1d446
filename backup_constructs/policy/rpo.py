"""What a policy achieves: worst-case RPO per resource type and the synth-time policy checks.

Pure functions of a :class:`BackupPolicy`, shared by the constructs' validations, the synth summary
and the generated strategy document. Each check is a small rule in the cdk-nag shape: it returns
the findings it has (empty when compliant).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from backup_constructs.policy import PITR_RPO_MINUTES, BackupPolicy, BackupRule, ResourceType
from backup_constructs.policy.cron import CronSchedule, max_gap_minutes

DAY_MINUTES = 1440


@dataclass(frozen=True)
class RpoAssessment:
    """The worst-case data loss for one resource type, and how it is achieved."""

    resource_type: ResourceType
    worst_case_minutes: int
    mechanism: str
    target_minutes: int

    @property
    def meets_target(self) -> bool:
        return self.worst_case_minutes <= self.target_minutes


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
    if resource_type.has_native_pitr and policy.rds_automated_backup_retention_days >= 1:
        days = policy.rds_automated_backup_retention_days
        return RpoAssessment(resource_type, PITR_RPO_MINUTES, f"RDS automated backups (PITR, {days} d)", target)
    rules = list(policy.snapshot_rules) or list(policy.rules)
    worst = _snapshot_interval(policy, rules, resource_type)
    return RpoAssessment(resource_type, worst, f"scheduled snapshots ({_describe(rules)})", target)


def achieved_dr_rpo(policy: BackupPolicy, resource_type: ResourceType) -> RpoAssessment | None:
    """Worst-case RPO after losing the primary region: only the copies count, and a copy is a
    snapshot (a continuous recovery point is copied as a snapshot, with no PITR). ``None`` when
    nothing is copied. The copy job's own duration comes on top."""
    rules = [r for r in policy.rules if r.copy_to_dr]
    if not rules or policy.dr_region is None:
        return None
    worst = _snapshot_interval(policy, rules, resource_type)
    return RpoAssessment(
        resource_type, worst, f"copies in {policy.dr_region} ({_describe(rules)})", policy.rpo_target_minutes
    )


def _describe(rules: list[BackupRule]) -> str:
    return ", ".join(f"{r.name} every {format_minutes(r.interval_minutes)}" for r in rules)


def format_minutes(minutes: int) -> str:
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
        f"above the target of {format_minutes(a.target_minutes)}: add a continuous rule or a more "
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
