"""The project's KMS keys: customer managed, rotated yearly, retained when a stack is deleted, and
protected against deletion by anyone but the break-glass principals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import DefaultStackSynthesizer, RemovalPolicy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from backup_constructs.core.tree import StackLookup, jsii_reference
from backup_constructs.policy.naming import BACKUP_PROTECTION_TAG

PROTECTED_KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
# Denied too when the deploy role is known (exempt by its exact ARN): KMS's policy lockout safety check
# requires the principal that puts a key policy to keep kms:PutKeyPolicy, which the exemption keeps.
KEY_POLICY_ACTIONS = ("kms:PutKeyPolicy",)


def deployment_role_arn(scope: IConstruct) -> str | None:
    """The exact ARN of the CloudFormation execution role that deploys ``scope``'s stack (the CDK
    bootstrap's, with its qualifier and region, from the stack synthesizer); None when the stack's
    synthesizer deploys without one (e.g. with the CLI's own credentials)."""
    return _stack_deployment_role_arn(Stack.of(scope))


def _stack_deployment_role_arn(stack: Stack) -> str | None:
    synthesizer = stack.synthesizer
    if not isinstance(synthesizer, DefaultStackSynthesizer):
        return None
    arn = synthesizer.cloud_formation_execution_role_arn
    return arn.replace("${AWS::Partition}", stack.partition)


def rotating_key(scope: Construct, id_: str, *, description: str, **kwargs: Any) -> kms.Key:
    """A KMS key with rotation, retained on stack deletion (what it encrypts outlives the stack)."""
    return kms.Key(
        scope, id_, description=description, enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN, **kwargs
    )


def protect_keys(
    scope: IConstruct, *, exempt_principal_arns: Sequence[str], environment: str | None = None
) -> list[kms.Key]:
    """Deny ``kms:ScheduleKeyDeletion``, ``kms:DisableKey`` and ``kms:PutKeyPolicy`` on every key in
    ``scope`` to everyone but the break-glass principals and the exact deploy role (deploys keep
    working). This raises the cost of destroying the backups' keys and makes each attempt a CloudTrail
    event; it does not stop an account admin, who can act as the deploy role. With ``environment``,
    each key is tagged ``backup-protection=<environment>``: the organization's service control policy
    (which an account admin cannot remove) protects the keys by that tag.

    Without a known deploy role ``kms:PutKeyPolicy`` is not denied: the deploying principal would fail
    the key policy lockout safety check."""
    nodes = scope.node.find_all()
    keys = [node for node in nodes if isinstance(node, kms.Key)]
    if not keys:
        return keys
    # The deploy role is the stack's: asked once per stack, not once per key (each read is a round trip).
    stack_of = StackLookup(nodes)
    deployers: dict[str, str | None] = {}
    anyone = iam.AnyPrincipal()  # immutable: one for every statement
    for key in keys:
        stack = stack_of(key)
        if (ref := jsii_reference(stack)) not in deployers:
            deployers[ref] = _stack_deployment_role_arn(stack)
        deployer = deployers[ref]
        exempt = [*([deployer] if deployer else []), *exempt_principal_arns]
        statement = iam.PolicyStatement(
            sid="DenyKeyDestructionExceptBreakGlass",
            effect=iam.Effect.DENY,
            principals=[anyone],
            actions=[*PROTECTED_KEY_ACTIONS, *(KEY_POLICY_ACTIONS if deployer else ())],
            resources=["*"],
            conditions={"ArnNotLike": {"aws:PrincipalArn": exempt}} if exempt else None,
        )
        key.add_to_resource_policy(statement)
        if environment is not None:
            Tags.of(key).add(BACKUP_PROTECTION_TAG, environment)
    return keys
