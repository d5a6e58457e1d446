"""The AWS/Backup job metrics alarmed on per vault."""

from __future__ import annotations

BACKUP_FAILURE_METRICS = (
    "NumberOfBackupJobsFailed",
    "NumberOfBackupJobsExpired",
    "NumberOfCopyJobsFailed",
    "NumberOfRestoreJobsFailed",
    "NumberOfRecoveryPointsPartial",
)
# A copy job's metrics carry the destination vault's name.
COPY_FAILURE_METRICS = ("NumberOfCopyJobsFailed",)
# What runs against the DR vault: restores of its copies (drills, failovers) and, perhaps, the copies.
DR_VAULT_METRICS = ("NumberOfCopyJobsFailed", "NumberOfRestoreJobsFailed", "NumberOfRecoveryPointsPartial")
