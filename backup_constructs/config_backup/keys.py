"""The configuration backup's KMS keys: the SOPS key (export may only encrypt, restore only decrypt) and
the key-policy statements for roles named by ARN."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge_all

KEY_ADMIN_ACTIONS = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
]  # fmt: skip


# What reads a SOPS data key, directly or by a grant: denied to all but the restore and break-glass roles.
SOPS_DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncrypt*", "kms:CreateGrant")


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


def digest_key_policy(scope: Construct, role_arns: Sequence[str]) -> iam.PolicyDocument:
    """The digest key's policy: the account administers it, the backup roles compute digests."""
    return iam.PolicyDocument(
        statements=[
            key_admin_statement(scope),
            role_use_statement("DigestsForBackupRoles", ["kms:GenerateMac"], role_arns),
        ]
    )


def region_digest_key(scope: Construct, id_: str, *, alias: str, role_arns: Sequence[str], description: str) -> kms.Key:
    """The digest HMAC key as a multi-Region primary key: its replica in the DR region holds the same
    key material, so digests made here verify there with the primary region gone."""
    key = kms.Key(
        scope,
        id_,
        description=description,
        alias=alias,
        key_spec=kms.KeySpec.HMAC_256,
        key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
        multi_region=True,
        policy=digest_key_policy(scope, role_arns),
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge_hmac_key(key)
    return key


def acknowledge_hmac_key(key: Construct) -> None:
    acknowledge_all(
        key,
        [
            (
                "AwsSolutions::AwsSolutions-KMS5",
                "KMS rotates only symmetric encryption keys; this HMAC key must also stay fixed so that the "
                "digests of unchanged Secrets stay equal across backups.",
            ),
            (
                "PCI.DSS.321::PCI.DSS.321-KMSBackingKeyRotationEnabled",
                "KMS rotates only symmetric encryption keys; this HMAC key signs digests and encrypts nothing.",
            ),
        ],
    )


class DigestKeyReplica(Construct):
    """The multi-Region digest key's replica in this (the DR) region, under the same alias, for the
    DR side's restores and verification. Deploy it after the stack that holds the primary."""

    def __init__(
        self, scope: Construct, id_: str, *, primary_key_arn: str, alias: str, role_arns: Sequence[str]
    ) -> None:
        super().__init__(scope, id_)
        document = digest_key_policy(self, role_arns)
        self.key = kms.CfnReplicaKey(
            self,
            "Key",
            primary_key_arn=primary_key_arn,
            key_policy=document.to_json(),
            description="Replica of the configuration backups' digest key (verification in the DR region)",
        )
        self.key.apply_removal_policy(RemovalPolicy.RETAIN)
        self.alias = kms.CfnAlias(self, "Alias", alias_name=alias, target_key_id=self.key.attr_key_id)


def sops_key(
    scope: Construct,
    id_: str,
    *,
    alias: str,
    encrypt_role_arns: Sequence[str],
    decrypt_role_arns: Sequence[str],
    description: str,
) -> kms.Key:
    """The key that wraps SOPS data keys: whoever exports may only encrypt, whoever restores decrypt.

    Everyone else is denied decryption and the grants that would give it (``kms:CreateGrant``), even
    an account admin who could otherwise grant themselves ``kms:Decrypt``: to read a Secret they
    would first have to change the key policy (denied too, see ``protect_keys``, and alerted)."""
    policy = iam.PolicyDocument(
        statements=[
            key_admin_statement(scope),
            role_use_statement("ExportEncryptsOnly", ["kms:Encrypt", "kms:DescribeKey"], encrypt_role_arns),
            role_use_statement("RestoreDecrypts", ["kms:Decrypt"], decrypt_role_arns),
            iam.PolicyStatement(
                sid="NobodyElseDecrypts",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(SOPS_DECRYPT_ACTIONS),
                resources=["*"],
                conditions={"ArnNotLike": {"aws:PrincipalArn": list(decrypt_role_arns)}},
            ),
        ]
    )
    return rotating_key(scope, id_, alias=alias, description=description, policy=policy)
