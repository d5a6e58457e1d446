"""AWS Backup from the policy: encrypted, deletion-protected vaults, the plan's rules, selections and
cross-region copies."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from backup_constructs.backup.isolation import IsolatedCopyPlan
from backup_constructs.backup.rules import plan_rule
from backup_constructs.backup.vault import (
    ProtectedBackupVault,
)
from backup_constructs.core.nag import acknowledge
from backup_constructs.policy import BackupPolicy, BackupRule
from backup_constructs.policy.naming import FAILOVER_TAG_KEY, backup_role_name, failover_plan_name, resource_prefix
from backup_constructs.policy.rpo import policy_findings

BACKUP_SERVICE_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")


@jsii.implements(IValidation)
class PolicyChecks:
    """Whole-policy checks run at synth time (achieved RPO, PITR coverage, DR copy)."""

    def __init__(self, policy: BackupPolicy) -> None:
        self._policy = policy

    def validate(self) -> list[str]:
        return policy_findings(self._policy)


class DisasterRecoveryVault(Construct):
    """The copy target in the DR region: the vault ``policy.dr_backup_vault_name`` with its own key, the
    same deletion protection and vault lock as the primary vault. Deploy it in ``policy.dr_region``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        kms_key: kms.IKey | None = None,
        exempt_principal_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        vault = ProtectedBackupVault(
            self,
            "Vault",
            vault_name=policy.dr_backup_vault_name,
            kms_key=kms_key,
            vault_lock=policy.vault_lock,
            exempt_principal_arns=exempt_principal_arns,
        )
        self.kms_key = vault.kms_key
        self.backup_vault = vault.backup_vault


def backup_service_role(scope: Construct, id_: str, *, description: str, role_name: str | None = None) -> iam.Role:
    """A role AWS Backup assumes, with the AWS managed backup and restore policies."""
    role = iam.Role(
        scope,
        id_,
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{name}") for name in BACKUP_SERVICE_POLICIES
        ],
        description=description,
    )
    for name in BACKUP_SERVICE_POLICIES:
        acknowledge(
            role,
            f"AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}]",
            f"AWS Backup uses {name}, the policy AWS maintains for the backup service as it adds resource "
            "types and API actions.",
        )
    return role


class FailoverBackupPlan(Construct):
    """The DR region's plan for the day the primary region is lost: the policy's rules (no copies, the
    primary is gone) into the DR vault, selecting only resources tagged ``backup-failover=<environment>``.
    Nothing carries the tag until ``backupctl dr failover`` promotes the replica and tags it, so the plan
    costs nothing before; from then the promoted instance has the same backups as the primary had.

    Deploy it in ``policy.dr_region`` next to :class:`DisasterRecoveryVault`.
    """

    def __init__(self, scope: Construct, id_: str, *, policy: BackupPolicy, vault: backup.IBackupVault) -> None:
        super().__init__(scope, id_)
        self.plan = backup.BackupPlan(self, "Plan", backup_plan_name=failover_plan_name(policy), backup_vault=vault)
        for rule in policy.rules:
            self.plan.add_rule(plan_rule(policy, rule))
        # The DR region's own role (IAM is global, but the primary's backup role comes with the primary's
        # stacks, which this one must not depend on).
        self.role = backup_service_role(
            self, "Role", description=f"AWS Backup backs up {policy.environment} resources promoted in the DR region"
        )
        self.selection = self.plan.add_selection(
            "Promoted",
            backup_selection_name=f"{policy.environment}-promoted-in-dr",
            resources=[backup.BackupResource.from_tag(FAILOVER_TAG_KEY, policy.environment)],
            role=self.role,
        )


