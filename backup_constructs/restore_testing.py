"""Monthly restore tests and quarterly DR drills: AWS Backup restore testing for the database, a
validator that checks the restored data and records the measured restore time, and the DR-region
drill that restores the newest cross-region copy on its own schedule.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.alarms import policy_alarm, restore_test_alarms
from backup_constructs.buckets import access_log_bucket, protected_bucket
from backup_constructs.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, function_code
from backup_constructs.keys import rotating_key
from backup_constructs.logs import policy_log_group
from backup_constructs.policy import BackupPolicy, PolicyError
from backup_constructs.statements import publish_metrics, send_dead_letters, vpc_network_interfaces, write_own_logs
from backup_constructs.validation import acknowledge, logical_id, nag_partition
from lambdas.contract import HANDLERS, METRIC_NAMESPACE, VALIDATOR

RESTORE_TEST_EVENT_SOURCE = "ecommerce.restore-testing"
VALIDATOR_DEPENDENCIES = ("pg8000", "scramp", "asn1crypto", "python-dateutil", "six")
VALIDATOR_USER = "backup_validator"
POSTGRES_PORT = 5432
SERVER_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"
PENDING_DRILL_PREFIX = "restore-tests/drill/pending/"
# Interface endpoints the validator reaches from isolated subnets (S3 goes through a gateway).
VALIDATOR_ENDPOINTS = ("backup", "rds", "secretsmanager", "monitoring", "events", "lambda")


class _RestoreValidation(Construct):
    """What the monthly test and the drill share: the test network (subnet group, security groups),
    the encrypted reports bucket, the validator function and its trigger, and the role AWS Backup
    restores with."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        kind: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        database_name: str,
        source_secret_arn: str | None,
        extra_environment: dict[str, str],
        create_vpc_endpoints: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.node.set_context(SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        self.policy = policy
        stack = Stack.of(self)
        spec = policy.restore_testing

        self.subnet_group = rds.SubnetGroup(
            self,
            "SubnetGroup",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            description=f"Restored copies of the {policy.environment} database ({kind} restore tests)",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.validator_security_group = ec2.SecurityGroup(
            self, "ValidatorSecurityGroup", vpc=vpc, description="Restore validator", allow_all_outbound=False
        )
        self.restored_security_group = ec2.SecurityGroup(
            self,
            "RestoredSecurityGroup",
            vpc=vpc,
            description="Restored test copies: reachable by the validator only",
            allow_all_outbound=False,
        )
        self.restored_security_group.add_ingress_rule(
            self.validator_security_group, ec2.Port.tcp(POSTGRES_PORT), "validator to the restored copy"
        )
        self.validator_security_group.add_egress_rule(
            self.restored_security_group, ec2.Port.tcp(POSTGRES_PORT), "validator to the restored copy"
        )
        # The subnets have no route to the internet: HTTPS only reaches the VPC endpoints (and the
        # S3 gateway, whose prefix list is only known at deploy time).
        self.validator_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "AWS APIs through the VPC endpoints"
        )
        if create_vpc_endpoints:
            self._endpoints(vpc, vpc_subnets)

        self.reports_key = rotating_key(
            self,
            "ReportsKey",
            description=f"Encrypts {policy.environment} restore-test reports",
        )
        self.reports_bucket = protected_bucket(
            self,
            "Reports",
            encryption_key=self.reports_key,
            retention_days=spec.report_retention_days,
            access_logs=access_log_bucket(self, "ReportsAccessLogs"),
        )
        acknowledge(
            self.reports_bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "Restore-test reports are evidence written in the region they describe; the monthly and the "
            "DR-region reports each live in their own region.",
        )
        self.restore_role = iam.Role(
            self,
            "RestoreRole",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSBackupServiceRolePolicyForRestores")
            ],
            description=f"AWS Backup restores {policy.environment} test copies with this role",
        )
        acknowledge(
            self.restore_role,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForRestores]",
            "AWS Backup restores with the policy AWS maintains for that service as resource types change.",
        )

        log_group = policy_log_group(self, "ValidatorLogs", policy=policy)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.reports_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the validator function.",
        )
        self.validator_role = iam.Role(
            self,
            "ValidatorRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Validates {kind} restores of the {policy.environment} database",
        )
        environment = {
            "ENVIRONMENT": policy.environment,
            "KIND": kind,
            "REPORTS_BUCKET": self.reports_bucket.bucket_name,
            "VALIDATOR_USER": VALIDATOR_USER,
            "DATABASE_NAME": database_name,
            "RTO_MINUTES": str(policy.rto_target_minutes),
            "RPO_MINUTES": str(policy.rpo_target_minutes),
            "CHECKS": json.dumps([c.to_json() for c in spec.checks], separators=(",", ":")),
            "METRIC_NAMESPACE": METRIC_NAMESPACE,
            **({"SOURCE_SECRET_ARN": source_secret_arn} if source_secret_arn else {}),
            **extra_environment,
        }
        self.validator_function = lambda_.Function(
            self,
            "Validator",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler=HANDLERS[VALIDATOR],
            code=function_code(self, dependencies=VALIDATOR_DEPENDENCIES),
            role=self.validator_role.without_policy_updates(),
            environment=environment,
            timeout=Duration.minutes(10),
            memory_size=512,
            reserved_concurrent_executions=2,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            log_group=log_group,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=[self.validator_security_group],
            description=f"Checks the data of restored {policy.environment} copies ({kind}) and reports",
        )
        self.validator_function.node.add_dependency(self.validator_role)
        self.completed_rule = events.Rule(
            self,
            "RestoreCompleted",
            description=f"Validate every completed RDS restore job ({kind})",
            event_pattern=events.EventPattern(
                source=["aws.backup"],
                detail_type=["Restore Job State Change"],
                detail={"status": ["COMPLETED"], "resourceType": ["RDS"]},
            ),
            targets=[targets.LambdaFunction(self.validator_function, retry_attempts=2)],
        )
        self.log_group = log_group
        self.statements: list[iam.PolicyStatement] = [
            write_own_logs(log_group),
            vpc_network_interfaces(),
            # Monthly jobs belong to the restore testing plan, which awaits their validation result;
            # the drill's own restore jobs have no plan to report to.
            iam.PolicyStatement(
                sid="ReadRestoreJobs" if kind == "drill" else "ReadRestoreJobsAndRecordResults",
                actions=["backup:DescribeRestoreJob"]
                + ([] if kind == "drill" else ["backup:PutRestoreValidationResult"]),
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="RecoveryPointCreationTime",
                actions=["backup:DescribeRecoveryPoint"],
                resources=recovery_point_arns(stack),
            ),
            iam.PolicyStatement(
                sid="FindRestoredCopies",
                actions=["rds:DescribeDBInstances"],
                resources=[stack.format_arn(service="rds", resource="db", resource_name="*", arn_format=_COLON)],
            ),
            iam.PolicyStatement(
                sid="ConnectAsValidator",
                actions=["rds-db:connect"],
                resources=[
                    stack.format_arn(
                        service="rds-db", resource="dbuser", resource_name=f"*/{VALIDATOR_USER}", arn_format=_COLON
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[self.reports_bucket.arn_for_objects("restore-tests/*")],
            ),
            iam.PolicyStatement(
                sid="ReportsEncrypted",
                actions=["kms:GenerateDataKey"],
                resources=[self.reports_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            ),
            publish_metrics(METRIC_NAMESPACE),
            iam.PolicyStatement(
                sid="AnnounceResults",
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
            ),
            send_dead_letters(self.dead_letter_queue),
            # Lambda sends a failed event to the KMS-encrypted queue with this role: producers need both.
            iam.PolicyStatement(
                sid="DeadLettersEncrypted",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.reports_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}},
            ),
        ]
        if source_secret_arn:
            self.statements.append(
                iam.PolicyStatement(
                    sid="SourceSecretVersions", actions=["secretsmanager:GetSecretValue"], resources=[source_secret_arn]
                )
            )

    def finish(self) -> iam.ManagedPolicy:
        """Attach the validator's statements (callers append theirs first) as a managed policy."""
        policy = iam.ManagedPolicy(self, "ValidatorPolicy", roles=[self.validator_role], statements=self.statements)
        stack = Stack.of(self)
        reasons = recovery_point_findings(stack) | {
            "Resource::*": "EC2 network-interface actions, backup:DescribeRestoreJob/PutRestoreValidationResult "
            "(restore jobs get ids at run time) and cloudwatch:PutMetricData (namespace-conditioned) take no "
            "narrower resource.",
            f"Resource::arn:{nag_partition(stack)}:rds:{stack.region}:{stack.account}:db:*": "Restored test copies get "
            "names chosen by AWS Backup at run time; the validator only describes them.",
            f"Resource::arn:{nag_partition(stack)}:rds-db:{stack.region}:{stack.account}:dbuser:*/{VALIDATOR_USER}": (
                "The restored copy's resource id is unknown until it exists; the action is limited to the "
                "read-only validator user."
            ),
            f"Resource::<{logical_id(self.reports_bucket)}.Arn>/restore-tests/*": "Reports are written under "
            "restore-tests/<kind>/<year>/<month>/ with job ids as names.",
            f"Resource::<{logical_id(self.log_group)}.Arn>:*": "Lambda names its log streams at run time.",
        }
        for finding, reason in reasons.items():
            acknowledge(policy, f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason)
        return policy

    def _endpoints(self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> None:
        endpoints = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="VPC endpoints for the validator",
            allow_all_outbound=False,
        )
        endpoints.add_ingress_rule(self.validator_security_group, ec2.Port.tcp(443), "validator to AWS APIs")
        for name in VALIDATOR_ENDPOINTS:
            vpc.add_interface_endpoint(
                f"{name.capitalize()}Endpoint",
                service=ec2.InterfaceVpcEndpointAwsService(name),
                subnets=subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[endpoints],
            )
        vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)


