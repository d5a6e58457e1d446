"""What the monthly restore test and the DR drill share: the isolated test network, the encrypted reports
bucket, the role AWS Backup restores with, and the validator that checks a restored copy and records
the measured restore time."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.core.buckets import access_log_bucket, access_logs_by_bucket_policy, protected_bucket
from backup_constructs.core.functions import FunctionIds, attach_policy, project_function
from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge, acknowledge_all, logical_id, nag_partition
from backup_constructs.core.statements import (
    key_use_through,
    publish_metrics,
    send_dead_letters,
    vpc_network_interfaces,
    write_own_logs,
)
from backup_constructs.policy import BackupPolicy
from lambdas.contract.events import AWS_BACKUP_SOURCE, RESTORE_JOB_STATE_CHANGE
from lambdas.contract.functions import FUNCTIONS
from lambdas.contract.layout import REPORT_PREFIX, VALIDATOR_USER
from lambdas.contract.metrics import METRIC_NAMESPACE, VALIDATOR
from lambdas.contract.settings import ValidatorSettings

POSTGRES_PORT = 5432
# Interface endpoints the validator reaches from isolated subnets (S3 goes through a gateway).
VALIDATOR_ENDPOINTS = ("backup", "rds", "secretsmanager", "monitoring", "events", "lambda")


class RestoreValidation(Construct):
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
        identifier_prefix: str | None,
        create_vpc_endpoints: bool,
    ) -> None:
        super().__init__(scope, id_)
        access_logs_by_bucket_policy(self)
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
        # Interface endpoints by service name (empty without create_vpc_endpoints).
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        self.endpoint_security_group: ec2.SecurityGroup | None = None
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
        environment = ValidatorSettings.env(
            environment=policy.environment,
            kind=kind,
            reports_bucket=self.reports_bucket.bucket_name,
            validator_user=VALIDATOR_USER,
            database=database_name,
            rto_minutes=policy.restore_test_targets(kind)[1],
            rpo_minutes=policy.restore_test_targets(kind)[0],
            checks_json=json.dumps([c.to_json() for c in spec.checks], separators=(",", ":")),
            metric_namespace=METRIC_NAMESPACE,
            source_secret_arn=source_secret_arn,
            identifier_prefix=identifier_prefix,
        )
        self.made = project_function(
            self,
            FunctionIds.named("Validator"),
            policy=policy,
            handler=FUNCTIONS[VALIDATOR].handler,
            description=f"Checks the data of restored {policy.environment} copies ({kind}) and reports",
            role_description=f"Validates {kind} restores of the {policy.environment} database",
            environment=environment,
            timeout=Duration.minutes(10),
            memory_size=512,
            reserved_concurrent_executions=2,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=[self.validator_security_group],
        )
        self.validator_function = self.made.function
        self.validator_role = self.made.role
        log_group = self.made.log_group
        self.completed_rule = events.Rule(
            self,
            "RestoreCompleted",
            description=f"Validate every completed RDS restore job ({kind})",
            event_pattern=events.EventPattern(
                source=[AWS_BACKUP_SOURCE],
                detail_type=[RESTORE_JOB_STATE_CHANGE],
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
                resources=[stack.format_arn(service="rds", resource="db", resource_name="*", arn_format=COLON)],
            ),
            iam.PolicyStatement(
                sid="ConnectAsValidator",
                actions=["rds-db:connect"],
                resources=[
                    stack.format_arn(
                        service="rds-db", resource="dbuser", resource_name=f"*/{VALIDATOR_USER}", arn_format=COLON
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[self.reports_bucket.arn_for_objects(f"{REPORT_PREFIX}/*")],
            ),
            key_use_through(
                "s3", stack, sid="ReportsEncrypted", actions=["kms:GenerateDataKey"], key_arn=self.reports_key.key_arn
            ),
            publish_metrics(METRIC_NAMESPACE),
            iam.PolicyStatement(
                sid="AnnounceResults",
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
            ),
            *send_dead_letters(self.dead_letter_queue),
        ]
        if source_secret_arn:
            self.statements.append(
                iam.PolicyStatement(
                    sid="SourceSecretVersions", actions=["secretsmanager:GetSecretValue"], resources=[source_secret_arn]
                )
            )

    def finish(self) -> iam.ManagedPolicy:
        """Attach the validator's statements (callers append theirs first) as a managed policy."""
        policy = attach_policy(self, "ValidatorPolicy", self.made, self.statements)
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
            f"Resource::<{logical_id(self.reports_bucket)}.Arn>/{REPORT_PREFIX}/*": "Reports are written under "
            f"{REPORT_PREFIX}/<kind>/<year>/<month>/ with job ids as names.",
        }
        acknowledge_all(policy, [(f"AwsSolutions::AwsSolutions-IAM5[{f}]", reason) for f, reason in reasons.items()])
        return policy

    def _endpoints(self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> None:
        self.endpoint_security_group = endpoints = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=vpc,
            description="VPC endpoints for the validator",
            allow_all_outbound=False,
        )
        endpoints.add_ingress_rule(self.validator_security_group, ec2.Port.tcp(443), "validator to AWS APIs")
        for name in VALIDATOR_ENDPOINTS:
            self.endpoints[name] = vpc.add_interface_endpoint(
                f"{name.capitalize()}Endpoint",
                service=ec2.InterfaceVpcEndpointAwsService(name),
                subnets=subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[endpoints],
            )
        vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)


COLON = ArnFormat.COLON_RESOURCE_NAME


def recovery_point_arns(stack: Stack) -> list[str]:
    """Every ARN shape an RDS recovery point of this region and account has, as IAM evaluates it:
    snapshots (and their cross-region copies) are RDS snapshot ARNs (``snapshot:awsbackup:job-...``,
    ``...:copyjob-...``), continuous recovery points are AWS Backup ARNs (``recovery-point:continuous:db-...``)."""
    return [
        stack.format_arn(service="rds", resource="snapshot", resource_name="awsbackup:*", arn_format=COLON),
        stack.format_arn(service="backup", resource="recovery-point", resource_name="*", arn_format=COLON),
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
