"""Backup and restore strategy as code for AWS: the policy model and the CDK constructs.

The policy model imports quickly; the constructs (and with them aws_cdk) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from backup_constructs.policy import BackupPolicy, BackupRule, PolicyError, ResourceType

if TYPE_CHECKING:
    from backup_constructs.database import (
        EnforceBackupPolicy,
        database_cluster_backup_props,
        database_instance_backup_props,
    )
    from backup_constructs.strategy import BackupStrategy, DisasterRecoveryVault, ProtectedBackupVault

_LAZY = {
    "BackupStrategy": "backup_constructs.strategy",
    "DisasterRecoveryVault": "backup_constructs.strategy",
    "ProtectedBackupVault": "backup_constructs.strategy",
    "EnforceBackupPolicy": "backup_constructs.database",
    "database_instance_backup_props": "backup_constructs.database",
    "database_cluster_backup_props": "backup_constructs.database",
}

__all__ = [
    "BackupPolicy",
    "BackupRule",
    "BackupStrategy",
    "DisasterRecoveryVault",
    "EnforceBackupPolicy",
    "PolicyError",
    "ProtectedBackupVault",
    "ResourceType",
    "database_cluster_backup_props",
    "database_instance_backup_props",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backup_constructs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
