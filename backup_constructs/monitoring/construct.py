"""BackupMonitoring: what watches one environment's backups — the alert topic, the alarms (AWS/Backup
and the project's own metrics), the live RPO monitor, and the dashboard and audit evidence of
:mod:`.dashboard`, :mod:`.evidence` and :mod:`.archive`."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.core.alarms import (
    policy_alarm,
    project_metric,
    replication_failure_alarm,
    restore_test_alarms,
    vault_job_alarms,
)
from backup_constructs.core.buckets import access_logs_by_bucket_policy
from backup_constructs.core.functions import FunctionIds, attach_policy, outside_vpc, project_function
from backup_constructs.core.nag import acknowledge, acknowledge_all, nag_partition
from backup_constructs.core.statements import publish_metrics, send_dead_letters, write_own_logs
from backup_constructs.monitoring.alerts import AlertTopic
from backup_constructs.monitoring.archive import config_recording, metric_stream_archive
from backup_constructs.monitoring.dashboard import backup_dashboard
from backup_constructs.monitoring.evidence import BackupComplianceFramework, report_plans, reports_bucket
from backup_constructs.monitoring.vault_metrics import BACKUP_FAILURE_METRICS, COPY_FAILURE_METRICS
from backup_constructs.policy import BackupPolicy, ResourceType
from backup_constructs.policy.rpo import (
    config_backup_age_allowance_minutes,
    config_check_age_allowance_minutes,
    recovery_point_age_allowance_minutes,
)
from lambdas.contract.functions import FUNCTIONS
from lambdas.contract.layout import MANIFEST_FILE, MARKER_FILE
from lambdas.contract.metrics import (
    CHECK_ERRORS,
    CONFIG_BACKUP_AGE,
    CONFIG_BACKUP_CHECK_AGE,
    CONFIG_BACKUP_MISSING,
    DATABASE_UNPROTECTED,
    METRIC_NAMESPACE,
    RECOVERY_POINT_AGE,
    RECOVERY_POINT_MISSING,
    RPO_EXPOSURE,
    RPO_MONITOR,
    MetricDefinition,
)
from lambdas.contract.settings import MonitorSettings

COLON = ArnFormat.COLON_RESOURCE_NAME


def _id_part(value: str, index: int) -> str:
    """A construct-id part for a configured name; tokens (resolved at deploy time) fall back to the index."""
    return str(index) if Token.is_unresolved(value) else value


class BackupMonitoring(Construct):
    """Everything that watches one environment's backups.

    Parameters
    ----------
    policy:
        Thresholds (RPO, RTO, recovery point ages, configuration backup freshness) come from it:
        changing the policy changes the alarms.
    vault_name:
        The vault whose AWS/Backup metrics are alarmed on. Default: ``policy.backup_vault_name``.
    database_identifiers:
        RDS instances whose live RPO exposure (now - LatestRestorableTime) is published every 5
        minutes and alarmed on.
    protected_resource_arns:
        Resources whose newest recovery point age is published and alarmed on. Default: none.
    config_bucket_name, config_cluster, config_namespaces:
        Kubernetes configuration backups to watch for freshness. Default: none.
    heartbeat_function:
        The database heartbeat writer: alarms when it fails. Default: none.
    replica_identifier:
        The database's cross-Region read replica (in ``policy.dr_region``): the dashboard shows its lag,
        the region-loss exposure, next to the in-region exposure. Default: none.
    config_replica_bucket_name:
        The configuration backups' replica bucket in the DR region: alarms on failed replication
        (published in this, the source, region). Default: none.
    config_export_function, config_dead_letter_queue:
        The export function and its dead-letter queue: errors and dead letters raise alerts.
        Default: none.
    alert_emails, alert_https_endpoints:
        Subscriptions of the alert topic.
    exempt_principal_arns:
        Break-glass principals: the only ones allowed to delete recovery points (audit control) or
        to schedule deletion / disable the environment's KMS keys.
    enable_config_recording:
        Opt-in: an AWS Config recorder for the AWS Backup resource types, which Backup Audit
        Manager needs (one recorder per region and account: leave off if one exists).
    metric_archive:
        Opt-in: a CloudWatch metric stream of the backup namespaces through Firehose into an
        encrypted bucket, for keeping metrics beyond CloudWatch's fixed 15 months.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        vault_name: str | None = None,
        database_identifiers: Sequence[str] = (),
        protected_resource_arns: Sequence[str] = (),
        config_bucket_name: str | None = None,
        config_cluster: str | None = None,
        config_namespaces: Sequence[str] = (),
        config_export_function: lambda_.IFunction | None = None,
        config_dead_letter_queue: sqs.IQueue | None = None,
        config_replica_bucket_name: str | None = None,
        heartbeat_function: lambda_.IFunction | None = None,
        replica_identifier: str | None = None,
        alert_emails: Sequence[str] = (),
        alert_https_endpoints: Sequence[str] = (),
        exempt_principal_arns: Sequence[str] = (),
        enable_config_recording: bool = False,
        metric_archive: bool = False,
        alert_forward_topic_arn: str | None = None,
        sops_key_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        access_logs_by_bucket_policy(self)
        self.policy = policy
        self.vault_name = vault_name or policy.backup_vault_name
        env = policy.environment
        self.alerts = AlertTopic(
            self,
            "Alerts",
            policy=policy,
            emails=alert_emails,
            https_endpoints=alert_https_endpoints,
            forward_to_topic_arn=alert_forward_topic_arn,
            database_identifiers=database_identifiers,
            sops_key_ids=sops_key_ids,
        )
        self.alert_topic = self.alerts.topic
        self.alarms: dict[str, cw.Alarm] = {}

        vault_job_alarms(self.vault_name, BACKUP_FAILURE_METRICS, alarm=self._alarm)
        if policy.dr_region:
            # A copy job's metrics carry the destination vault's name.
            vault_job_alarms(policy.dr_backup_vault_name, COPY_FAILURE_METRICS, alarm=self._alarm, id_suffix="-copies")
        if policy.isolated_vault_name:
            # Copies into the backup account run (and publish their metrics) here, in the source account.
            vault_job_alarms(
                policy.isolated_vault_name, COPY_FAILURE_METRICS, alarm=self._alarm, id_suffix="-isolated-copies"
            )
        # The monthly validator publishes here; the drill's alarms live with the drill in the DR
        # region, where its validator publishes (an alarm only sees metrics of its own region).
        restore_test_alarms(policy, kind="monthly", alarm=self._alarm)

        self.rpo_function: lambda_.Function | None = None
        if database_identifiers or protected_resource_arns or config_namespaces:
            self.rpo_function = self._rpo_monitor(
                database_identifiers, protected_resource_arns, config_bucket_name, config_cluster, config_namespaces
            )
        for index, identifier in enumerate(database_identifiers):
            dims = (env, identifier)
            label = _id_part(identifier, index)
            self._alarm(
                f"RpoExposure-{label}",
                self.project_metric(RPO_EXPOSURE, dims, "Maximum"),
                threshold=policy.rpo_target_minutes,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{identifier}: data-loss exposure above the RPO of {policy.rpo_target_minutes} min "
                "(or not measured)",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"DatabaseUnprotected-{label}",
                self.project_metric(DATABASE_UNPROTECTED, dims, "Maximum"),
                threshold=1,
                description=f"{identifier} is missing, stopped or has no restorable time",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        for index, arn in enumerate(protected_resource_arns):
            # Each ARN gets its own type's allowance; an ARN known only at deploy time gets the most
            # lenient of the protected types (never a false alarm, at worst a late one).
            resource_type = None if Token.is_unresolved(arn) else ResourceType.of_arn(arn)
            allowance = max(
                recovery_point_age_allowance_minutes(policy, t)
                for t in ([resource_type] if resource_type else policy.protected_resource_types)
            )
            short = _id_part(arn.rsplit(":", 1)[-1], index)
            self._alarm(
                f"RecoveryPointAge-{short}",
                self.project_metric(RECOVERY_POINT_AGE, (env, arn), "Maximum", minutes=15),
                threshold=allowance,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{short}: newest recovery point older than the rules allow ({allowance} min)",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"RecoveryPointMissing-{short}",
                self.project_metric(RECOVERY_POINT_MISSING, (env, arn), "Maximum", minutes=15),
                threshold=1,
                description=f"{short} has no completed recovery point",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        for namespace in config_namespaces:
            dims = (env, namespace)
            self._alarm(
                f"ConfigBackupAge-{namespace}",
                self.project_metric(CONFIG_BACKUP_AGE, dims, "Maximum", minutes=15),
                threshold=config_backup_age_allowance_minutes(policy),
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{namespace}: the newest complete configuration backup is older than the policy allows",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"ConfigBackupNotRunning-{namespace}",
                self.project_metric(CONFIG_BACKUP_CHECK_AGE, dims, "Maximum", minutes=15),
                threshold=config_check_age_allowance_minutes(policy),
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{namespace}: the configuration export has not run for two scheduled periods",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"ConfigBackupMissing-{namespace}",
                self.project_metric(CONFIG_BACKUP_MISSING, dims, "Maximum", minutes=15),
                threshold=1,
                description=f"{namespace} has no complete configuration backup",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        if config_bucket_name and config_replica_bucket_name:
            # S3 publishes failed replication in the source bucket's region: here.
            replication_failure_alarm(config_bucket_name, config_replica_bucket_name, alarm=self._alarm)
        if heartbeat_function is not None:
            # Three failed beats in five minutes: the data-loss measurement has a gap.
            self._alarm(
                "HeartbeatErrors",
                heartbeat_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=3,
                description="The database heartbeat writer is failing: restored and replicated copies cannot "
                "show their data loss",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        if config_export_function is not None:
            self._alarm(
                "ConfigExportErrors",
                config_export_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=1,
                description="The Kubernetes configuration export function failed",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        if config_dead_letter_queue is not None:
            self._alarm(
                "ConfigDeadLetters",
                config_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1,
                description="A Kubernetes configuration export or restore gave up after its retries (dead letter)",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )

        self.compliance = BackupComplianceFramework(
            self, "Compliance", policy=policy, exempt_principal_arns=exempt_principal_arns
        )
        self.reports_bucket = reports_bucket(self, policy)
        self.report_plans = report_plans(self, policy, self.reports_bucket, self.compliance.framework)
        self.dashboard = backup_dashboard(
            self,
            policy,
            vault_name=self.vault_name,
            databases=database_identifiers,
            resources=protected_resource_arns,
            namespaces=config_namespaces,
            alarms=list(self.alarms.values()),
            replica_identifier=replica_identifier,
        )
        self.config_recorder = config_recording(self, policy) if enable_config_recording else None
        self.metric_stream = metric_stream_archive(self, policy) if metric_archive else None

    # alarms ----------------------------------------------------------------------------------------

    def project_metric(
        self,
        definition: MetricDefinition,
        dimension_values: Sequence[str],
        statistic: str,
        *,
        minutes: int = 5,
        hours: int = 0,
    ) -> cw.Metric:
        return project_metric(definition, dimension_values, statistic, minutes=minutes, hours=hours)

    def _alarm(
        self,
        id_: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        missing: cw.TreatMissingData,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cw.Alarm:
        alarm = policy_alarm(
            self,
            id_,
            metric,
            environment=self.policy.environment,
            action=self.alerts.action,
            threshold=threshold,
            description=description,
            missing=missing,
            comparison=comparison,
        )
        self.alarms[id_] = alarm
        return alarm

    # the live RPO monitor --------------------------------------------------------------------------

    def _rpo_monitor(
        self,
        databases: Sequence[str],
        resources: Sequence[str],
        config_bucket: str | None,
        config_cluster: str | None,
        namespaces: Sequence[str],
    ) -> lambda_.Function:
        stack = Stack.of(self)
        dlq = sqs.Queue(self, "RpoMonitorDeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        acknowledge(dlq, "AwsSolutions::AwsSolutions-SQS3", "This queue is itself the monitor's dead-letter queue.")
        watches_config = bool(config_bucket and config_cluster and namespaces)
        environment = MonitorSettings.env(
            environment=self.policy.environment,
            databases=tuple(databases),
            protected_resource_arns=tuple(resources),
            metric_namespace=METRIC_NAMESPACE,
            **(
                {
                    "config_bucket": config_bucket,
                    "config_cluster": config_cluster,
                    "config_namespaces": tuple(namespaces),
                }
                if watches_config
                else {}
            ),
        )
        made = project_function(
            self,
            FunctionIds("RpoMonitor", role="RpoMonitorRole", log_group="RpoMonitorLogs", policy="RpoMonitorPolicy"),
            policy=self.policy,
            handler=FUNCTIONS[RPO_MONITOR].handler,
            description=f"Publishes RPO exposure and recovery point ages of {self.policy.environment}",
            role_description=f"Publishes the live RPO exposure of {self.policy.environment}",
            environment=environment,
            timeout=Duration.minutes(1),
            reserved_concurrent_executions=1,
            dead_letter_queue=dlq,
        )
        function = made.function
        outside_vpc(
            function,
            "The monitor only reads AWS APIs (RDS, Backup, S3 listings) and writes metrics; it opens no "
            "connection to any data store.",
        )
        statements = [
            write_own_logs(made.log_group),
            publish_metrics(METRIC_NAMESPACE),
            *send_dead_letters(dlq),
        ]
        if databases:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadRestorableTime",
                    actions=["rds:DescribeDBInstances"],
                    resources=[
                        stack.format_arn(service="rds", resource="db", resource_name=d, arn_format=COLON)
                        for d in databases
                    ],
                )
            )
        if resources:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadRecoveryPoints", actions=["backup:ListRecoveryPointsByResource"], resources=["*"]
                )
            )
        if watches_config:
            bucket_arn = f"arn:{stack.partition}:s3:::{config_bucket}"
            statements += [
                iam.PolicyStatement(
                    sid="ListConfigBackups",
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{config_cluster}/*"]}},
                ),
                # Only the two small files it reads, never the backups themselves.
                iam.PolicyStatement(
                    sid="ReadConfigManifests",
                    actions=["s3:GetObject"],
                    resources=[f"{bucket_arn}/{config_cluster}/*/{name}" for name in (MANIFEST_FILE, MARKER_FILE)],
                ),
                # The bucket's key is in another stack: any key, but only to read this bucket through S3
                # (with S3 Bucket Keys the encryption context is the bucket's ARN).
                iam.PolicyStatement(
                    sid="DecryptConfigManifests",
                    actions=["kms:Decrypt"],
                    resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*"],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"s3.{stack.region}.amazonaws.com",
                            "kms:EncryptionContext:aws:s3:arn": bucket_arn,
                        }
                    },
                ),
            ]
        policy = attach_policy(self, "RpoMonitorPolicy", made, statements)
        reasons = {
            "Resource::*": "cloudwatch:PutMetricData (namespace-conditioned) and "
            "backup:ListRecoveryPointsByResource take no narrower resource.",
        }
        if watches_config:
            reasons |= {
                **{
                    f"Resource::arn:{nag_partition(stack)}:s3:::{config_bucket}/{config_cluster}/*/{name}": (
                        f"Each backup's {name} lives under <cluster>/<namespace>/[<backup-id>/] with ids that are "
                        "times: only that file, in every namespace."
                    )
                    for name in (MANIFEST_FILE, MARKER_FILE)
                },
                f"Resource::arn:{nag_partition(stack)}:kms:{stack.region}:{stack.account}:key/*": "The configuration "
                "bucket's key is in another stack; decryption is limited to S3 reads of this bucket (kms:ViaService, "
                "the bucket's ARN as encryption context).",
            }
        acknowledge_all(policy, [(f"AwsSolutions::AwsSolutions-IAM5[{f}]", reason) for f, reason in reasons.items()])
        events.Rule(
            self,
            "EveryFiveMinutes",
            description=f"Measure {self.policy.environment}'s RPO exposure",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )
        self._alarm(
            "RpoMonitorCheckErrors",
            self.project_metric(CHECK_ERRORS, (self.policy.environment,), "Maximum"),
            threshold=1,
            description="The RPO monitor could not check some resource (throttled or denied): coverage unknown",
            missing=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            "RpoMonitorErrors",
            function.metric_errors(period=Duration.minutes(15), statistic="Sum"),
            threshold=1,
            description="The RPO monitor itself failed",
            missing=cw.TreatMissingData.NOT_BREACHING,
        )
        return function
