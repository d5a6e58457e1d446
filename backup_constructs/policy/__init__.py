"""The backup policy, pure Python (never imports aws_cdk): the model, the guide's presets, loading from
cdk.json context, the environments, cron evaluation, RPO maths and the names resources get.

``from backup_constructs.policy import BackupPolicy`` is all most users need.
"""

from backup_constructs.policy.model import (
    CLOUDWATCH_LOG_RETENTION_DAYS,
    CLOUDWATCH_METRIC_RETENTION_MONTHS,
    DEFAULT_ECOMMERCE_CHECKS,
    DEFAULT_VAULT_PREFIX,
    PITR_RPO_MINUTES,
    AccountIsolationSpec,
    BackupPolicy,
    BackupRule,
    ConfigBackupSpec,
    DatabaseBackupSpec,
    IntegrityCheck,
    IsolatedVaultKind,
    LogRetentionMode,
    PolicyError,
    RegionLossChoice,
    RegionLossMechanism,
    RegionLossSpec,
    ResourceType,
    RestoreTestSpec,
    SelectionTag,
    VaultLock,
    VaultLockMode,
    window_minutes,
)

__all__ = [
    "CLOUDWATCH_LOG_RETENTION_DAYS",
    "CLOUDWATCH_METRIC_RETENTION_MONTHS",
    "DEFAULT_ECOMMERCE_CHECKS",
    "DEFAULT_VAULT_PREFIX",
    "PITR_RPO_MINUTES",
    "AccountIsolationSpec",
    "BackupPolicy",
    "BackupRule",
    "ConfigBackupSpec",
    "DatabaseBackupSpec",
    "IntegrityCheck",
    "IsolatedVaultKind",
    "LogRetentionMode",
    "PolicyError",
    "RegionLossChoice",
    "RegionLossMechanism",
    "RegionLossSpec",
    "ResourceType",
    "RestoreTestSpec",
    "SelectionTag",
    "VaultLock",
    "VaultLockMode",
    "window_minutes",
]
