"""EventBridge sources and detail-types the runtime puts and the rules match."""

from __future__ import annotations

from typing import Final

CONFIG_BACKUP_SOURCE: Final = "ecommerce.config-backup"
CONFIG_BACKUP_COMPLETED: Final = "Config Backup Completed"
CONFIG_BACKUP_FAILED: Final = "Config Backup Failed"

# What a CD pipeline puts after a deploy, so the configuration is exported.
DEPLOY_SOURCE: Final = "ecommerce.deploy"
DEPLOY_COMPLETED: Final = "Deployment Completed"

RESTORE_TEST_SOURCE: Final = "ecommerce.restore-testing"
RESTORE_TEST_COMPLETED: Final = "Restore Test Completed"
DRILL_COMPLETED: Final = "DR Drill Completed"
RESTORE_TEST_DETAIL_TYPES: Final = {"monthly": RESTORE_TEST_COMPLETED, "drill": DRILL_COMPLETED}

# AWS's own.
AWS_BACKUP_SOURCE: Final = "aws.backup"
BACKUP_JOB_STATE_CHANGE: Final = "Backup Job State Change"
COPY_JOB_STATE_CHANGE: Final = "Copy Job State Change"
RESTORE_JOB_STATE_CHANGE: Final = "Restore Job State Change"
SCHEDULED_EVENT: Final = "Scheduled Event"

# RDS events (EventBridge): a manual snapshot finished; a DB instance was created (also by a restore).
RDS_SOURCE: Final = "aws.rds"
RDS_SNAPSHOT_EVENT: Final = "RDS DB Snapshot Event"
RDS_INSTANCE_EVENT: Final = "RDS DB Instance Event"
RDS_MANUAL_SNAPSHOT_CREATED: Final = "RDS-EVENT-0042"
RDS_INSTANCE_CREATED: Final = "RDS-EVENT-0005"
