"""The project's KMS keys: customer managed, rotated yearly, retained when a stack is deleted, and
protected against deletion by anyone but the break-glass principals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

PROTECTED_KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")


def rotating_key(scope: Construct, id_: str, *, description: str, **kwargs: Any) -> kms.Key:
    """A KMS key with rotation, retained on stack deletion (what it encrypts outlives the stack)."""
    return kms.Key(
        scope, id_, description=description, enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN, **kwargs
    )


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
