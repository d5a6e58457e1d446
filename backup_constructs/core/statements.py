"""IAM statements every function of the library needs, written once (least privilege, explicit)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs


def write_own_logs(log_group: logs.ILogGroup) -> iam.PolicyStatement:
    """Write to the function's own log group (Lambda names the streams at run time)."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[f"{log_group.log_group_arn}:*"],
    )


def send_dead_letters(queue: sqs.IQueue) -> list[iam.PolicyStatement]:
    """Lambda sends failed asynchronous events to the dead-letter queue with the function's role; to
    a queue encrypted with a customer managed key that takes ``kms:GenerateDataKey`` and
    ``kms:Decrypt`` on the key too (what any SQS producer needs), through SQS only."""
    statements = [iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[queue.queue_arn])]
    key = queue.encryption_master_key
    if key is not None:
        statements.append(
            key_use_through(
                "sqs",
                Stack.of(queue),
                sid="DeadLettersEncrypted",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                key_arn=key.key_arn,
            )
        )
    return statements


def vpc_network_interfaces() -> iam.PolicyStatement:
    """What a function in a VPC needs; EC2 documents these actions with Resource '*'."""
    return iam.PolicyStatement(
        sid="NetworkInterfacesInTheVpc",
        actions=[
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ],
        resources=["*"],
    )


def publish_metrics(namespace: str) -> iam.PolicyStatement:
    """PutMetricData takes no resource; the condition keeps it to one namespace."""
    return iam.PolicyStatement(
        sid="PublishMetrics",
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
    )


def key_use_through(
    service: str, stack: Stack, *, sid: str, actions: Sequence[str], key_arn: str
) -> iam.PolicyStatement:
    """Use of a KMS key only through one AWS service of the stack's region (``kms:ViaService``):
    ``s3`` for SSE-KMS reads and writes, ``sqs`` for an encrypted queue (a producer needs both
    ``kms:GenerateDataKey`` and ``kms:Decrypt``)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=list(actions),
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{stack.region}.amazonaws.com"}},
    )