_COLON = ArnFormat.COLON_RESOURCE_NAME


def recovery_point_arns(stack: Stack) -> list[str]:
    """Every ARN shape an RDS recovery point of this region and account has, as IAM evaluates it:
    snapshots (and their cross-region copies) are RDS snapshot ARNs (``snapshot:awsbackup:job-...``,
    ``...:copyjob-...``), continuous recovery points are AWS Backup ARNs (``recovery-point:continuous:db-...``)."""
    return [
        stack.format_arn(service="rds", resource="snapshot", resource_name="awsbackup:*", arn_format=_COLON),
        stack.format_arn(service="backup", resource="recovery-point", resource_name="*", arn_format=_COLON),
    ]


def recovery_point_findings(stack: Stack) -> dict[str, str]:
    """cdk-nag findings for :func:`recovery_point_arns`, with the reason."""
    partition = nag_partition(stack)
    reason = (
        "Recovery points get ids at run time; the pattern is limited to AWS Backup's own snapshots "
        "(snapshot:awsbackup:*) and recovery points of this account and region."
    )
    return {
        f"Resource::arn:{partition}:rds:{stack.region}:{stack.account}:snapshot:awsbackup:*": reason,
        f"Resource::arn:{partition}:backup:{stack.region}:{stack.account}:recovery-point:*": reason,
    }


