"""Alarms on the project's metrics and on AWS's, written once: one-line descriptions prefixed with the
environment, routed to an alert topic in the alarm's own region (CloudWatch alarms only see metrics
published in their region)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from backup_constructs.policy import BackupPolicy
from lambdas.contract.metrics import DATA_LOSS, METRIC_NAMESPACE, RESTORE_TIME, VALIDATION_FAILURES, MetricDefinition


def project_metric(
    definition: MetricDefinition,
    dimension_values: Sequence[str],
    statistic: str,
    *,
    minutes: int = 5,
    hours: int = 0,
    region: str | None = None,
) -> cw.Metric:
    """A metric of the project's own namespace (published by the runtime functions), with one
    value per dimension of its contract definition, in order."""
    return cw.Metric(
        namespace=METRIC_NAMESPACE,
        metric_name=definition.name,
        dimensions_map=definition.dimension_map(*dimension_values),
        statistic=statistic,
        period=Duration.hours(hours) if hours else Duration.minutes(minutes),
        region=region,
    )


def policy_alarm(
    scope: Construct,
    id_: str,
    metric: cw.IMetric,
    *,
    environment: str,
    action: cw.IAlarmAction,
    threshold: float,
    description: str,
    missing: cw.TreatMissingData,
    comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
) -> cw.Alarm:
    """An alarm that evaluates one period and notifies ``action`` (the region's alert topic)."""
    alarm = cw.Alarm(
        scope,
        id_,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=comparison,
        treat_missing_data=missing,
        alarm_description=f"[{environment}] {description}",
    )
    alarm.add_alarm_action(action)
    return alarm


def restore_test_alarms(policy: BackupPolicy, *, kind: str, alarm: Callable[..., cw.Alarm]) -> list[cw.Alarm]:
    """Alarms on one kind of restore test (``monthly`` or ``drill``): restore time over the RTO and
    failed integrity checks, in the region of the validator that publishes them."""
    env = policy.environment
    dims = (env, kind)
    rpo, rto = policy.restore_test_targets(kind)
    return [
        alarm(
            f"RestoreTimeOverRto-{kind}",
            project_metric(RESTORE_TIME, dims, "Maximum", hours=24),
            threshold=rto,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"{kind} restore took longer than the RTO of {rto} min",
            missing=cw.TreatMissingData.NOT_BREACHING,
        ),
        alarm(
            f"DataLossOverRpo-{kind}",
            project_metric(DATA_LOSS, dims, "Maximum", hours=24),
            threshold=rpo,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            description=f"the {kind} restore's newest heartbeat was more than the RPO of {rpo} min old",
            missing=cw.TreatMissingData.NOT_BREACHING,
        ),
        alarm(
            f"ValidationFailures-{kind}",
            project_metric(VALIDATION_FAILURES, dims, "Maximum", hours=24),
            threshold=1,
            description=f"{kind} restore validation found failed integrity checks",
            missing=cw.TreatMissingData.NOT_BREACHING,
        ),
    ]


def vault_job_alarms(
    vault_name: str, metric_names: Sequence[str], *, alarm: Callable[..., cw.Alarm], id_suffix: str = ""
) -> list[cw.Alarm]:
    """An alarm per ``AWS/Backup`` job metric of one vault (any failure in five minutes)."""
    return [
        alarm(
            f"{name}{id_suffix}",
            cw.Metric(
                namespace="AWS/Backup",
                metric_name=name,
                dimensions_map={"BackupVaultName": vault_name},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            description=f"{name} in vault {vault_name}",
            missing=cw.TreatMissingData.NOT_BREACHING,
        )
        for name in metric_names
    ]


# Replication to the DR region (S3 Replication Time Control, RDS read replica) --------------------

S3_REPLICATION_RULE_ID = "to-dr-region"


def replication_metric(name: str, source_bucket: str, destination_bucket: str, statistic: str) -> cw.Metric:
    """An ``AWS/S3`` replication metric of one rule (published with RTC's replication metrics)."""
    return cw.Metric(
        namespace="AWS/S3",
        metric_name=name,
        dimensions_map={
            "SourceBucket": source_bucket,
            "DestinationBucket": destination_bucket,
            "RuleId": S3_REPLICATION_RULE_ID,
        },
        statistic=statistic,
        period=Duration.minutes(5),
    )


def replication_latency_alarm(
    source_bucket: str, destination_bucket: str, *, minutes: int, alarm: Callable[..., cw.Alarm]
) -> cw.Alarm:
    """``ReplicationLatency`` above the replication time (S3 publishes it in the destination's region);
    no data means nothing was replicated (AWS: treat missing data as ignore)."""
    return alarm(
        "ConfigReplicationLatency",
        replication_metric("ReplicationLatency", source_bucket, destination_bucket, "Maximum"),
        threshold=minutes * 60,
        comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        description=f"configuration backups reach {destination_bucket} later than {minutes} min",
        missing=cw.TreatMissingData.IGNORE,
    )


def replication_failure_alarm(
    source_bucket: str, destination_bucket: str, *, alarm: Callable[..., cw.Alarm]
) -> cw.Alarm:
    """``OperationsFailedReplication`` (S3 publishes it in the source bucket's region)."""
    return alarm(
        "ConfigReplicationFailed",
        replication_metric("OperationsFailedReplication", source_bucket, destination_bucket, "Sum"),
        threshold=1,
        description=f"configuration backups failed to replicate to {destination_bucket}",
        missing=cw.TreatMissingData.NOT_BREACHING,
    )


def replica_lag_alarm(replica_identifier: str, *, rpo_minutes: int, alarm: Callable[..., cw.Alarm]) -> cw.Alarm:
    """``ReplicaLag`` (seconds, measured on the replica, in its region) above the region-loss RPO; no
    data breaches (a replica that reports nothing protects nothing)."""
    return alarm(
        "ReplicaLag",
        cw.Metric(
            namespace="AWS/RDS",
            metric_name="ReplicaLag",
            dimensions_map={"DBInstanceIdentifier": replica_identifier},
            statistic="Maximum",
            period=Duration.minutes(1),
        ),
        threshold=rpo_minutes * 60,
        comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        description=f"{replica_identifier} lags its source by more than the region-loss RPO of {rpo_minutes} min "
        "(or reports no lag)",
        missing=cw.TreatMissingData.BREACHING,
    )
