"""Log groups that carry the policy's retention and a customer-managed KMS key."""

from __future__ import annotations

from aws_cdk import ArnFormat, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from backup_constructs.core.keys import rotating_key
from backup_constructs.core.tree import cfn_resource_type
from backup_constructs.policy import CLOUDWATCH_LOG_RETENTION_DAYS, BackupPolicy

_RETENTION_NAMES = dict(
    zip(CLOUDWATCH_LOG_RETENTION_DAYS, [m.name for m in logs.RetentionDays if m.name != "INFINITE"], strict=True)
)
_LOGS_KEY_ID = "LogsKey"


def log_retention(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for a number of days CloudWatch Logs accepts."""
    return logs.RetentionDays[_RETENTION_NAMES[days]]


def logs_key(scope: Construct) -> kms.IKey:
    """The stack's KMS key for CloudWatch Logs (created on first use, one per stack)."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(_LOGS_KEY_ID)
    if isinstance(existing, kms.Key):
        return existing
    key = rotating_key(stack, _LOGS_KEY_ID, description=f"Encrypts the CloudWatch log groups of {stack.stack_name}")
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchLogsOfThisAccountAndRegion",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],  # in a key policy "*" is this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    return key


def policy_log_group(
    scope: Construct, id_: str, *, policy: BackupPolicy, log_group_name: str | None = None
) -> logs.LogGroup:
    """A log group with the environment's retention, encrypted with the stack's logs key."""
    return logs.LogGroup(
        scope,
        id_,
        log_group_name=log_group_name,
        retention=log_retention(policy.log_retention_days),
        encryption_key=logs_key(scope),
        removal_policy=RemovalPolicy.RETAIN,
    )


def explicit_lambda_log_groups(scope: Construct, *, policy: BackupPolicy) -> list[logs.LogGroup]:
    """Give every Lambda function in ``scope`` that has no log group of its own (CDK's custom
    resource providers, for one) an explicit one with the policy's retention, instead of the
    never-expiring group Lambda would create on first run."""
    created: list[logs.LogGroup] = []
    for node in scope.node.find_all():
        if not isinstance(node, CfnResource) or cfn_resource_type(node) != "AWS::Lambda::Function":
            continue
        if isinstance(node, lambda_.CfnFunction) and node.logging_config is not None:
            continue
        parent = node.node.scope
        assert isinstance(parent, Construct)
        group = policy_log_group(parent, f"{node.node.id}LogGroup", policy=policy)
        node.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
        created.append(group)
    return created
