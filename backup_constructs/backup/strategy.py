"""AWS Backup from the policy: encrypted, deletion-protected vaults, the plan's rules, selections and
cross-region copies."""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Annotations, ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from backup_constructs.core.keys import deployment_role_arn, rotating_key
from backup_constructs.core.nag import acknowledge
from backup_constructs.policy import BackupPolicy, BackupRule, VaultLock, VaultLockMode
from backup_constructs.policy.naming import FAILOVER_TAG_KEY, backup_role_name, failover_plan_name, resource_prefix
from backup_constructs.policy.rpo import policy_findings

BACKUP_SERVICE_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")
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


@jsii.implements(IValidation)
class PolicyChecks:
    """Whole-policy checks run at synth time (achieved RPO, PITR coverage, DR copy)."""

    def __init__(self, policy: BackupPolicy) -> None:
        self._policy = policy

    def validate(self) -> list[str]:
        return policy_findings(self._policy)


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
        self.backup_vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=vault_name,
            encryption_key=self.kms_key,
            access_policy=access_policy,
            lock_configuration=_lock_configuration(vault_lock),
            removal_policy=RemovalPolicy.RETAIN,
        )


def _lock_configuration(lock: VaultLock | None) -> backup.LockConfiguration | None:
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


def plan_rule(
    policy: BackupPolicy, rule: BackupRule, *, copy_targets: Sequence[backup.IBackupVault] = ()
) -> backup.BackupPlanRule:
    """One policy rule as a plan rule, copied to ``copy_targets`` when the rule copies to DR."""
    copies: list[backup.BackupPlanCopyActionProps] = []
    if rule.copy_to_dr and rule.dr_retention_days is not None:
        copies = [
            backup.BackupPlanCopyActionProps(
                destination_backup_vault=target, delete_after=Duration.days(rule.dr_retention_days)
            )
            for target in copy_targets
        ]
    return backup.BackupPlanRule(
        rule_name=rule.name,
        schedule_expression=events.Schedule.expression(rule.schedule),
        start_window=Duration.minutes(rule.start_window_minutes),
        completion_window=Duration.minutes(rule.completion_window_minutes),
        delete_after=Duration.days(rule.retention_days),
        enable_continuous_backup=True if rule.continuous else None,
        copy_actions=copies or None,
        recovery_point_tags={"backup-environment": policy.environment, "backup-rule": rule.name},
    )


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
    isolated_copy_vault:
        Opt-in second copy target for the same rules: a logically air-gapped vault or a vault in a
        separate backup account, against a compromised account. Default: none.
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
        self.isolated_copy_vault = isolated_copy_vault

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

    def _plan_rule(self, rule: BackupRule) -> backup.BackupPlanRule:
        targets = [v for v in (self.dr_vault, self.isolated_copy_vault) if v is not None]
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
