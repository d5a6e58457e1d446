"""AWS Backup Audit Manager evidence: a framework whose controls are parameterised from the policy, and
the report plans that deliver its evidence to an encrypted bucket.

Backup Audit Manager evaluates controls with AWS Config: AWS Config must record the AWS Backup
resource types (backup plans, selections, vaults, recovery points) in the region first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from aws_cdk import Annotations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from backup_constructs.core.buckets import access_log_bucket, protected_bucket
from backup_constructs.core.keys import deployment_role_arn, rotating_key
from backup_constructs.core.nag import acknowledge
from backup_constructs.core.service_linked_roles import BACKUP_REPORTS_ROLE, BACKUP_REPORTS_SERVICE, ServiceLinkedRole
from backup_constructs.policy import BackupPolicy, PolicyError
from backup_constructs.policy.rpo import recovery_point_age_allowance_minutes


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
# BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED takes at most 5 principal ARNs.
MAX_EXEMPT_PRINCIPALS = 5
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
        # Exactly the vault policy's exemptions: the deploy role (its exact ARN) and the break-glass roles.
        deployer = deployment_role_arn(self)
        exempt = [*([deployer] if deployer else []), *exempt_principal_arns]
        if len(exempt) > MAX_EXEMPT_PRINCIPALS:
            raise PolicyError(
                f"break_glass_role_arns: got {len(exempt_principal_arns)}; the manual-deletion control lists at "
                f"most {MAX_EXEMPT_PRINCIPALS} principals, the deploy role included; allowed: "
                f"at most {MAX_EXEMPT_PRINCIPALS - (1 if deployer else 0)}"
            )
        self.framework = backup.CfnFramework(
            self,
            "Framework",
            framework_name=f"{policy.environment}_backup_strategy".replace("-", "_"),
            framework_description=(
                f"The {policy.environment} backup strategy: protection, frequency, retention, encryption, "
                "deletion protection, cross-region copies and restore time"
            ),
            framework_controls=framework_controls(policy, exempt_principal_arns=exempt),
        )
        if recovery_point_age_parameters(policy) is None:
            Annotations.of(self).add_warning_v2(
                "backup-policy:last-recovery-point",
                f"{policy.environment}: the longest gap between recovery points is more than "
                f"{MAX_AGE_DAYS} days, which BACKUP_LAST_RECOVERY_POINT_CREATED cannot express; the control is "
                "left out (the live recovery-point-age alarm still watches it)",
            )


REPORTS_PREFIX = "backup-reports"
REPORT_TEMPLATES = ("BACKUP_JOB_REPORT", "COPY_JOB_REPORT", "RESTORE_JOB_REPORT")


def reports_bucket(scope: Construct, policy: BackupPolicy) -> s3.Bucket:
    """The encrypted, TLS-only, access-logged bucket report plans deliver to."""
    # The bucket and key policies name the reports service-linked role itself: its own managed
    # policy grants no s3:PutObject and no KMS action, so "account root + aws:PrincipalArn"
    # would grant it nothing, and a policy naming a role that does not exist yet is rejected.
    service_role = ServiceLinkedRole(
        scope,
        "ReportsServiceRole",
        policy=policy,
        service_name=BACKUP_REPORTS_SERVICE,
        role_name=BACKUP_REPORTS_ROLE,
    )
    reports_role = iam.ArnPrincipal(service_role.role_arn)
    key = rotating_key(
        scope,
        "ReportsKey",
        description=f"Encrypts {policy.environment} Backup Audit Manager reports",
    )
    # What AWS documents for report delivery into an SSE-KMS bucket: kms:GenerateDataKey.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="BackupReportsWriteEncrypted",
            principals=[reports_role],
            actions=["kms:GenerateDataKey"],
            resources=["*"],  # in a key policy "*" is this key
        )
    )
    key.node.add_dependency(service_role.resource)
    bucket = protected_bucket(
        scope,
        "Reports",
        encryption_key=key,
        retention_days=policy.restore_testing.report_retention_days,
        access_logs=access_log_bucket(scope, "ReportsAccessLogs"),
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="BackupReportsDelivery",
            principals=[reports_role],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{REPORTS_PREFIX}/*")],
            conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}},
        )
    )
    assert bucket.policy is not None
    bucket.policy.node.add_dependency(service_role.resource)
    acknowledge(
        bucket,
        "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
        "Audit reports are regenerated by Backup Audit Manager from the region's job history.",
    )
    return bucket


def report_plans(
    scope: Construct, policy: BackupPolicy, bucket: s3.Bucket, framework: backup.CfnFramework
) -> list[backup.CfnReportPlan]:
    """Backup, copy and restore job reports and the framework's control compliance report."""
    env = policy.environment.replace("-", "_")
    # These two properties are plain JSON in the CloudFormation schema: PascalCase keys.
    delivery = {
        "S3BucketName": bucket.bucket_name,
        "S3KeyPrefix": REPORTS_PREFIX,
        "Formats": ["CSV", "JSON"],
    }
    settings: list[tuple[str, str, dict[str, object]]] = [
        (template, template.lower(), {"ReportTemplate": template}) for template in REPORT_TEMPLATES
    ]
    settings.append(
        (
            "CONTROL_COMPLIANCE_REPORT",
            "control_compliance_report",
            {
                "ReportTemplate": "CONTROL_COMPLIANCE_REPORT",
                "FrameworkArns": [framework.attr_framework_arn],
            },
        )
    )
    plans = [
        backup.CfnReportPlan(
            scope,
            template.title().replace("_", ""),
            report_plan_name=f"{env}_{name}",
            report_plan_description=f"{template} for {policy.environment}",
            report_delivery_channel=delivery,
            report_setting=setting,
        )
        for template, name, setting in settings
    ]
    assert bucket.policy is not None
    for plan in plans:  # reports are delivered only once the bucket admits them
        plan.node.add_dependency(bucket.policy)
    return plans
