"""Backup and restore strategy as code for AWS: the policy model and the CDK constructs.

The policy model imports quickly; the constructs (and with them aws_cdk) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from backup_constructs.policy import BackupPolicy, BackupRule, PolicyError, ResourceType

if TYPE_CHECKING:
    from backup_constructs.compliance import BackupComplianceFramework
    from backup_constructs.database import (
        EnforceBackupPolicy,
        database_cluster_backup_props,
        database_instance_backup_props,
    )
    from backup_constructs.k8s_config import ConfigBackupReplica, KubernetesConfigBackup
    from backup_constructs.monitoring import AlertTopic, BackupMonitoring, protect_keys
    from backup_constructs.restore_testing import DisasterRecoveryDrill, RestoreTesting
    from backup_constructs.strategy import BackupStrategy, DisasterRecoveryVault, ProtectedBackupVault

_LAZY = {
    "BackupComplianceFramework": "backup_constructs.compliance",
    "KubernetesConfigBackup": "backup_constructs.k8s_config",
    "ConfigBackupReplica": "backup_constructs.k8s_config",
    "BackupMonitoring": "backup_constructs.monitoring",
    "AlertTopic": "backup_constructs.monitoring",
    "protect_keys": "backup_constructs.monitoring",
    "RestoreTesting": "backup_constructs.restore_testing",
    "DisasterRecoveryDrill": "backup_constructs.restore_testing",
    "BackupStrategy": "backup_constructs.strategy",
    "DisasterRecoveryVault": "backup_constructs.strategy",
    "ProtectedBackupVault": "backup_constructs.strategy",
    "EnforceBackupPolicy": "backup_constructs.database",
    "database_instance_backup_props": "backup_constructs.database",
    "database_cluster_backup_props": "backup_constructs.database",
}

__all__ = [
    "AlertTopic",
    "BackupComplianceFramework",
    "BackupMonitoring",
    "BackupPolicy",
    "BackupRule",
    "BackupStrategy",
    "ConfigBackupReplica",
    "DisasterRecoveryDrill",
    "DisasterRecoveryVault",
    "EnforceBackupPolicy",
    "KubernetesConfigBackup",
    "PolicyError",
    "ProtectedBackupVault",
    "ResourceType",
    "RestoreTesting",
    "database_cluster_backup_props",
    "database_instance_backup_props",
    "protect_keys",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backup_constructs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
