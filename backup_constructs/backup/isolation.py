"""The copy outside the account: the workload account's plan that copies a snapshot, in the same region,
into the backup account's vault, and that vault on the backup account's side (compliance-locked, its own
key, an access policy that admits copies from the workload account only).

AWS Backup copies an RDS snapshot either across accounts or across regions in one copy action, not
both: the DR copies stay in the main plan, the isolated copy is a plan of its own in the primary region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from constructs import Construct

from backup_constructs.backup.rules import plan_rule
from backup_constructs.backup.vault import ProtectedBackupVault, copy_into_vault_statement
from backup_constructs.policy import (
    AccountIsolationSpec,
    BackupPolicy,
    BackupRule,
    IsolatedVaultKind,
    VaultLock,
    VaultLockMode,
)
from backup_constructs.policy.naming import isolated_plan_name


def isolated_vault_lock(spec: AccountIsolationSpec) -> VaultLock:
    """The isolated vault's lock: always compliance mode (the point of the vault)."""
    return VaultLock(
        mode=VaultLockMode.COMPLIANCE,
        min_retention_days=spec.lock_min_retention_days,
        max_retention_days=spec.lock_max_retention_days,
        changeable_for_days=spec.changeable_for_days,
    )


def local_retention_days(policy: BackupPolicy) -> int:
    """How long the isolated plan's own snapshot stays in the primary vault: long enough for the copy
    (and a retry) to finish, and never below the primary vault lock's minimum (AWS Backup fails the job)."""
    floor = policy.vault_lock.min_retention_days if policy.vault_lock else 1
    assert policy.account_isolation is not None
    return max(floor, min(7, policy.account_isolation.retention_days))


class IsolatedCopyPlan(Construct):
    """The workload account's side: plan ``<prefix>-isolated`` in the primary region, one rule on
    ``policy.account_isolation.schedule`` whose snapshot is copied into ``isolated_vault`` (the backup
    account's vault, same region) and kept there ``retention_days``; selecting what the main plan selects.

    Cross-account copies need AWS Organizations with cross-account backup turned on in the management
    account, and the snapshot's KMS key usable by the backup account (``backupctl doctor`` checks both).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        vault: backup.IBackupVault,
        isolated_vault: backup.IBackupVault,
        role: iam.IRole,
        resources: Sequence[backup.BackupResource],
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.account_isolation
        assert spec is not None
        self.plan = backup.BackupPlan(self, "Plan", backup_plan_name=isolated_plan_name(policy), backup_vault=vault)
        # A rule like the policy's, whose "DR copy" goes to the isolated vault (same region, other account).
        rule = BackupRule(
            name="isolated-copy",
            purpose="copy outside the account",
            schedule=spec.schedule,
            retention_days=local_retention_days(policy),
            copy_to_dr=True,
            dr_retention_days=spec.retention_days,
            start_window_minutes=spec.start_window_minutes,
            completion_window_minutes=spec.completion_window_minutes,
        )
        self.plan.add_rule(plan_rule(policy, rule, copy_targets=[isolated_vault]))
        self.selection = self.plan.add_selection(
            "Selection",
            backup_selection_name=f"{policy.environment}-isolated-copies",
            resources=list(resources),
            role=role,
        )


class BackupAccountVault(Construct):
    """The backup account's side: the vault ``policy.isolated_vault_name`` that admits copies from
    ``workload_accounts`` only, locked in compliance mode (after ``changeable_for_days`` nobody, this
    account's root user included, can shorten retention or delete a copy early). A standard vault has
    a key of its own; a logically air-gapped vault is encrypted by AWS and locked by its creation.

    Deploy it in the backup account, in the workload's primary region, with that account's credentials.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        workload_accounts: Sequence[str],
        exempt_principal_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        spec = policy.account_isolation
        assert spec is not None and policy.isolated_vault_name is not None
        self.vault_name = policy.isolated_vault_name
        stack = Stack.of(self)
        self.vault_arn = stack.format_arn(
            service="backup",
            resource="backup-vault",
            resource_name=self.vault_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.protected: ProtectedBackupVault | None = None
        if spec.vault_kind is IsolatedVaultKind.LOGICALLY_AIR_GAPPED:
            policy_document = iam.PolicyDocument(statements=[copy_into_vault_statement(workload_accounts)])
            vault = backup.CfnLogicallyAirGappedBackupVault(
                self,
                "Vault",
                backup_vault_name=self.vault_name,
                min_retention_days=spec.lock_min_retention_days,
                max_retention_days=spec.lock_max_retention_days,
                access_policy=policy_document.to_json(),
            )
            vault.apply_removal_policy(RemovalPolicy.RETAIN)
        else:
            self.protected = ProtectedBackupVault(
                self,
                "Vault",
                vault_name=self.vault_name,
                vault_lock=isolated_vault_lock(spec),
                exempt_principal_arns=exempt_principal_arns,
                copy_from_accounts=workload_accounts,
            )
