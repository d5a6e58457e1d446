"""AWS Backup Audit Manager evidence: a framework whose controls are parameterised from the policy.

Backup Audit Manager evaluates controls with AWS Config: AWS Config must record the AWS Backup
resource types (backup plans, selections, vaults, recovery points) in the region first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aws_cdk import aws_backup as backup
from constructs import Construct

from backup_constructs.policy import BackupPolicy


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


def framework_controls(
    policy: BackupPolicy, *, exempt_principal_arns: Sequence[str]
) -> list[backup.CfnFramework.FrameworkControlProperty]:
    """The controls, each derived from the policy (changing the policy changes the controls)."""
    types = [t.value for t in policy.protected_resource_types]
    snapshots = list(policy.snapshot_rules) or list(policy.rules)
    most_frequent = min(snapshots, key=lambda r: r.interval_minutes)
    unit, value = _frequency(most_frequent.interval_minutes)
    shortest = min(r.retention_days for r in policy.rules)
    # The control counts in hours or days: the 15-minute RPO itself is watched by the live alarm.
    age_unit, age_value = _frequency(most_frequent.interval_minutes)
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
        _control(
            "BACKUP_LAST_RECOVERY_POINT_CREATED",
            {"recoveryPointAgeUnit": age_unit, "recoveryPointAgeValue": age_value},
            types,
        ),
        _control("RESTORE_TIME_FOR_RESOURCES_MEET_TARGET", {"maxRestoreTime": str(policy.rto_target_minutes)}, types),
    ]
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
