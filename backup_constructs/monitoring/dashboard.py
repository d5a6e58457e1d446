"""The environment's CloudWatch dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from backup_constructs.core.alarms import project_metric
from backup_constructs.monitoring.vault_metrics import BACKUP_FAILURE_METRICS
from backup_constructs.policy import BackupPolicy
from lambdas.contract.metrics import (
    CONFIG_BACKUP_AGE,
    RECOVERY_POINT_AGE,
    RESTORE_TIME,
    RPO_EXPOSURE,
    VALIDATION_FAILURES,
)


def backup_dashboard(
    scope: Construct,
    policy: BackupPolicy,
    *,
    vault_name: str,
    databases: Sequence[str],
    resources: Sequence[str],
    namespaces: Sequence[str],
    alarms: Sequence[cw.IAlarm],
    replica_identifier: str | None = None,
) -> cw.Dashboard:
    """Per environment: RPO exposure against the target, recovery point ages, job failures, restore times
    against the RTO (each from the region that publishes it), configuration backup ages, alarm status."""
    env = policy.environment
    rpo = cw.HorizontalAnnotation(value=policy.rpo_target_minutes, label="RPO target")
    rto = cw.HorizontalAnnotation(value=policy.rto_target_minutes, label="RTO target")
    dashboard = cw.Dashboard(scope, "Dashboard", dashboard_name=f"{env}-backup-strategy")
    in_region = [project_metric(RPO_EXPOSURE, (env, d), "Maximum") for d in databases]
    exposure: list[cw.IMetric] = list(in_region)
    annotations = [rpo]
    spec = policy.region_loss
    if replica_identifier and policy.dr_region and spec is not None:
        # With a replica, what the loss of this region would lose is the replica's lag, which RDS
        # publishes (seconds) in the replica's region.
        lag = cw.Metric(
            namespace="AWS/RDS",
            metric_name="ReplicaLag",
            dimensions_map={"DBInstanceIdentifier": replica_identifier},
            statistic="Maximum",
            period=Duration.minutes(1),
            region=policy.dr_region,
        )
        exposure.append(
            cw.MathExpression(
                expression="lag / 60",
                using_metrics={"lag": lag},
                label=f"region-loss exposure ({replica_identifier} lag, {policy.dr_region})",
                period=Duration.minutes(1),
            )
        )
        if spec.rpo_target_minutes is not None and spec.rpo_target_minutes != policy.rpo_target_minutes:
            annotations.append(cw.HorizontalAnnotation(value=spec.rpo_target_minutes, label="region-loss RPO target"))
    dashboard.add_widgets(
        cw.GraphWidget(
            title="RPO exposure (min): in-region and on region loss"
            if len(exposure) > len(in_region)
            else "RPO exposure per database (min)",
            left=exposure,
            left_annotations=annotations,
            width=12,
        ),
        cw.GraphWidget(
            title="Newest recovery point age (min)",
            left=[project_metric(RECOVERY_POINT_AGE, (env, r), "Maximum", minutes=15) for r in resources],
            width=12,
        ),
    )
    dashboard.add_widgets(
        cw.GraphWidget(
            title="AWS Backup job failures",
            left=[
                cw.Metric(
                    namespace="AWS/Backup",
                    metric_name=m,
                    dimensions_map={"BackupVaultName": vault_name},
                    statistic="Sum",
                    period=Duration.hours(1),
                )
                for m in BACKUP_FAILURE_METRICS
            ],
            width=12,
        ),
        cw.GraphWidget(
            title="Restore tests and drills: measured restore time (min) vs RTO",
            # Each kind from the region its validator publishes in (drills: the DR region).
            left=[
                project_metric(RESTORE_TIME, (env, k), "Maximum", hours=24, region=r)
                for k, r in _restore_test_regions(policy)
            ],
            right=[
                project_metric(VALIDATION_FAILURES, (env, k), "Maximum", hours=24, region=r)
                for k, r in _restore_test_regions(policy)
            ],
            left_annotations=[rto],
            width=12,
        ),
    )
    if namespaces:
        dashboard.add_widgets(
            cw.GraphWidget(
                title="Kubernetes configuration backup age (min)",
                left=[project_metric(CONFIG_BACKUP_AGE, (env, n), "Maximum", minutes=15) for n in namespaces],
                width=12,
            ),
            cw.AlarmStatusWidget(title="Backup alarms", alarms=list(alarms), width=12),
        )
    return dashboard


def _restore_test_regions(policy: BackupPolicy) -> list[tuple[str, str | None]]:
    kinds: list[tuple[str, str | None]] = [("monthly", None)]
    if policy.dr_region and policy.restore_testing.drill_schedule:
        kinds.append(("drill", policy.dr_region))
    return kinds
