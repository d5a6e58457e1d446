"""AWS Backup Audit Manager evidence: a framework whose controls are parameterised from the policy.

Backup Audit Manager evaluates controls with AWS Config: AWS Config must record the AWS Backup
resource types (backup plans, selections, vaults, recovery points) in the region first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aws_cdk import Annotations
from aws_cdk import aws_backup as backup
from constructs import Construct

from backup_constructs.policy import BackupPolicy
from backup_constructs.rpo import recovery_point_age_allowance_minutes


def _control(
    name: str, parameters: dict[str, str] | None, resource_types: Sequence[str] | None
) -> backup.CfnFramework.FrameworkControlProperty:
    return backup.CfnFramework.FrameworkControlProperty(
        control_name=name,
        control_input_parameters=[
            backup.CfnFramework.ControlInputParameterProperty(parameter_name=k, parameter_value=v)
            for k, v in (parameters or {}).items()
        ]
        or None,
        control_scope={"ComplianceResourceTypes": list(resource_types)} if resource_types else None,
    )


def _frequency(minutes: int) -> tuple[str, str]:
    """The control's (unit, value): hours up to a day, then days."""
    if minutes < 1440:
        return "hours", str(max(1, math.ceil(minutes / 60)))
    return "days", str(math.ceil(minutes / 1440))


# BACKUP_LAST_RECOVERY_POINT_CREATED accepts 1 to 744 hours or 1 to 31 days.
MAX_AGE_HOURS = 744
MAX_AGE_DAYS = 31


def recovery_point_age_parameters(policy: BackupPolicy) -> tuple[str, str] | None:
    """(unit, value) of the control, or None when the allowance is longer than the control can say."""
    minutes = max(recovery_point_age_allowance_minutes(policy, t) for t in policy.protected_resource_types)
    hours = math.ceil(minutes / 60)
    if hours <= MAX_AGE_HOURS:
        return "hours", str(hours)
    days = math.ceil(minutes / 1440)
    return ("days", str(days)) if days <= MAX_AGE_DAYS else None


def framework_controls(
    policy: BackupPolicy, *, exempt_principal_arns: Sequence[str]
) -> list[backup.CfnFramework.FrameworkControlProperty]:
    """The controls, each derived from the policy (changing the policy changes the controls)."""
    types = [t.value for t in policy.protected_resource_types]
    snapshots = list(policy.snapshot_rules) or list(policy.rules)
    most_frequent = min(snapshots, key=lambda r: r.interval_minutes)
    unit, value = _frequency(most_frequent.interval_minutes)
    shortest = min(r.retention_days for r in policy.rules)
    # The same allowance as the live recovery-point-age alarm (RDS under continuous backup gets one
    # snapshot a day): the most lenient protected type's, since the control takes one value. It
    # counts in whole hours or days; the 15-minute RPO itself is watched by the live RPO alarm.
    age = recovery_point_age_parameters(policy)
    controls = [
        _control("BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN", None, types),
        _control(
            "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
            {
                "requiredFrequencyUnit": unit,
                "requiredFrequencyValue": value,
                "requiredRetentionDays": str(most_frequent.retention_days),
            },
            None,
        ),
        _control("BACKUP_RECOVERY_POINT_ENCRYPTED", None, None),
        _control(
            "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
            {"principalArnList": ",".join(exempt_principal_arns)} if exempt_principal_arns else None,
            None,
        ),
        _control("BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK", {"requiredRetentionDays": str(shortest)}, None),
        _control("RESTORE_TIME_FOR_RESOURCES_MEET_TARGET", {"maxRestoreTime": str(policy.rto_target_minutes)}, types),
    ]
    if age is not None:
        controls.append(
            _control(
                "BACKUP_LAST_RECOVERY_POINT_CREATED",
                {"recoveryPointAgeUnit": age[0], "recoveryPointAgeValue": age[1]},
                types,
            )
        )
    if policy.dr_region:
        controls.append(
            _control("BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION", {"crossRegionList": policy.dr_region}, types)
        )
    if policy.vault_lock:
        controls.append(
            _control(
                "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
                {
                    "minRetentionDays": str(policy.vault_lock.min_retention_days),
                    "maxRetentionDays": str(policy.vault_lock.max_retention_days),
                },
                types,
            )
        )
    return controls


class BackupComplianceFramework(Construct):
    """An AWS Backup Audit Manager framework for one environment.

    Parameters
    ----------
    policy:
        Frequencies, retentions, RTO, DR region and vault lock come from it.
    exempt_principal_arns:
        Principals allowed to delete recovery points (the vault policy's exemptions): the
        manual-deletion control does not count them.
    """

    def __init__(
        self, scope: Construct, id_: str, *, policy: BackupPolicy, exempt_principal_arns: Sequence[str] = ()
    ) -> None:
        super().__init__(scope, id_)
        self.framework = backup.CfnFramework(
            self,
            "Framework",
            framework_name=f"{policy.environment}_backup_strategy".replace("-", "_"),
            framework_description=(
                f"The {policy.environment} backup strategy: protection, frequency, retention, encryption, "
                "deletion protection, cross-region copies and restore time"
            ),
            framework_controls=framework_controls(policy, exempt_principal_arns=exempt_principal_arns),
        )
        if recovery_point_age_parameters(policy) is None:
            Annotations.of(self).add_warning_v2(
                "backup-policy:last-recovery-point",
                f"{policy.environment}: the longest gap between recovery points is more than "
                f"{MAX_AGE_DAYS} days, which BACKUP_LAST_RECOVERY_POINT_CREATED cannot express; the control is "
                "left out (the live recovery-point-age alarm still watches it)",
            )
