"""Kubernetes ConfigMaps and Secrets backed up on every deploy and on a schedule, and restored:
:class:`KubernetesConfigBackup` in the primary region, :class:`ConfigBackupReplica` in the DR region."""

from backup_constructs.config_backup.construct import KubernetesConfigBackup
from backup_constructs.config_backup.names import ConfigBackupNames
from backup_constructs.config_backup.replica import ConfigBackupReplica

__all__ = ["ConfigBackupNames", "ConfigBackupReplica", "KubernetesConfigBackup"]
