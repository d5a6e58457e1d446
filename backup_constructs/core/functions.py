"""The project's Lambda functions, built one way: bundled from the installed runtime package (arm64),
an explicit log group with the policy's retention, an optional dead-letter queue, and a role of its own
whose permissions are a customer-managed policy written out in full.

A function, not a construct: the resources land in the caller's scope with the ids the caller names,
so the logical ids (and with them the log groups and named resources) stay what they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.core.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, function_code, handler_dependencies
from backup_constructs.core.logs import policy_log_group
from backup_constructs.core.nag import acknowledge, logical_id
from backup_constructs.policy import BackupPolicy


@dataclass(frozen=True)
class FunctionIds:
    """Construct ids of a function's resources in the caller's scope."""

    function: str
    role: str
    log_group: str
    policy: str

    @classmethod
    def named(cls, name: str) -> FunctionIds:
        return cls(function=name, role=f"{name}Role", log_group=f"{name}Logs", policy=f"{name}Policy")


@dataclass(frozen=True)
class ProjectFunction:
    """What :func:`project_function` created."""

    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def project_function(
    scope: Construct,
    ids: FunctionIds,
    *,
    policy: BackupPolicy,
    handler: str,
    description: str,
    role_description: str,
    timeout: Duration,
    environment: dict[str, str] | None = None,
    memory_size: int = 256,
    reserved_concurrent_executions: int | None = None,
    dead_letter_queue: sqs.IQueue | None = None,
    retry_attempts: int | None = None,
    function_name: str | None = None,
    role_name: str | None = None,
    vpc: ec2.IVpc | None = None,
    vpc_subnets: ec2.SubnetSelection | None = None,
    security_groups: Sequence[ec2.ISecurityGroup] | None = None,
    features: Sequence[str] = (),
) -> ProjectFunction:
    """Create the function, its role and its log group in ``scope``; grant with :func:`attach_policy`.

    ``handler`` is the runtime's (``lambdas.contract.functions.FUNCTIONS``); what the bundle holds besides
    the package is what the handler's module declares, plus its optional ``features``."""
    role = iam.Role(
        scope,
        ids.role,
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    log_group = policy_log_group(scope, ids.log_group, policy=policy)
    function = lambda_.Function(
        scope,
        ids.function,
        function_name=function_name,
        runtime=LAMBDA_RUNTIME,
        architecture=LAMBDA_ARCHITECTURE,
        handler=handler,
        code=function_code(scope, dependencies=handler_dependencies(handler, features)),
        role=role.without_policy_updates(),
        environment=environment,
        timeout=timeout,
        memory_size=memory_size,
        reserved_concurrent_executions=reserved_concurrent_executions,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=retry_attempts,
        log_group=log_group,
        description=description,
        vpc=vpc,
        vpc_subnets=vpc_subnets,
        security_groups=list(security_groups) if security_groups else None,
    )
    function.node.add_dependency(role)
    return ProjectFunction(function, role, log_group)


def attach_policy(
    scope: Construct, id_: str, made: ProjectFunction, statements: Sequence[iam.PolicyStatement]
) -> iam.ManagedPolicy:
    """The function's permissions as one customer-managed policy (never CDK's inline default policy),
    written out in full by the caller: its own log streams (:func:`write_own_logs`), its dead letters,
    what its logic calls."""
    managed = iam.ManagedPolicy(scope, id_, roles=[made.role], statements=list(statements))
    acknowledge(
        managed,
        f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(made.log_group)}.Arn>:*]",
        "Lambda names its log streams at run time; the wildcard covers the streams of this one log group.",
    )
    return managed


def outside_vpc(function: lambda_.IFunction, reason: str) -> None:
    """Acknowledge PCI DSS's Lambda-in-VPC rule for a function that needs no network path into a VPC."""
    acknowledge(function, "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC", reason)
