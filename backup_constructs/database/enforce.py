"""The guide's database settings for RDS: props for new instances and clusters, and the Aspect that
brings an existing app's stateful resources (and every log group) up to the policy without destroying
anything."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Annotations, CfnDeletionPolicy, CfnResource, Duration, IAspect, Resource, Stack, TagManager, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import IConstruct

from backup_constructs.core.exclusion import exclude_from_backup, exclusion_reason
from backup_constructs.policy import BackupPolicy, LogRetentionMode, PolicyError, ResourceType
from backup_constructs.policy.model import EXCLUDE_TAG_KEY

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


# What a stack deletion or a replacing update does to a protected resource: a final snapshot where
# CloudFormation can take one, else the resource is kept. Never Delete.
_KEEP = {
    ResourceType.RDS: CfnDeletionPolicy.SNAPSHOT,
    ResourceType.AURORA: CfnDeletionPolicy.SNAPSHOT,
    ResourceType.EBS: CfnDeletionPolicy.SNAPSHOT,
    ResourceType.DYNAMODB: CfnDeletionPolicy.RETAIN,
    ResourceType.S3: CfnDeletionPolicy.RETAIN,
    ResourceType.EFS: CfnDeletionPolicy.RETAIN,
}
_SAFE = {CfnDeletionPolicy.SNAPSHOT, CfnDeletionPolicy.RETAIN, CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE}


@jsii.implements(IAspect)
class EnforceBackupPolicy:
    """Brings every stateful resource in scope up to the policy, and destroys nothing doing it.

    - **Log groups** (``CfnLogGroup``): the policy's retention is a floor: a shorter one is raised, a
      longer one (CDK's default of 731 days, "never expire") is kept — CloudWatch deletes every event
      older than a new, shorter retention at once. A policy with ``logRetention: {"mode": "exact"}``
      sets the value either way and warns, for each group it shortens, that history will be deleted.
    - **Databases** (``CfnDBInstance``, ``CfnDBCluster``): weaker backup settings are raised (never
      lowered), ``DeletionPolicy`` and ``UpdateReplacePolicy`` become ``Snapshot``, the encryption key
      in the stack is kept (``Retain``). Read replicas and Aurora members are left to their source or
      cluster; unencrypted storage is an error (encrypting replaces the database).
    - **Every resource type the policy protects** (DynamoDB tables, S3 buckets, EFS file systems, EBS
      volumes, Aurora clusters, RDS instances): tagged with the policy's selection tag so the plan
      selects it, kept on delete and replace, and given what AWS Backup and the RPO need: DynamoDB
      point-in-time recovery (and deletion protection), S3 versioning (AWS Backup requires it).
    - What it cannot fix is an error naming the resource: a resource imported by reference, a value
      that is an unresolved token, versioning explicitly suspended, a global table whose replicas are
      rendered lazily (``TableV2``), unencrypted EFS or EBS storage.
    - A resource excluded on purpose (:meth:`exclude`, or the tag ``backup-policy-exclude=<reason>``) is
      left alone, with an info annotation; the synth summary and ``backupctl check`` list it as excluded.

    Every change is a warning naming the resource and both values. Add it with mutating priority so
    later aspects see the result: ``Aspects.of(app).add(EnforceBackupPolicy(policy),
    priority=AspectPriority.MUTATING)``.
    """

    def __init__(self, policy: BackupPolicy) -> None:
        self.policy = policy
        self._protected = set(policy.protected_resource_types)

    @staticmethod
    def exclude(scope: IConstruct, reason: str) -> None:
        """Leave ``scope``'s stateful resources out of the plan on purpose; ``reason`` is shown wherever the
        exclusion is (a tag value: letters, digits, spaces and ``_ . : / = + - @``)."""
        exclude_from_backup(scope, reason)

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup):
            self._log_group(node)
        elif isinstance(node, rds.CfnDBInstance):
            self._instance(node)
        elif isinstance(node, rds.CfnDBCluster):
            self._cluster(node)
        elif isinstance(node, dynamodb.CfnTable):
            self._table(node)
        elif isinstance(node, dynamodb.CfnGlobalTable):
            self._global_table(node)
        elif isinstance(node, s3.CfnBucket):
            self._bucket(node)
        elif isinstance(node, efs.CfnFileSystem):
            self._storage(node, ResourceType.EFS)
        elif isinstance(node, ec2.CfnVolume):
            self._storage(node, ResourceType.EBS)
        elif isinstance(node, Resource):
            # Whether a resource is owned is a round trip: asked only of the types the policy protects.
            resource_type = _imported_type(node)
            if resource_type is not None and resource_type in self._protected and not Resource.is_owned_resource(node):
                self._imported(node, resource_type)

    # databases -------------------------------------------------------------------------------------

    def _instance(self, node: rds.CfnDBInstance) -> None:
        if node.source_db_instance_identifier is not None or node.db_cluster_identifier is not None:
            return  # read replica or cluster member: the source or the cluster carries the backups
        if self.policy.wants_replica and node.manage_master_user_password is True:
            Annotations.of(node).add_error(f"{node.node.path}: {_MANAGED_PASSWORD_REFUSAL}")
        if node.engine is not None and not Token.is_unresolved(node.engine) and node.engine.startswith("aurora"):
            return
        if not self._adopt(node, ResourceType.RDS, database=True):
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
        self._require_encryption(node, "storage_encrypted", "restore a snapshot into a new encrypted instance instead")
        self._keep_key(node, node.kms_key_id)

    def _cluster(self, node: rds.CfnDBCluster) -> None:
        engine = node.engine if isinstance(node.engine, str) and not Token.is_unresolved(node.engine) else "aurora"
        if not self._adopt(
            node, ResourceType.AURORA if engine.startswith("aurora") else ResourceType.RDS, database=True
        ):
            return
        db = self.policy.database
        self._raise_int(node, "backup_retention_period", self.policy.rds_automated_backup_retention_days)
        self._ensure(node, "preferred_backup_window", db.backup_window)
        self._ensure(node, "preferred_maintenance_window", db.maintenance_window)
        if db.deletion_protection:
            self._ensure(node, "deletion_protection", True)
        self._ensure(node, "copy_tags_to_snapshot", True)
        self._require_encryption(node, "storage_encrypted", "restore a snapshot into a new encrypted cluster instead")
        self._keep_key(node, node.kms_key_id)

    # the other protected types ---------------------------------------------------------------------

    def _table(self, node: dynamodb.CfnTable) -> None:
        if not self._adopt(node, ResourceType.DYNAMODB):
            return
        spec = node.point_in_time_recovery_specification
        enabled = _field(spec, "point_in_time_recovery_enabled", "PointInTimeRecoveryEnabled")
        if Token.is_unresolved(spec) or Token.is_unresolved(enabled):
            self._error(node, "point_in_time_recovery_specification", spec, "enabled")
        elif enabled is not True:
            period = _field(spec, "recovery_period_in_days", "RecoveryPeriodInDays")
            node.point_in_time_recovery_specification = dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                point_in_time_recovery_enabled=True, recovery_period_in_days=period
            )
            self._warn(node, "point_in_time_recovery_specification", enabled, "enabled (native PITR)")
        if self.policy.database.deletion_protection:
            self._ensure(node, "deletion_protection_enabled", True)

    def _global_table(self, node: dynamodb.CfnGlobalTable) -> None:
        if not self._applies(node, ResourceType.DYNAMODB):
            return
        Annotations.of(node).add_error(
            f"{node.node.path}: a DynamoDB global table (TableV2) renders its replicas lazily, so the "
            f"{self.policy.environment} backup policy cannot tag them or turn on point-in-time recovery; set "
            f"point_in_time_recovery_specification and the tag {self.policy.selection_tag.key}="
            f"{self.policy.selection_tag.value} on the table yourself, or exclude it "
            "(EnforceBackupPolicy.exclude(table, reason))"
        )

    def _bucket(self, node: s3.CfnBucket) -> None:
        if not self._adopt(node, ResourceType.S3):
            return
        config = node.versioning_configuration
        status = _field(config, "status", "Status")
        if Token.is_unresolved(config) or Token.is_unresolved(status):
            self._error(node, "versioning_configuration", config, "Enabled")
        elif status == "Suspended":
            Annotations.of(node).add_error(
                f"{node.node.path}: versioning is explicitly Suspended; AWS Backup backs up only versioned "
                f"buckets, and the {self.policy.environment} backup policy does not override a deliberate "
                "suspension: enable versioning, or exclude the bucket (EnforceBackupPolicy.exclude(bucket, reason))"
            )
        elif status != "Enabled":
            node.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
            self._warn(node, "versioning_configuration", status, "Enabled (AWS Backup requires versioning)")

    def _storage(self, node: efs.CfnFileSystem | ec2.CfnVolume, resource_type: ResourceType) -> None:
        if not self._adopt(node, resource_type):
            return
        noun = "file system" if resource_type is ResourceType.EFS else "volume"
        self._require_encryption(node, "encrypted", "copy the data into a new encrypted one instead", noun)
        self._keep_key(node, node.kms_key_id)

    def _imported(self, node: Resource, resource_type: ResourceType) -> None:
        if exclusion_reason(node) is not None:
            return
        if any(isinstance(scope, s3_assets.Asset) for scope in node.node.scopes):
            return  # the CDK bootstrap bucket that file assets are uploaded to
        Annotations.of(node).add_error(
            f"{node.node.path}: a {resource_type.value} resource imported by reference, so the "
            f"{self.policy.environment} backup policy cannot tag it or check its settings; protect it in "
            "the app that owns it, or exclude it here (EnforceBackupPolicy.exclude(resource, reason))"
        )

    # what every protected resource gets -------------------------------------------------------------

    def _excluded(self, node: CfnResource) -> bool:
        """Whether ``node`` is excluded on purpose (noted as info when it is)."""
        reason = exclusion_reason(node) or _tag(node, EXCLUDE_TAG_KEY)
        if reason is not None:
            Annotations.of(node).add_info(
                f"{node.node.path}: excluded from the {self.policy.environment} backup policy: {reason}"
            )
        return reason is not None

    def _applies(self, node: CfnResource, resource_type: ResourceType) -> bool:
        """Whether the policy protects ``node``'s type and it is not excluded."""
        return resource_type in self._protected and not self._excluded(node)

    def _adopt(self, node: CfnResource, resource_type: ResourceType, *, database: bool = False) -> bool:
        """Tag a protected ``node`` for the plan and keep it on delete and replace. Whether to go on with
        its settings: not when it is excluded; a database's backup settings are raised even when the
        policy does not protect its type (they cost nothing and its own PITR depends on them)."""
        if self._excluded(node):
            return False
        if resource_type not in self._protected:
            return database
        key, value = self.policy.selection_tag.key, self.policy.selection_tag.value
        current = _tag(node, key)
        if current != value:
            _set_tag(node, key, value)
            self._warn(node, f"tag {key}", current, value)
        self._keep(node, _KEEP[resource_type])
        return True

    def _keep(self, node: CfnResource, keep: CfnDeletionPolicy) -> None:
        options = node.cfn_options
        if options.deletion_policy not in _SAFE:
            self._warn(node, "DeletionPolicy", _policy_name(options.deletion_policy), _policy_name(keep))
            options.deletion_policy = keep
        if options.update_replace_policy not in _SAFE:
            self._warn(node, "UpdateReplacePolicy", _policy_name(options.update_replace_policy), _policy_name(keep))
            options.update_replace_policy = keep

    def _keep_key(self, node: CfnResource, key_id: Any) -> None:
        """The KMS key of this stack that encrypts ``node``: kept when the stack is deleted (a snapshot is
        useless without it)."""
        if key_id is None:
            return
        stack = Stack.of(node)
        resolved = stack.resolve(key_id)
        target = resolved.get("Fn::GetAtt", [None])[0] if isinstance(resolved, dict) else None
        target = target or (resolved.get("Ref") if isinstance(resolved, dict) else None)
        if target is None:
            return
        for child in stack.node.find_all():
            if isinstance(child, kms.CfnKey) and stack.get_logical_id(child) == target:
                self._keep(child, CfnDeletionPolicy.RETAIN)

    def _log_group(self, node: logs.CfnLogGroup) -> None:
        wanted = self.policy.log_retention_days
        current = node.retention_in_days
        if current is not None and Token.is_unresolved(current):
            self._error(node, "retention_in_days", current, wanted)
            return
        kept = "never expire" if current is None else current
        if current is not None and current < wanted:
            node.retention_in_days = wanted
            self._warn(node, "retention_in_days", current, wanted)
        elif current != wanted and self.policy.log_retention_mode is LogRetentionMode.EXACT:
            node.retention_in_days = wanted
            Annotations.of(node).add_warning_v2(
                "backup-policy:retention_in_days",
                f"{node.node.path}: retention_in_days changed from {kept!r} to {wanted!r} by the "
                f"{self.policy.environment} backup policy (mode exact): on deploy CloudWatch deletes every "
                f"event older than {wanted} days from this log group",
            )
        elif current != wanted:
            Annotations.of(node).add_warning_v2(
                "backup-policy:retention_in_days",
                f"{node.node.path}: retention_in_days {kept!r} kept: longer than the {self.policy.environment} "
                f"backup policy's {wanted} days, which is a floor (logRetention mode exact would shorten it)",
            )

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

    def _require_encryption(self, node: Any, prop: str, instead: str, noun: str = "database") -> None:
        if getattr(node, prop) is not True:
            Annotations.of(node).add_error(
                f"{node.node.path}: {prop} is {getattr(node, prop)!r}; the backup policy "
                f"({self.policy.environment}) needs encrypted storage, and turning it on replaces the "
                f"{noun}: {instead}"
            )

    def _warn(self, node: Any, prop: str, old: object, new: object) -> None:
        Annotations.of(node).add_warning_v2(
            f"backup-policy:{prop.split()[0]}",
            f"{node.node.path}: {prop} changed from {old!r} to {new!r} by the {self.policy.environment} backup policy",
        )

    def _error(self, node: Any, prop: str, current: object, wanted: object) -> None:
        Annotations.of(node).add_error(
            f"{node.node.path}: {prop} is an unresolved value ({current}), so the "
            f"{self.policy.environment} backup policy cannot check it against {wanted!r}; set it literally"
        )


def _field(spec: Any, attribute: str, key: str) -> Any:
    """A field of a property that is a jsii struct, a plain mapping or ``None``."""
    if spec is None or Token.is_unresolved(spec):
        return None
    if isinstance(spec, dict):
        return spec.get(key, spec.get(attribute))
    return getattr(spec, attribute, None)


def _tag(node: CfnResource, key: str) -> str | None:
    manager = _tag_manager(node)
    value = manager.tag_values().get(key) if manager is not None else None
    return str(value) if value is not None else None


def _set_tag(node: CfnResource, key: str, value: str) -> None:
    manager = _tag_manager(node)
    if manager is not None:
        manager.set_tag(key, value, 200)


def _tag_manager(node: CfnResource) -> TagManager | None:
    if TagManager.is_taggable(node):
        return node.tags  # type: ignore[attr-defined, no-any-return]
    if TagManager.is_taggable_v2(node):
        return node.cdk_tag_manager  # type: ignore[attr-defined, no-any-return]
    return None


def _policy_name(policy: CfnDeletionPolicy | None) -> str:
    return "CloudFormation's default" if policy is None else str(policy.name).title().replace("_", "")


def _imported_type(node: Resource) -> ResourceType | None:
    if isinstance(node, rds.DatabaseInstanceBase):
        return ResourceType.RDS
    if isinstance(node, rds.DatabaseClusterBase):
        return ResourceType.AURORA
    if isinstance(node, dynamodb.TableBase | dynamodb.TableBaseV2):
        return ResourceType.DYNAMODB
    if isinstance(node, s3.BucketBase):
        return ResourceType.S3
    if hasattr(node, "file_system_id"):
        return ResourceType.EFS
    if hasattr(node, "volume_id"):
        return ResourceType.EBS
    return None
