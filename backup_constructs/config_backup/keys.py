"""The configuration backup's KMS keys: the SOPS key (export may only encrypt, restore only decrypt) and
the key-policy statements for roles named by ARN."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from backup_constructs.core.keys import rotating_key

KEY_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]  # fmt: skip


def key_admin_statement(scope: Construct) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="KeyAdministrationByTheAccount",
        principals=[iam.AccountRootPrincipal()],
        actions=KEY_ADMIN_ACTIONS,
        resources=["*"],  # in a key policy "*" is this key
    )


def role_use_statement(sid: str, actions: list[str], role_arns: Sequence[str]) -> iam.PolicyStatement:
    """Key-policy statement for principals named by ARN: the condition form works before the roles
    exist (a key policy naming a missing principal is rejected)."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.AccountRootPrincipal()],
        actions=actions,
        resources=["*"],
        conditions={"ArnEquals": {"aws:PrincipalArn": list(role_arns)}},
    )


def sops_key(
    scope: Construct,
    id_: str,
    *,
    alias: str,
    encrypt_role_arns: Sequence[str],
    decrypt_role_arns: Sequence[str],
    description: str,
) -> kms.Key:
    """The key that wraps SOPS data keys: whoever exports may only encrypt, whoever restores decrypt."""
    policy = iam.PolicyDocument(
        statements=[
            key_admin_statement(scope),
            role_use_statement("ExportEncryptsOnly", ["kms:Encrypt", "kms:DescribeKey"], encrypt_role_arns),
            role_use_statement("RestoreDecrypts", ["kms:Decrypt"], decrypt_role_arns),
        ]
    )
    return rotating_key(scope, id_, alias=alias, description=description, policy=policy)
