"""The guide's database settings for RDS: props for new instances and clusters, and the Aspect that
brings existing ones (and every log group) up to the policy."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Annotations, Duration, IAspect, Token
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import IConstruct

from backup_constructs.policy import BackupPolicy, PolicyError

_MANAGED_PASSWORD_REFUSAL = (
    "manage_master_user_password: got True; the policy's region-loss mechanism for RDS is 'replica', and RDS "
    "refuses a read replica of a source whose master password it manages in Secrets Manager; allowed: a secret "
    "of the stack's own (rds.Credentials.from_generated_secret), or another region_loss mechanism"
)


def database_instance_backup_props(
    policy: BackupPolicy, *, manage_master_user_password: bool = False
) -> dict[str, Any]:
    """Keyword arguments that give a new ``rds.DatabaseInstance`` the policy's settings.

    Use as ``rds.DatabaseInstance(self, "Db", engine=..., vpc=..., **database_instance_backup_props(policy))``.
    A policy whose region-loss mechanism is a read replica refuses ``manage_master_user_password``: RDS
    creates no read replica of a source whose master password it manages in Secrets Manager.
    """
    if manage_master_user_password and policy.wants_replica:
        raise PolicyError(_MANAGED_PASSWORD_REFUSAL)
    db = policy.database
    return {
        "manage_master_user_password": manage_master_user_password,
        "backup_retention": Duration.days(policy.rds_automated_backup_retention_days),
        "preferred_backup_window": db.backup_window,
        "preferred_maintenance_window": db.maintenance_window,
        "multi_az": db.multi_az,
        "deletion_protection": db.deletion_protection,
        "storage_encrypted": True,
        "copy_tags_to_snapshot": True,
        "delete_automated_backups": False,
    }


def database_cluster_backup_props(policy: BackupPolicy) -> dict[str, Any]:
    """Keyword arguments that give a new ``rds.DatabaseCluster`` the policy's settings.

    Multi-AZ for a cluster comes from its readers in other zones, not from a property.
    """
    db = policy.database
    return {
        "backup": rds.BackupProps(
            retention=Duration.days(policy.rds_automated_backup_retention_days),
            preferred_window=db.backup_window,
        ),
        "preferred_maintenance_window": db.maintenance_window,
        "deletion_protection": db.deletion_protection,
        "storage_encrypted": True,
        "copy_tags_to_snapshot": True,
    }


@jsii.implements(IAspect)
class EnforceBackupPolicy:
    """Applies the policy's database and log-retention settings to every ``CfnDBInstance``,
    ``CfnDBCluster`` and ``CfnLogGroup`` in scope.

    Fills unset values, raises weaker database settings (never lowers a stronger one), sets log
    retention to exactly the policy's value, and warns for every value it changes. What it cannot
    fix (unencrypted storage, unresolved tokens) becomes an error. Read replicas and Aurora member
    instances are left to their cluster. Add it with mutating priority so later aspects see the
    result: ``Aspects.of(app).add(EnforceBackupPolicy(policy), priority=AspectPriority.MUTATING)``.
    """

    def __init__(self, policy: BackupPolicy) -> None:
        self.policy = policy

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, rds.CfnDBInstance):
            self._instance(node)
        elif isinstance(node, rds.CfnDBCluster):
            self._cluster(node)
        elif isinstance(node, logs.CfnLogGroup):
            self._log_group(node)

    def _instance(self, node: rds.CfnDBInstance) -> None:
        if node.source_db_instance_identifier is not None or node.db_cluster_identifier is not None:
            return  # read replica or cluster member: the source or the cluster carries the backups
        if self.policy.wants_replica and node.manage_master_user_password is True:
            Annotations.of(node).add_error(f"{node.node.path}: {_MANAGED_PASSWORD_REFUSAL}")
        if node.engine is not None and not Token.is_unresolved(node.engine) and node.engine.startswith("aurora"):
            return
        db = self.policy.database
        self._raise_int(node, "backup_retention_period", self.policy.rds_automated_backup_retention_days)
        self._ensure(node, "preferred_backup_window", db.backup_window)
        self._ensure(node, "preferred_maintenance_window", db.maintenance_window)
        if db.multi_az:
            self._ensure(node, "multi_az", True)
        if db.deletion_protection:
            self._ensure(node, "deletion_protection", True)
        self._ensure(node, "copy_tags_to_snapshot", True)
        self._ensure(node, "delete_automated_backups", False)
        self._require_encryption(node)

    def _cluster(self, node: rds.CfnDBCluster) -> None:
        db = self.policy.database
        self._raise_int(node, "backup_retention_period", self.policy.rds_automated_backup_retention_days)
        self._ensure(node, "preferred_backup_window", db.backup_window)
        self._ensure(node, "preferred_maintenance_window", db.maintenance_window)
        if db.deletion_protection:
            self._ensure(node, "deletion_protection", True)
        self._ensure(node, "copy_tags_to_snapshot", True)
        self._require_encryption(node)

    def _log_group(self, node: logs.CfnLogGroup) -> None:
        wanted = self.policy.log_retention_days
        current = node.retention_in_days
        if current is not None and Token.is_unresolved(current):
            self._error(node, "retention_in_days", current, wanted)
        elif current != wanted:
            node.retention_in_days = wanted
            self._warn(node, "retention_in_days", current, wanted)

    # helpers -------------------------------------------------------------------------------------

    def _raise_int(self, node: Any, prop: str, minimum: int) -> None:
        current = getattr(node, prop)
        if current is not None and Token.is_unresolved(current):
            self._error(node, prop, current, minimum)
        elif current is None or int(current) < minimum:
            setattr(node, prop, minimum)
            self._warn(node, prop, current, minimum)

    def _ensure(self, node: Any, prop: str, wanted: object) -> None:
        current = getattr(node, prop)
        if current is not None and Token.is_unresolved(current):
            self._error(node, prop, current, wanted)
        elif current != wanted:
            setattr(node, prop, wanted)
            self._warn(node, prop, current, wanted)

    def _require_encryption(self, node: Any) -> None:
        if node.storage_encrypted is not True:
            Annotations.of(node).add_error(
                f"{node.node.path}: storage_encrypted is {node.storage_encrypted!r}; the backup policy "
                f"({self.policy.environment}) needs encrypted storage, and turning it on replaces the "
                "database: restore a snapshot into a new encrypted instance instead"
            )

    def _warn(self, node: Any, prop: str, old: object, new: object) -> None:
        Annotations.of(node).add_warning_v2(
            f"backup-policy:{prop}",
            f"{node.node.path}: {prop} changed from {old!r} to {new!r} by the {self.policy.environment} backup policy",
        )

    def _error(self, node: Any, prop: str, current: object, wanted: object) -> None:
        Annotations.of(node).add_error(
            f"{node.node.path}: {prop} is an unresolved value ({current}), so the "
            f"{self.policy.environment} backup policy cannot check it against {wanted!r}; set it literally"
        )
