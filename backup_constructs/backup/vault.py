"""A backup vault the account's own users cannot quietly empty: its own rotating key, an access policy that
denies recovery-point deletion and policy or lock changes to all but the exempt principals, and a lock."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from backup_constructs.core.keys import deployment_role_arn, rotating_key
from backup_constructs.policy import VaultLock, VaultLockMode

# The actions the Audit Manager control BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED looks for
# in a Deny statement to Principal "*".
PROTECTED_VAULT_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
)
# Denied as well, or an admin removes the policy or the lock first, or detaches recovery points.
VAULT_GUARD_ACTIONS = (
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:PutBackupVaultLockConfiguration",
    "backup:DeleteBackupVaultLockConfiguration",
    "backup:DisassociateRecoveryPoint",
)


class ProtectedBackupVault(Construct):
    """A backup vault encrypted with its own rotating KMS key, whose access policy denies manual
    deletion of recovery points to everyone but the listed principals, optionally vault-locked.

    Parameters
    ----------
    vault_name:
        The vault's name.
    kms_key:
        Default: a new KMS key with rotation, retained on stack deletion.
    vault_lock:
        Default: no vault lock.
    exempt_principal_arns:
        Principals that keep the right to delete recovery points and change the vault policy: a
        break-glass role. The stack's CloudFormation execution role is exempt by its exact ARN.
    copy_from_accounts:
        Accounts whose AWS Backup copy jobs may copy into this vault (a backup account's vault).
        Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vault_name: str,
        kms_key: kms.IKey | None = None,
        vault_lock: VaultLock | None = None,
        exempt_principal_arns: Sequence[str] = (),
        copy_from_accounts: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.kms_key: kms.IKey = kms_key or rotating_key(
            self,
            "Key",
            description=f"Encrypts the recovery points in backup vault {vault_name}",
        )
        # CloudFormation needs PutBackupVaultAccessPolicy to update this policy: the deploy role is exempt
        # by its exact ARN (a pattern would match any role someone creates with a matching name).
        deployer = deployment_role_arn(self)
        self.exempt_principal_arns = [*([deployer] if deployer else []), *exempt_principal_arns]
        access_policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="DenyManualRecoveryPointDeletion",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=[*PROTECTED_VAULT_ACTIONS, *VAULT_GUARD_ACTIONS],
                    resources=["*"],  # in a vault policy "*" is this vault and its recovery points
                    conditions={"ArnNotLike": {"aws:PrincipalArn": self.exempt_principal_arns}},
                )
            ]
        )
        if copy_from_accounts:
            # The one cross-account action AWS Backup evaluates against a vault policy: other accounts
            # may copy in, nothing else (AWS Backup rejects every other cross-account action anyway).
            access_policy.add_statements(copy_into_vault_statement(copy_from_accounts))
        self.backup_vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=vault_name,
            encryption_key=self.kms_key,
            access_policy=access_policy,
            lock_configuration=lock_configuration(vault_lock),
            removal_policy=RemovalPolicy.RETAIN,
        )


def copy_into_vault_statement(accounts: Sequence[str]) -> iam.PolicyStatement:
    """Allow ``backup:CopyIntoBackupVault`` from the listed accounts (their copy jobs' roles)."""
    return iam.PolicyStatement(
        sid="CopyIntoFromTheWorkloadAccounts",
        principals=[iam.AccountPrincipal(a) for a in accounts],
        actions=["backup:CopyIntoBackupVault"],
        resources=["*"],  # in a vault policy "*" is this vault
    )


def lock_configuration(lock: VaultLock | None) -> backup.LockConfiguration | None:
    if lock is None:
        return None
    return backup.LockConfiguration(
        min_retention=Duration.days(lock.min_retention_days),
        max_retention=Duration.days(lock.max_retention_days),
        changeable_for=(
            Duration.days(lock.changeable_for_days)
            if lock.mode is VaultLockMode.COMPLIANCE and lock.changeable_for_days is not None
            else None
        ),
    )
