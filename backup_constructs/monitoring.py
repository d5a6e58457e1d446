"""Monitoring and compliance evidence: alerts for every failure, the live RPO exposure, a dashboard,
Backup Audit Manager controls and report plans, key protection, and the optional metric archive."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, Stack, Token
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_config as config
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from backup_constructs.alarms import policy_alarm, project_metric, restore_test_alarms, vault_job_alarms
from backup_constructs.buckets import access_log_bucket, protected_bucket
from backup_constructs.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, function_code
from backup_constructs.compliance import BackupComplianceFramework
from backup_constructs.k8s_config import CONFIG_EVENT_SOURCE
from backup_constructs.keys import rotating_key
from backup_constructs.logs import policy_log_group
from backup_constructs.policy import BackupPolicy, ResourceType
from backup_constructs.restore_testing import RESTORE_TEST_EVENT_SOURCE
from backup_constructs.rpo import (
    config_backup_age_allowance_minutes,
    config_check_age_allowance_minutes,
    recovery_point_age_allowance_minutes,
)
from backup_constructs.service_linked_roles import (
    BACKUP_REPORTS_ROLE,
    BACKUP_REPORTS_SERVICE,
    CONFIG_ROLE,
    CONFIG_SERVICE,
    ServiceLinkedRole,
)
from backup_constructs.statements import publish_metrics, send_dead_letters, write_own_logs
from backup_constructs.validation import acknowledge, logical_id, nag_partition
from lambdas.contract import HANDLERS, METRIC_NAMESPACE, RPO_MONITOR

COLON = ArnFormat.COLON_RESOURCE_NAME
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
PROTECTED_KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
BACKUP_FAILURE_METRICS = (
    "NumberOfBackupJobsFailed",
    "NumberOfBackupJobsExpired",
    "NumberOfCopyJobsFailed",
    "NumberOfRestoreJobsFailed",
    "NumberOfRecoveryPointsPartial",
)
COPY_FAILURE_METRICS = ("NumberOfCopyJobsFailed",)
REPORTS_PREFIX = "backup-reports"
REPORT_TEMPLATES = ("BACKUP_JOB_REPORT", "COPY_JOB_REPORT", "RESTORE_JOB_REPORT")


def _rule(detail_type: str, source: str, detail: dict[str, object]) -> events.EventPattern:
    return events.EventPattern(source=[source], detail_type=[detail_type], detail=detail or None)


# One line a human can act on, for every failure the alerts cover: (id, pattern, message).
def alert_rules(policy: BackupPolicy) -> list[tuple[str, events.EventPattern, str]]:
    env = policy.environment
    return [
        (
            "BackupJobFailed",
            _rule("Backup Job State Change", "aws.backup", {"state": ["FAILED", "ABORTED", "EXPIRED"]}),
            f"[{env}] AWS Backup job <backupJobId> for <resourceArn> ended <state>: <statusMessage>",
        ),
        (
            "CopyJobFailed",
            _rule("Copy Job State Change", "aws.backup", {"state": ["FAILED"]}),
            f"[{env}] Copy job <copyJobId> to <destinationBackupVaultArn> failed: <statusMessage>",
        ),
        (
            "RestoreJobFailed",
            _rule("Restore Job State Change", "aws.backup", {"status": ["FAILED", "ABORTED"]}),
            f"[{env}] Restore job <restoreJobId> ended <status>: <statusMessage>",
        ),
        (
            "RestoreValidationFailed",
            _rule("Restore Test Completed", RESTORE_TEST_EVENT_SOURCE, {"status": ["FAILED"]}),
            f"[{env}] Restore test <restoreJobId> FAILED: <failedChecks> check(s) failed, restore took "
            "<restoreMinutes> min (RTO <rtoMinutes> min); report <reportKey>",
        ),
        (
            "DrillFailed",
            _rule("DR Drill Completed", RESTORE_TEST_EVENT_SOURCE, {"status": ["FAILED"]}),
            f"[{env}] DR drill <restoreJobId> FAILED: restore took <restoreMinutes> min (RTO <rtoMinutes> min), "
            "<failedChecks> check(s) failed; report <reportKey>",
        ),
        (
            "ConfigBackupFailed",
            _rule("Config Backup Failed", CONFIG_EVENT_SOURCE, {}),
            f"[{env}] Kubernetes config backup of <cluster>/<namespace> failed (trigger <trigger>): <error>",
        ),
        (
            "KeyDeletionAttempt",
            _rule(
                "AWS API Call via CloudTrail",
                "aws.kms",
                # CloudTrail names the API call without the IAM service prefix.
                {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": [a.split(":", 1)[1] for a in PROTECTED_KEY_ACTIONS],
                },
            ),
            f"[{env}] <eventName> on KMS key <keyId> by <principal> (<errorCode>)",
        ),
    ]


# Placeholders that are not a plain field of the event's detail.
_PLACEHOLDER_PATHS = {"principal": "$.detail.userIdentity.arn", "keyId": "$.detail.requestParameters.keyId"}


class AlertTopic(Construct):
    """A KMS-encrypted, TLS-only SNS topic for one region's backup alerts, with the EventBridge rules
    that turn failures into one-line messages. Used in the primary region by
    :class:`BackupMonitoring` and on its own in the DR region (drills and copies), so alerts keep
    flowing when the other region is down."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        emails: Sequence[str] = (),
        https_endpoints: Sequence[str] = (),
        rule_ids: Sequence[str] | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.key = rotating_key(
            self,
            "Key",
            description=f"Encrypts the {policy.environment} backup alert topic",
        )
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish{service.split('.')[0].capitalize()}",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy "*" is this key
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{policy.environment} backup alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for url in https_endpoints:
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
        self.rules: dict[str, events.Rule] = {}
        for rule_id, pattern, message in alert_rules(policy):
            if rule_ids is not None and rule_id not in rule_ids:
                continue
            self.rules[rule_id] = events.Rule(
                self,
                rule_id,
                description=f"Alert: {rule_id}",
                event_pattern=pattern,
                targets=[
                    targets.SnsTopic(
                        self.topic,
                        message=events.RuleTargetInput.from_text(
                            _transform(message),
                        ),
                    )
                ],
            )
        self.action = cw_actions.SnsAction(self.topic)


