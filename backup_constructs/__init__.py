"""Backup and restore strategy as code for AWS: the policy model and the CDK constructs.

The policy model imports quickly; the constructs (and with them aws_cdk) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from backup_constructs.policy import BackupPolicy, BackupRule, PolicyError, ResourceType

if TYPE_CHECKING:
    from backup_constructs.backup.isolation import BackupAccountVault, IsolatedCopyPlan
    from backup_constructs.backup.strategy import BackupStrategy, DisasterRecoveryVault, FailoverBackupPlan
    from backup_constructs.backup.vault import ProtectedBackupVault
    from backup_constructs.config_backup import ConfigBackupReplica, KubernetesConfigBackup
    from backup_constructs.core.keys import protect_keys
    from backup_constructs.core.physical_names import UniquePhysicalNames
    from backup_constructs.database.enforce import (
        EnforceBackupPolicy,
        database_cluster_backup_props,
        database_instance_backup_props,
    )
    from backup_constructs.database.heartbeat import DatabaseHeartbeat
    from backup_constructs.database.replica import CrossRegionReadReplica
    from backup_constructs.monitoring.alerts import AlertTopic
    from backup_constructs.monitoring.construct import BackupMonitoring
    from backup_constructs.monitoring.evidence import BackupComplianceFramework
    from backup_constructs.restore_testing import DisasterRecoveryDrill, RestoreTesting

_LAZY = {
    "AlertTopic": "backup_constructs.monitoring.alerts",
    "BackupAccountVault": "backup_constructs.backup.isolation",
    "IsolatedCopyPlan": "backup_constructs.backup.isolation",
    "BackupComplianceFramework": "backup_constructs.monitoring.evidence",
    "BackupMonitoring": "backup_constructs.monitoring.construct",
    "BackupStrategy": "backup_constructs.backup.strategy",
    "ConfigBackupReplica": "backup_constructs.config_backup",
    "CrossRegionReadReplica": "backup_constructs.database.replica",
    "DatabaseHeartbeat": "backup_constructs.database.heartbeat",
    "DisasterRecoveryDrill": "backup_constructs.restore_testing",
    "DisasterRecoveryVault": "backup_constructs.backup.strategy",
    "EnforceBackupPolicy": "backup_constructs.database.enforce",
    "FailoverBackupPlan": "backup_constructs.backup.strategy",
    "KubernetesConfigBackup": "backup_constructs.config_backup",
    "ProtectedBackupVault": "backup_constructs.backup.vault",
    "RestoreTesting": "backup_constructs.restore_testing",
    "UniquePhysicalNames": "backup_constructs.core.physical_names",
    "database_cluster_backup_props": "backup_constructs.database.enforce",
    "database_instance_backup_props": "backup_constructs.database.enforce",
    "protect_keys": "backup_constructs.core.keys",
}

__all__ = [
    "AlertTopic",
    "BackupAccountVault",
    "BackupComplianceFramework",
    "BackupMonitoring",
    "BackupPolicy",
    "BackupRule",
    "BackupStrategy",
    "ConfigBackupReplica",
    "CrossRegionReadReplica",
    "DatabaseHeartbeat",
    "DisasterRecoveryDrill",
    "DisasterRecoveryVault",
    "EnforceBackupPolicy",
    "FailoverBackupPlan",
    "IsolatedCopyPlan",
    "KubernetesConfigBackup",
    "PolicyError",
    "ProtectedBackupVault",
    "ResourceType",
    "RestoreTesting",
    "UniquePhysicalNames",
    "database_cluster_backup_props",
    "database_instance_backup_props",
    "protect_keys",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'backup_constructs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