class BackupStrategy(Construct):
    """The policy's AWS Backup plan: vault, rules, selection and cross-region copies.

    Parameters
    ----------
    policy:
        The environment's :class:`BackupPolicy`.
    resources:
        Resources to protect in addition to those carrying the policy's selection tag.
        Default: only the tagged resources.
    dr_vault:
        Where rules with ``copy_to_dr`` copy to. Default: the vault named ``policy.dr_backup_vault_name``
        in ``policy.dr_region`` of this account, addressed by ARN (deploy it first, e.g. with
        :class:`DisasterRecoveryVault`).
    backup_account:
        The backup account whose vault ``policy.isolated_vault_name`` (same region) receives the
        isolated copies when the policy has ``account_isolation``: a plan of its own copies a snapshot
        there on the policy's schedule. Required with ``account_isolation`` unless ``isolated_copy_vault``
        is given (an error at synth otherwise).
    isolated_copy_vault:
        The isolated copies' vault, when not the backup account's default one. Default: from
        ``backup_account``.
    kms_key:
        Default: a new KMS key with rotation for the vault.
    exempt_principal_arns:
        Break-glass principals that may still delete recovery points. Default: only the CDK deploy role.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        resources: Sequence[backup.BackupResource] = (),
        dr_vault: backup.IBackupVault | None = None,
        backup_account: str | None = None,
        isolated_copy_vault: backup.IBackupVault | None = None,
        kms_key: kms.IKey | None = None,
        exempt_principal_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.policy = policy
        vault = ProtectedBackupVault(
            self,
            "Vault",
            vault_name=policy.backup_vault_name,
            kms_key=kms_key,
            vault_lock=policy.vault_lock,
            exempt_principal_arns=exempt_principal_arns,
        )
        self.kms_key = vault.kms_key
        self.backup_vault = vault.backup_vault
        self.exempt_principal_arns = vault.exempt_principal_arns
        self.dr_vault = dr_vault or self._default_dr_vault()
        self.isolated_copy_vault = isolated_copy_vault or self._backup_account_vault(backup_account)

        self.backup_plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=resource_prefix(policy), backup_vault=self.backup_vault
        )
        for rule in policy.rules:
            self.backup_plan.add_rule(self._plan_rule(rule))

        # Named, so on-demand jobs (backupctl db backup) can pass the same role.
        self.backup_role = backup_service_role(
            self,
            "BackupRole",
            role_name=backup_role_name(policy),
            description=f"AWS Backup backs up and restores {policy.environment} resources with this role",
        )
        tag = policy.selection_tag
        self.backup_selection = self.backup_plan.add_selection(
            "Selection",
            backup_selection_name=f"{policy.environment}-tagged-and-listed",
            resources=[backup.BackupResource.from_tag(tag.key, tag.value), *resources],
            role=self.backup_role,
        )
        self.isolated_plan: IsolatedCopyPlan | None = None
        if policy.account_isolation is not None:
            if self.isolated_copy_vault is None:
                Annotations.of(self).add_error(
                    "policy.account_isolation keeps a copy outside this account: pass backup_account= (the "
                    "backup account's id) or isolated_copy_vault=, or set the policy's accountIsolation to null"
                )
            else:
                self.isolated_plan = IsolatedCopyPlan(
                    self,
                    "Isolated",
                    policy=policy,
                    vault=self.backup_vault,
                    isolated_vault=self.isolated_copy_vault,
                    role=self.backup_role,
                    resources=[backup.BackupResource.from_tag(tag.key, tag.value), *resources],
                )
        self.node.add_validation(PolicyChecks(policy))
        self._annotate_rds_design()

    def _default_dr_vault(self) -> backup.IBackupVault | None:
        if self.policy.dr_region is None:
            return None
        stack = Stack.of(self)
        arn = stack.format_arn(
            service="backup",
            region=self.policy.dr_region,
            resource="backup-vault",
            resource_name=self.policy.dr_backup_vault_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return backup.BackupVault.from_backup_vault_arn(self, "DrVault", arn)

    def _backup_account_vault(self, account: str | None) -> backup.IBackupVault | None:
        name = self.policy.isolated_vault_name
        if account is None or name is None:
            return None
        stack = Stack.of(self)
        arn = stack.format_arn(
            service="backup",
            account=account,
            resource="backup-vault",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        return backup.BackupVault.from_backup_vault_arn(self, "IsolatedVault", arn)

    def _plan_rule(self, rule: BackupRule) -> backup.BackupPlanRule:
        targets = [self.dr_vault] if self.dr_vault is not None else []
        return plan_rule(self.policy, rule, copy_targets=targets)

    def _annotate_rds_design(self) -> None:
        policy = self.policy
        db = policy.database
        daily = next((r for r in policy.snapshot_rules if r.interval_minutes == 1440), None)
        snapshots = (
            f"the {daily.name} rule snapshots at {daily.schedule} (start window "
            f"{daily.start_window_minutes} min, done within {daily.completion_window_minutes} min) "
            f"and keeps them {daily.retention_days} d"
            if daily
            else "snapshot rules as scheduled"
        )
        if policy.backup_manages_rds_automated_backups:
            message = (
                "RDS under continuous backup: AWS Backup manages the instances' automated backups "
                f"(retention {policy.rds_automated_backup_retention_days} d = the PITR window) and "
                "takes RDS snapshots at most once a day, so the hourly row is met by PITR for RDS "
                f"(hourly snapshots still serve EBS, EFS, DynamoDB, S3); the guide's {db.backup_window} "
                f"UTC window and {db.backup_retention_days} d retention are met because {snapshots}."
            )
        else:
            message = (
                f"RDS keeps its own automated backups for {policy.rds_automated_backup_retention_days} d "
                f"in the {db.backup_window} UTC window (PITR for that long); {snapshots}."
            )
        Annotations.of(self).add_info(message)
