"""A policy rule as an AWS Backup plan rule: the main plan's, the DR failover plan's and the isolated
copies' plan's rules all come from here."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events

from backup_constructs.policy import BackupPolicy, BackupRule


def plan_rule(
    policy: BackupPolicy, rule: BackupRule, *, copy_targets: Sequence[backup.IBackupVault] = ()
) -> backup.BackupPlanRule:
    """One policy rule as a plan rule, copied to ``copy_targets`` when the rule copies to DR."""
    copies: list[backup.BackupPlanCopyActionProps] = []
    if rule.copy_to_dr and rule.dr_retention_days is not None:
        copies = [
            backup.BackupPlanCopyActionProps(
                destination_backup_vault=target, delete_after=Duration.days(rule.dr_retention_days)
            )
            for target in copy_targets
        ]
    return backup.BackupPlanRule(
        rule_name=rule.name,
        schedule_expression=events.Schedule.expression(rule.schedule),
        start_window=Duration.minutes(rule.start_window_minutes),
        completion_window=Duration.minutes(rule.completion_window_minutes),
        delete_after=Duration.days(rule.retention_days),
        enable_continuous_backup=True if rule.continuous else None,
        copy_actions=copies or None,
        recovery_point_tags={"backup-environment": policy.environment, "backup-rule": rule.name},
    )
