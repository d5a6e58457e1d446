"""The heartbeat writer: a function in the database's VPC that writes a row a minute into the database
(IAM database authentication as ``backup_heartbeat``, TLS), so that every restored or replicated copy
says how fresh its data is, whatever the application's traffic."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from constructs import Construct

from backup_constructs.core.functions import FunctionIds, attach_policy, project_function
from backup_constructs.core.nag import acknowledge
from backup_constructs.core.statements import vpc_network_interfaces, write_own_logs
from backup_constructs.policy import BackupPolicy
from lambdas.contract.functions import FUNCTIONS, HEARTBEAT
from lambdas.contract.layout import HEARTBEAT_USER
from lambdas.contract.settings import HeartbeatSettings


class DatabaseHeartbeat(Construct):
    """Writes a heartbeat row into ``database_name`` every minute.

    Parameters
    ----------
    instance:
        The database (its endpoint and resource id).
    database_security_group:
        The database's security group: it admits the writer on ``port``.
    vpc, vpc_subnets:
        Where the writer runs (no AWS API is needed: the IAM token is signed locally).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        instance: rds.DatabaseInstance,
        database_security_group: ec2.ISecurityGroup,
        database_name: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        port: int = 5432,
        function_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description="Heartbeat writer: the database only", allow_all_outbound=False
        )
        self.security_group.add_egress_rule(database_security_group, ec2.Port.tcp(port), "heartbeat to the database")
        database_security_group.add_ingress_rule(self.security_group, ec2.Port.tcp(port), "heartbeat writer")
        made = project_function(
            self,
            FunctionIds.named("Writer"),
            policy=policy,
            handler=FUNCTIONS[HEARTBEAT].handler,
            description=f"Writes a heartbeat row a minute into {database_name} (data-loss measurement)",
            role_description=f"The heartbeat writer of {policy.environment}'s database",
            environment=HeartbeatSettings.env(
                host=instance.db_instance_endpoint_address, port=port, database=database_name
            ),
            timeout=Duration.seconds(30),
            memory_size=256,
            reserved_concurrent_executions=1,
            retry_attempts=0,
            function_name=function_name,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=[self.security_group],
        )
        self.function: lambda_.Function = made.function
        cfn = instance.node.default_child
        assert isinstance(cfn, rds.CfnDBInstance)
        policy_doc = attach_policy(
            self,
            "WriterPolicy",
            made,
            [
                write_own_logs(made.log_group),
                iam.PolicyStatement(
                    sid="ConnectAsHeartbeat",
                    actions=["rds-db:connect"],
                    resources=[
                        stack.format_arn(
                            service="rds-db",
                            resource="dbuser",
                            resource_name=f"{cfn.attr_dbi_resource_id}/{HEARTBEAT_USER}",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
                vpc_network_interfaces(),
            ],
        )
        acknowledge(
            policy_doc,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "EC2 network-interface actions for a function in a VPC do not support resource-level permissions.",
        )
        self.schedule = events.Rule(
            self,
            "EveryMinute",
            description=f"Heartbeat into {policy.environment}'s database",
            schedule=events.Schedule.rate(Duration.minutes(1)),
            targets=[targets.LambdaFunction(made.function, retry_attempts=0)],
        )