class RestoreTesting(Construct):
    """The monthly restore test: an AWS Backup restore testing plan picking the latest snapshot or
    continuous recovery point of the database within a window, restored as a small, single-AZ,
    private copy that only the validator can reach; the validator checks the data, records the
    validation result, the report and the measured restore time.

    Parameters
    ----------
    policy:
        ``restore_testing`` gives schedule, windows, instance class, checks and report retention.
    vault:
        The vault whose recovery points are tested.
    database_arn:
        The protected database instance.
    database_secret_arn:
        The source's master secret: its current and previous versions are the fallback credentials
        (a restored snapshot keeps the password of its time). Default: IAM authentication only.
    vpc, vpc_subnets:
        Where copies are restored and the validator runs (private subnets).
    database_name:
        The database the checks run in. Default: ``ecommerce``.
    create_vpc_endpoints:
        Interface endpoints for the AWS APIs the validator calls (isolated subnets have no other
        route). Default: true.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        vault: backup.IBackupVault,
        database_arn: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        database_secret_arn: str | None = None,
        database_name: str = "ecommerce",
        create_vpc_endpoints: bool = True,
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.restore_testing
        plan_name = f"{policy.environment}-monthly-restore-test".replace("-", "_")
        self.validation = _RestoreValidation(
            self,
            "Validation",
            policy=policy,
            kind="monthly",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            database_name=database_name,
            source_secret_arn=database_secret_arn,
            extra_environment={},
            create_vpc_endpoints=create_vpc_endpoints,
        )
        self.restore_testing_plan = backup.CfnRestoreTestingPlan(
            self,
            "Plan",
            restore_testing_plan_name=plan_name,
            schedule_expression=spec.schedule,
            schedule_expression_timezone="Etc/UTC",
            start_window_hours=spec.start_window_hours,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault.backup_vault_arn],
                recovery_point_types=["SNAPSHOT", "CONTINUOUS"],
                selection_window_days=spec.selection_window_days,
            ),
        )
        self.restore_testing_selection = backup.CfnRestoreTestingSelection(
            self,
            "Selection",
            restore_testing_plan_name=self.restore_testing_plan.restore_testing_plan_name,
            restore_testing_selection_name=f"{plan_name}_database",
            protected_resource_type="RDS",
            protected_resource_arns=[database_arn],
            iam_role_arn=self.validation.restore_role.role_arn,
            restore_metadata_overrides={
                "dbInstanceClass": spec.instance_class,
                "multiAz": "false",
                "publiclyAccessible": "false",
                "dbSubnetGroupName": self.validation.subnet_group.subnet_group_name,
                # The validator logs in with an IAM token for its read-only user, never the master secret.
                "enableIamDatabaseAuthentication": "true",
                # A JSON list, as the restore metadata carries it.
                "vpcSecurityGroupIds": Fn.join(
                    "", ['["', self.validation.restored_security_group.security_group_id, '"]']
                ),
            },
            validation_window_hours=spec.validation_window_hours,
        )
        self.restore_testing_selection.add_resource_dependency(self.restore_testing_plan)
        self.validation.validator_function.add_environment(
            "PLAN_ARN", self.restore_testing_plan.attr_restore_testing_plan_arn
        )
        self.validation.finish()
        self.reports_bucket: s3.Bucket = self.validation.reports_bucket
        self.validator_function = self.validation.validator_function


class DisasterRecoveryDrill(Construct):
    """The quarterly DR drill, deployed in the DR region. AWS documentation does not confirm that a
    restore testing plan can select cross-region copies, so the drill starts its own restore job of
    the newest copy in the DR vault on the policy's ``drill_schedule``; the same validator checks
    the data, fails the drill when the measured restore time exceeds the RTO, restores the latest
    Kubernetes configuration into the drill namespace (optional), reports, and deletes the copy.

    Parameters
    ----------
    policy:
        ``restore_testing.drill_schedule`` and the RTO/RPO targets.
    source_database_arn:
        The protected database in the primary region (the copies are filed under it).
    vpc, vpc_subnets:
        The DR region's network for the restored copy and the validator.
    config_restore_function_arn, source_namespace, drill_namespace:
        The configuration part of the drill: this restore function restores the latest backup of
        ``source_namespace`` into ``drill_namespace``. Default: no configuration drill.
    alert_topic:
        The DR region's alert topic: alarms on the drill's restore time against the RTO, failed checks,
        the starter's and validator's errors and dead letters notify it. Default: no alarms.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        source_database_arn: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        database_secret_arn: str | None = None,
        database_name: str = "ecommerce",
        config_restore_function_arn: str | None = None,
        source_namespace: str | None = None,
        drill_namespace: str | None = None,
        create_vpc_endpoints: bool = True,
        alert_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.restore_testing
        if spec.drill_schedule is None or policy.dr_region is None:
            raise PolicyError(
                "restore_testing.drill_schedule: got None; a DR drill needs a drill schedule and a dr_region"
            )
        if (config_restore_function_arn is None) != (drill_namespace is None) or (
            drill_namespace is not None and source_namespace is None
        ):
            raise PolicyError(
                "config_restore_function_arn, source_namespace, drill_namespace: set all three for the "
                "configuration drill, or none"
            )
        stack = Stack.of(self)
        prefix = f"{policy.environment}-drill"
        config_env = (
            {
                "CONFIG_RESTORE_FUNCTION_ARN": config_restore_function_arn,
                "SOURCE_NAMESPACE": source_namespace or "",
                "DRILL_NAMESPACE": drill_namespace or "",
            }
            if config_restore_function_arn
            else {}
        )
        self.validation = _RestoreValidation(
            self,
            "Validation",
            policy=policy,
            kind="drill",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            database_name=database_name,
            source_secret_arn=database_secret_arn,
            extra_environment={"IDENTIFIER_PREFIX": prefix},
            create_vpc_endpoints=create_vpc_endpoints,
        )
        validation = self.validation
        self._delete_pattern = f"Resource::arn:{nag_partition(stack)}:rds:{stack.region}:{stack.account}:db:{prefix}-*"
        pending = validation.reports_bucket.arn_for_objects(f"{PENDING_DRILL_PREFIX}*")
        validation.statements += [
            iam.PolicyStatement(
                sid="DeleteOwnDrillCopies",
                actions=["rds:DeleteDBInstance"],
                resources=[
                    stack.format_arn(service="rds", resource="db", resource_name=f"{prefix}-*", arn_format=_COLON)
                ],
            ),
            iam.PolicyStatement(sid="ReadPendingDrill", actions=["s3:GetObject"], resources=[pending]),
            iam.PolicyStatement(
                sid="ReadPendingDrillEncrypted",
                actions=["kms:Decrypt"],
                resources=[validation.reports_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
            ),
            # The bucket is versioned and object-locked: this adds a delete marker, the marker's
            # versions stay for the report retention.
            iam.PolicyStatement(sid="ClearPendingDrill", actions=["s3:DeleteObject"], resources=[pending]),
        ]
        validator_policy = validation.finish()
        acknowledge(
            validator_policy,
            f"AwsSolutions::AwsSolutions-IAM5[{self._delete_pattern}]",
            f"The drill deletes only its own copies, named {prefix}-<time>; the function also checks the "
            "pending-drill marker before deleting.",
        )
        acknowledge(
            validator_policy,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(validation.reports_bucket)}.Arn>/"
            f"{PENDING_DRILL_PREFIX}*]",
            "Pending-drill markers are named by restore job id; the validator clears the one it validated.",
        )

        starter_role = iam.Role(
            self,
            "StarterRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Starts the quarterly {policy.environment} DR drill restore",
        )
        starter_logs = policy_log_group(self, "StarterLogs", policy=policy)
        dr_vault_arn = stack.format_arn(
            service="backup", resource="backup-vault", resource_name=policy.dr_backup_vault_name, arn_format=_COLON
        )
        self.starter_function = lambda_.Function(
            self,
            "Starter",
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            handler="lambdas.restore_testing.drill_start_handler",
            code=function_code(self, dependencies=VALIDATOR_DEPENDENCIES),
            role=starter_role.without_policy_updates(),
            environment={
                "ENVIRONMENT": policy.environment,
                "DR_VAULT_NAME": policy.dr_backup_vault_name,
                "SOURCE_DB_ARN": source_database_arn,
                "RESTORE_ROLE_ARN": validation.restore_role.role_arn,
                "INSTANCE_CLASS": spec.instance_class,
                "DB_SUBNET_GROUP": validation.subnet_group.subnet_group_name,
                "SECURITY_GROUP_IDS": validation.restored_security_group.security_group_id,
                "REPORTS_BUCKET": validation.reports_bucket.bucket_name,
                "IDENTIFIER_PREFIX": prefix,
                **config_env,
            },
            # The configuration drill (a synchronous restore in the primary region) runs in here.
            timeout=Duration.minutes(12),
            memory_size=256,
            reserved_concurrent_executions=1,
            dead_letter_queue=validation.dead_letter_queue,
            log_group=starter_logs,
            description=f"Starts a restore of the newest {policy.environment} copy in the DR vault",
        )
        self.starter_function.node.add_dependency(starter_role)
        acknowledge(
            self.starter_function,
            "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC",
            "The starter calls the AWS Backup API and, for the configuration drill, the restore function in "
            "the primary region; it touches no database and needs no network path into the VPC.",
        )
        starter_policy = iam.ManagedPolicy(
            self,
            "StarterPolicy",
            roles=[starter_role],
            statements=[
                write_own_logs(starter_logs),
                iam.PolicyStatement(
                    sid="FindNewestCopy", actions=["backup:ListRecoveryPointsByBackupVault"], resources=[dr_vault_arn]
                ),
                # IAM evaluates StartRestoreJob against the recovery point's own ARN: an RDS snapshot
                # ARN for snapshot copies, an AWS Backup ARN for continuous recovery points.
                iam.PolicyStatement(
                    sid="StartDrillRestore",
                    actions=["backup:StartRestoreJob"],
                    resources=recovery_point_arns(stack),
                ),
                iam.PolicyStatement(
                    sid="PassRestoreRole",
                    actions=["iam:PassRole"],
                    resources=[validation.restore_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="RecordPendingDrill",
                    actions=["s3:PutObject"],
                    resources=[validation.reports_bucket.arn_for_objects(f"{PENDING_DRILL_PREFIX}*")],
                ),
                iam.PolicyStatement(
                    sid="ReportsEncrypted",
                    actions=["kms:GenerateDataKey"],
                    resources=[validation.reports_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}},
                ),
                send_dead_letters(validation.dead_letter_queue),
                # Lambda sends a failed event to the KMS-encrypted queue with this role: producers
                # need both actions.
                iam.PolicyStatement(
                    sid="DeadLettersEncrypted",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[validation.reports_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}},
                ),
                *(
                    [
                        iam.PolicyStatement(
                            sid="ConfigurationDrill",
                            actions=["lambda:InvokeFunction"],
                            resources=[config_restore_function_arn],
                        )
                    ]
                    if config_restore_function_arn
                    else []
                ),
            ],
        )
        starter_findings = recovery_point_findings(stack) | {
            f"Resource::<{logical_id(validation.reports_bucket)}.Arn>/{PENDING_DRILL_PREFIX}*": (
                "Pending-drill markers are named by restore job id."
            ),
            f"Resource::<{logical_id(starter_logs)}.Arn>:*": "Lambda names its log streams at run time.",
        }
        for finding, reason in starter_findings.items():
            acknowledge(starter_policy, f"AwsSolutions::AwsSolutions-IAM5[{finding}]", reason)
        self.schedule_rule = events.Rule(
            self,
            "Quarterly",
            description=f"Quarterly {policy.environment} DR drill",
            schedule=events.Schedule.expression(spec.drill_schedule),
            targets=[targets.LambdaFunction(self.starter_function, retry_attempts=2)],
        )
        self.reports_bucket = validation.reports_bucket
        self.validator_function = validation.validator_function
        self.alarms: dict[str, cw.Alarm] = {}
        if alert_topic is not None:
            self._alarms(policy, cw_actions.SnsAction(alert_topic))

    def _alarms(self, policy: BackupPolicy, action: cw.IAlarmAction) -> None:
        """The drill's alarms, in the DR region where its functions run and its validator publishes."""

        def alarm(id_: str, metric: cw.IMetric, **kwargs: Any) -> cw.Alarm:
            self.alarms[id_] = policy_alarm(self, id_, metric, environment=policy.environment, action=action, **kwargs)
            return self.alarms[id_]

        restore_test_alarms(policy, kind="drill", alarm=alarm)
        quiet = cw.TreatMissingData.NOT_BREACHING
        alarm(
            "DrillStarterErrors",
            self.starter_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            description="The DR drill could not start its restore (see the starter's log)",
            missing=quiet,
        )
        alarm(
            "DrillValidatorErrors",
            self.validator_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            description="The DR drill's validator failed without recording a result",
            missing=quiet,
        )
        alarm(
            "DrillDeadLetters",
            self.validation.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=1,
            description="A DR drill event gave up after its retries (dead letter)",
            missing=quiet,
        )


__all__ = ["DisasterRecoveryDrill", "RestoreTesting"]