def _transform(message: str) -> str:
    """Turn ``<name>`` placeholders into EventBridge input-transformer references (``$.detail.name``)."""

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        return events.EventField.from_path(_PLACEHOLDER_PATHS.get(name, f"$.detail.{name}"))

    return re.sub(r"<([A-Za-z]+)>", field, message)


def _id_part(value: str, index: int) -> str:
    """A construct-id part for a configured name; tokens (resolved at deploy time) fall back to the index."""
    return str(index) if Token.is_unresolved(value) else value


def protect_keys(scope: IConstruct, *, exempt_principal_arns: Sequence[str]) -> list[kms.Key]:
    """Deny ``kms:ScheduleKeyDeletion`` and ``kms:DisableKey`` on every key in ``scope`` to everyone
    but the break-glass principals (a compromised admin cannot destroy the backups' keys)."""
    keys = [node for node in scope.node.find_all() if isinstance(node, kms.Key)]
    for key in keys:
        statement = iam.PolicyStatement(
            sid="DenyKeyDestructionExceptBreakGlass",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(PROTECTED_KEY_ACTIONS),
            resources=["*"],
        )
        if exempt_principal_arns:
            statement.add_condition("ArnNotLike", {"aws:PrincipalArn": list(exempt_principal_arns)})
        key.add_to_resource_policy(statement)
    return keys


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
        alert_emails: Sequence[str] = (),
        alert_https_endpoints: Sequence[str] = (),
        exempt_principal_arns: Sequence[str] = (),
        enable_config_recording: bool = False,
        metric_archive: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        self.node.set_context(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        self.policy = policy
        self.vault_name = vault_name or policy.backup_vault_name
        env = policy.environment
        self.alerts = AlertTopic(
            self, "Alerts", policy=policy, emails=alert_emails, https_endpoints=alert_https_endpoints
        )
        self.alert_topic = self.alerts.topic
        self.alarms: dict[str, cw.Alarm] = {}

        vault_job_alarms(self.vault_name, BACKUP_FAILURE_METRICS, alarm=self._alarm)
        if policy.dr_region:
            # A copy job's metrics carry the destination vault's name.
            vault_job_alarms(policy.dr_backup_vault_name, COPY_FAILURE_METRICS, alarm=self._alarm, id_suffix="-copies")
        # The monthly validator publishes here; the drill's alarms live with the drill in the DR
        # region, where its validator publishes (an alarm only sees metrics of its own region).
        restore_test_alarms(policy, kind="monthly", alarm=self._alarm)

        self.rpo_function: lambda_.Function | None = None
        if database_identifiers or protected_resource_arns or config_namespaces:
            self.rpo_function = self._rpo_monitor(
                database_identifiers, protected_resource_arns, config_bucket_name, config_cluster, config_namespaces
            )
        for index, identifier in enumerate(database_identifiers):
            dims = {"Environment": env, "DBInstanceIdentifier": identifier}
            label = _id_part(identifier, index)
            self._alarm(
                f"RpoExposure-{label}",
                self.project_metric("RpoExposureMinutes", dims, "Maximum"),
                threshold=policy.rpo_target_minutes,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{identifier}: data-loss exposure above the RPO of {policy.rpo_target_minutes} min "
                "(or not measured)",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"DatabaseUnprotected-{label}",
                self.project_metric("DatabaseUnprotected", dims, "Maximum"),
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
                self.project_metric(
                    "RecoveryPointAgeMinutes", {"Environment": env, "ResourceArn": arn}, "Maximum", minutes=15
                ),
                threshold=allowance,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{short}: newest recovery point older than the rules allow ({allowance} min)",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"RecoveryPointMissing-{short}",
                self.project_metric(
                    "RecoveryPointMissing", {"Environment": env, "ResourceArn": arn}, "Maximum", minutes=15
                ),
                threshold=1,
                description=f"{short} has no completed recovery point",
                missing=cw.TreatMissingData.NOT_BREACHING,
            )
        for namespace in config_namespaces:
            dims = {"Environment": env, "Namespace": namespace}
            self._alarm(
                f"ConfigBackupAge-{namespace}",
                self.project_metric("ConfigBackupAgeMinutes", dims, "Maximum", minutes=15),
                threshold=config_backup_age_allowance_minutes(policy),
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{namespace}: the newest complete configuration backup is older than the policy allows",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"ConfigBackupNotRunning-{namespace}",
                self.project_metric("ConfigBackupCheckAgeMinutes", dims, "Maximum", minutes=15),
                threshold=config_check_age_allowance_minutes(policy),
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                description=f"{namespace}: the configuration export has not run for two scheduled periods",
                missing=cw.TreatMissingData.BREACHING,
            )
            self._alarm(
                f"ConfigBackupMissing-{namespace}",
                self.project_metric("ConfigBackupMissing", dims, "Maximum", minutes=15),
                threshold=1,
                description=f"{namespace} has no complete configuration backup",
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
        self.reports_bucket = self._reports_bucket()
        self.report_plans = self._report_plans()
        self.dashboard = self._dashboard(database_identifiers, protected_resource_arns, config_namespaces)
        self.config_recorder = self._config_recording() if enable_config_recording else None
        self.metric_stream = self._metric_archive() if metric_archive else None

    # alarms ----------------------------------------------------------------------------------------

    def project_metric(
        self, name: str, dimensions: dict[str, str], statistic: str, *, minutes: int = 5, hours: int = 0
    ) -> cw.Metric:
        return project_metric(name, dimensions, statistic, minutes=minutes, hours=hours)

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
        role = iam.Role(
            self,
            "RpoMonitorRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Publishes the live RPO exposure of {self.policy.environment}",
        )
        log_group = policy_log_group(self, "RpoMonitorLogs", policy=self.policy)
        dlq = sqs.Queue(self, "RpoMonitorDeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        acknowledge(dlq, "AwsSolutions::AwsSolutions-SQS3", "This queue is itself the monitor's dead-letter queue.")
        environment = {
            "ENVIRONMENT": self.policy.environment,
            "DATABASES": ",".join(databases),
            "PROTECTED_RESOURCE_ARNS": ",".join(resources),
            "METRIC_NAMESPACE": METRIC_NAMESPACE,
        }
        if config_bucket and config_cluster and namespaces:
            environment |= {
                "CONFIG_BUCKET": config_bucket,
                "CONFIG_CLUSTER": config_cluster,
                "CONFIG_NAMESPACES": ",".join(namespaces),
            }
        function = lambda_.Function(
            self,
            "RpoMonitor",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=HANDLERS[RPO_MONITOR],
            code=function_code(self, dependencies=()),
            role=role.without_policy_updates(),
            environment=environment,
            timeout=Duration.minutes(1),
            memory_size=256,
            reserved_concurrent_executions=1,
            dead_letter_queue=dlq,
            log_group=log_group,
            description=f"Publishes RPO exposure and recovery point ages of {self.policy.environment}",
        )
        function.node.add_dependency(role)
        acknowledge(
            function,
            "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC",
            "The monitor only reads AWS APIs (RDS, Backup, S3 listings) and writes metrics; it opens no "
            "connection to any data store.",
        )
        statements = [
            write_own_logs(log_group),
            publish_metrics(METRIC_NAMESPACE),
            send_dead_letters(dlq),
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
        if "CONFIG_BUCKET" in environment:
            bucket_arn = f"arn:{stack.partition}:s3:::{config_bucket}"
            statements += [
                iam.PolicyStatement(
                    sid="ListConfigBackups",
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{config_cluster}/*"]}},
                ),
                iam.PolicyStatement(
                    sid="ReadConfigManifests", actions=["s3:GetObject"], resources=[f"{bucket_arn}/{config_cluster}/*"]
                ),
                iam.PolicyStatement(
                    sid="DecryptConfigManifests",
                    actions=["kms:Decrypt"],
                    resources=[f"arn:{stack.partition}:kms:{stack.region}:{stack.account}:key/*"],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ),
            ]
        policy = iam.ManagedPolicy(self, "RpoMonitorPolicy", roles=[role], statements=statements)
        reasons = {
            "Resource::*": "cloudwatch:PutMetricData (namespace-conditioned) and "
            "backup:ListRecoveryPointsByResource take no narrower resource.",
            f"Resource::<{logical_id(log_group)}.Arn>:*": "Lambda names its log streams at run time.",
        }
        if "CONFIG_BUCKET" in environment:
            reasons |= {
                f"Resource::arn:{nag_partition(stack)}:s3:::{config_bucket}/{config_cluster}/*": "Manifests live under "
                "<cluster>/<namespace>/<backup-id>/ with ids that are times.",
                f"Resource::arn:{nag_partition(stack)}:kms:{stack.region}:{stack.account}:key/*": "The configuration "
                "bucket's key is in another stack; decryption is limited to S3 reads (kms:ViaService).",
            }
        for finding, reason in reasons.items():
            acknowledge(policy, f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason)
        events.Rule(
            self,
            "EveryFiveMinutes",
            description=f"Measure {self.policy.environment}'s RPO exposure",
            schedule=events.Schedule.rate(Duration.minutes(5)),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )
        self._alarm(
            "RpoMonitorCheckErrors",
            self.project_metric("CheckErrors", {"Environment": self.policy.environment}, "Maximum"),
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

    # evidence --------------------------------------------------------------------------------------

    def _reports_bucket(self) -> s3.Bucket:
        # The bucket and key policies name the reports service-linked role itself: its own managed
        # policy grants no s3:PutObject and no KMS action, so "account root + aws:PrincipalArn"
        # would grant it nothing, and a policy naming a role that does not exist yet is rejected.
        self.reports_service_role = ServiceLinkedRole(
            self,
            "ReportsServiceRole",
            policy=self.policy,
            service_name=BACKUP_REPORTS_SERVICE,
            role_name=BACKUP_REPORTS_ROLE,
        )
        reports_role = iam.ArnPrincipal(self.reports_service_role.role_arn)
        key = rotating_key(
            self,
            "ReportsKey",
            description=f"Encrypts {self.policy.environment} Backup Audit Manager reports",
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
        key.node.add_dependency(self.reports_service_role.resource)
        bucket = protected_bucket(
            self,
            "Reports",
            encryption_key=key,
            retention_days=self.policy.restore_testing.report_retention_days,
            access_logs=access_log_bucket(self, "ReportsAccessLogs"),
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
        bucket.policy.node.add_dependency(self.reports_service_role.resource)
        acknowledge(
            bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "Audit reports are regenerated by Backup Audit Manager from the region's job history.",
        )
        return bucket

    def _report_plans(self) -> list[backup.CfnReportPlan]:
        env = self.policy.environment.replace("-", "_")
        # These two properties are plain JSON in the CloudFormation schema: PascalCase keys.
        delivery = {
            "S3BucketName": self.reports_bucket.bucket_name,
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
                    "FrameworkArns": [self.compliance.framework.attr_framework_arn],
                },
            )
        )
        plans = [
            backup.CfnReportPlan(
                self,
                template.title().replace("_", ""),
                report_plan_name=f"{env}_{name}",
                report_plan_description=f"{template} for {self.policy.environment}",
                report_delivery_channel=delivery,
                report_setting=setting,
            )
            for template, name, setting in settings
        ]
        assert self.reports_bucket.policy is not None
        for plan in plans:  # reports are delivered only once the bucket admits them
            plan.node.add_dependency(self.reports_bucket.policy)
        return plans

    def _dashboard(self, databases: Sequence[str], resources: Sequence[str], namespaces: Sequence[str]) -> cw.Dashboard:
        env, policy = self.policy.environment, self.policy
        rpo = cw.HorizontalAnnotation(value=policy.rpo_target_minutes, label="RPO target")
        rto = cw.HorizontalAnnotation(value=policy.rto_target_minutes, label="RTO target")
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{env}-backup-strategy")
        dashboard.add_widgets(
            cw.GraphWidget(
                title="RPO exposure per database (min)",
                left=[
                    self.project_metric(
                        "RpoExposureMinutes", {"Environment": env, "DBInstanceIdentifier": d}, "Maximum"
                    )
                    for d in databases
                ],
                left_annotations=[rpo],
                width=12,
            ),
            cw.GraphWidget(
                title="Newest recovery point age (min)",
                left=[
                    self.project_metric(
                        "RecoveryPointAgeMinutes", {"Environment": env, "ResourceArn": r}, "Maximum", minutes=15
                    )
                    for r in resources
                ],
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
                        dimensions_map={"BackupVaultName": self.vault_name},
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
                    project_metric("RestoreTimeMinutes", {"Environment": env, "Kind": k}, "Maximum", hours=24, region=r)
                    for k, r in self._restore_test_regions()
                ],
                right=[
                    project_metric("ValidationFailures", {"Environment": env, "Kind": k}, "Maximum", hours=24, region=r)
                    for k, r in self._restore_test_regions()
                ],
                left_annotations=[rto],
                width=12,
            ),
        )
        if namespaces:
            dashboard.add_widgets(
                cw.GraphWidget(
                    title="Kubernetes configuration backup age (min)",
                    left=[
                        self.project_metric(
                            "ConfigBackupAgeMinutes", {"Environment": env, "Namespace": n}, "Maximum", minutes=15
                        )
                        for n in namespaces
                    ],
                    width=12,
                ),
                cw.AlarmStatusWidget(title="Backup alarms", alarms=list(self.alarms.values()), width=12),
            )
        return dashboard

    def _restore_test_regions(self) -> list[tuple[str, str | None]]:
        kinds: list[tuple[str, str | None]] = [("monthly", None)]
        if self.policy.dr_region and self.policy.restore_testing.drill_schedule:
            kinds.append(("drill", self.policy.dr_region))
        return kinds

    def _config_recording(self) -> config.CfnConfigurationRecorder:
        stack = Stack.of(self)
        bucket = protected_bucket(
            self,
            "ConfigHistory",
            encryption_key=rotating_key(
                self,
                "ConfigHistoryKey",
                description="Encrypts AWS Config history of the backup resources",
            ),
            retention_days=self.policy.restore_testing.report_retention_days,
            access_logs=access_log_bucket(self, "ConfigHistoryAccessLogs"),
        )
        # Most accounts have AWS Config's role already: create it only where it is missing.
        role = ServiceLinkedRole(
            self, "ConfigRole", policy=self.policy, service_name=CONFIG_SERVICE, role_name=CONFIG_ROLE
        )
        recorder = config.CfnConfigurationRecorder(
            self,
            "Recorder",
            role_arn=role.role_arn,
            recording_group=config.CfnConfigurationRecorder.RecordingGroupProperty(
                all_supported=False,
                resource_types=[
                    "AWS::Backup::BackupPlan",
                    "AWS::Backup::BackupSelection",
                    "AWS::Backup::BackupVault",
                    "AWS::Backup::RecoveryPoint",
                ],
            ),
        )
        recorder.node.add_dependency(role.resource)
        channel = config.CfnDeliveryChannel(self, "Delivery", s3_bucket_name=bucket.bucket_name)
        channel.add_dependency(recorder)
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ConfigDelivery",
                principals=[iam.ServicePrincipal("config.amazonaws.com")],
                actions=["s3:PutObject", "s3:GetBucketAcl", "s3:ListBucket"],
                resources=[bucket.bucket_arn, bucket.arn_for_objects("AWSLogs/*")],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        acknowledge(
            bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "AWS Config history is re-derivable from the recorder; it is not backup data.",
        )
        return recorder

    def _metric_archive(self) -> firehose.CfnDeliveryStream:
        key = rotating_key(
            self,
            "ArchiveKey",
            description="Encrypts archived backup metrics",
        )
        bucket = protected_bucket(
            self,
            "MetricArchive",
            encryption_key=key,
            retention_days=5 * 365,
            access_logs=access_log_bucket(self, "MetricArchiveAccessLogs"),
        )
        acknowledge(
            bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "Archived metrics are a long-term copy of CloudWatch data, not backup data.",
        )
        delivery_role = iam.Role(self, "ArchiveDeliveryRole", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        delivery_policy = iam.ManagedPolicy(
            self,
            "ArchiveDeliveryPolicy",
            roles=[delivery_role],
            statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:GetBucketLocation", "s3:ListBucket", "s3:AbortMultipartUpload"],
                    resources=[bucket.bucket_arn, bucket.arn_for_objects("metrics/*")],
                ),
                iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]),
            ],
        )
        acknowledge(
            delivery_policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(bucket)}.Arn>/metrics/*]",
            "Firehose names the archive objects by time under metrics/.",
        )
        stream = firehose.CfnDeliveryStream(
            self,
            "Archive",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=delivery_role.role_arn,
                prefix="metrics/",
                error_output_prefix="errors/",
                compression_format="GZIP",
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=key.key_arn
                    )
                ),
            ),
        )
        stream.node.add_dependency(delivery_policy)
        stream_role = iam.Role(
            self, "MetricStreamRole", assumed_by=iam.ServicePrincipal("streams.metrics.cloudwatch.amazonaws.com")
        )
        iam.ManagedPolicy(
            self,
            "MetricStreamPolicy",
            roles=[stream_role],
            statements=[
                iam.PolicyStatement(
                    actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[stream.attr_arn]
                )
            ],
        )
        cw.CfnMetricStream(
            self,
            "MetricStream",
            firehose_arn=stream.attr_arn,
            role_arn=stream_role.role_arn,
            output_format="json",
            include_filters=[
                cw.CfnMetricStream.MetricStreamFilterProperty(namespace="AWS/Backup"),
                cw.CfnMetricStream.MetricStreamFilterProperty(namespace=METRIC_NAMESPACE),
            ],
        )
        return stream
