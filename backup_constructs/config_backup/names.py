"""Names both regions of the configuration backup agree on without cross-region references: role names,
function names, aliases and bucket names, all derived from the policy's resource prefix."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from constructs import Construct

from backup_constructs.policy import BackupPolicy
from backup_constructs.policy.naming import (
    config_bucket_name,
    config_digest_key_alias,
    config_dr_restore_function_name,
    config_export_function_name,
    config_region_digest_key_alias,
    config_restore_function_name,
    config_sops_key_alias,
    resource_prefix,
)


@dataclass(frozen=True)
class ConfigBackupNames:
    """Names both regions agree on without cross-region references (role names, aliases, replica)."""

    prefix: str
    account: str
    dr_region: str | None

    @classmethod
    def for_policy(cls, scope: Construct, policy: BackupPolicy, prefix: str | None = None) -> ConfigBackupNames:
        return cls(resource_prefix(policy, prefix), Stack.of(scope).account, policy.dr_region)

    @property
    def export_role(self) -> str:
        return f"{self.prefix}-config-export"

    @property
    def restore_role(self) -> str:
        return f"{self.prefix}-config-restore"

    @property
    def dr_restore_role(self) -> str:
        """The DR region's restore function's role (IAM role names are account-wide)."""
        return f"{self.prefix}-config-restore-dr"

    @property
    def dr_restore_function(self) -> str:
        return config_dr_restore_function_name(self.prefix)

    @property
    def drill_restore_role(self) -> str:
        """The DR drill's restore role: it may write the drill namespace only."""
        return f"{self.prefix}-config-restore-drill"

    @property
    def drill_restore_function(self) -> str:
        return f"{self.prefix}-config-restore-drill"

    @property
    def export_function(self) -> str:
        return config_export_function_name(self.prefix)

    @property
    def restore_function(self) -> str:
        """Named, so the DR region's drill can invoke it by ARN."""
        return config_restore_function_name(self.prefix)

    def restore_function_arn(self, scope: Construct, region: str) -> str:
        stack = Stack.of(scope)
        return f"arn:{stack.partition}:lambda:{region}:{self.account}:function:{self.restore_function}"

    @property
    def sops_key_alias(self) -> str:
        return config_sops_key_alias(self.prefix)

    @property
    def digest_key_alias(self) -> str:
        return config_digest_key_alias(self.prefix)

    @property
    def region_digest_key_alias(self) -> str:
        return config_region_digest_key_alias(self.prefix)

    @property
    def replica_key_alias(self) -> str:
        return f"alias/{self.prefix}-config-replica"

    def bucket(self, region: str) -> str:
        """The configuration backup bucket in ``region`` (named, so monitoring finds it without references)."""
        return config_bucket_name(self.prefix, self.account, region)

    @property
    def replica_bucket(self) -> str:
        assert self.dr_region is not None
        return self.bucket(self.dr_region)

    def role_arn(self, scope: Construct, name: str) -> str:
        return Stack.of(scope).format_arn(service="iam", region="", resource="role", resource_name=name)

    def dr_alias_arn(self, scope: Construct, alias: str) -> str:
        stack = Stack.of(scope)
        return f"arn:{stack.partition}:kms:{self.dr_region}:{self.account}:{alias}"

    def dr_keys_by_alias(self, scope: Construct, alias: str) -> tuple[str, dict[str, object]]:
        """A resource pattern for the DR region's keys plus the condition that narrows it to ``alias``."""
        stack = Stack.of(scope)
        return (
            f"arn:{stack.partition}:kms:{self.dr_region}:{self.account}:key/*",
            {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
        )
