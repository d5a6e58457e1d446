"""IAM statements every function of the library needs, written once (least privilege, explicit)."""

from __future__ import annotations

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


def send_dead_letters(queue: sqs.IQueue) -> iam.PolicyStatement:
    """Lambda sends failed asynchronous events to the dead-letter queue with the function's role."""
    return iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[queue.queue_arn])


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
