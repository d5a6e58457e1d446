"""The guide's two environments as policies: production (daily, hourly, continuous, DR copies) and
staging (a daily snapshot, no DR region). Every figure of the guide lives here and nowhere else."""

from __future__ import annotations

from backup_constructs.policy.model import (
    AccountIsolationSpec,
    BackupPolicy,
    BackupRule,
    ConfigBackupSpec,
    RegionLossChoice,
    RegionLossMechanism,
    RegionLossSpec,
    ResourceType,
    RestoreTestSpec,
    SelectionTag,
    VaultLock,
    VaultLockMode,
)
from lambdas.contract.errors import fail


def production() -> BackupPolicy:
    """The guide's production strategy: daily full 30 d, hourly 7 d, continuous 7 d, DR copies."""
    return BackupPolicy(
        environment="production",
        rules=(
            BackupRule(
                name="daily-full",
                purpose="full system recovery",
                schedule="cron(0 2 * * ? *)",
                retention_days=30,
                copy_to_dr=True,
                dr_retention_days=30,
                start_window_minutes=60,
                completion_window_minutes=120,
            ),
            BackupRule(
                name="hourly-incremental",
                purpose="point-in-time recovery",
                schedule="cron(0 * * * ? *)",
                retention_days=7,
                copy_to_dr=True,
                dr_retention_days=7,
            ),
            BackupRule(
                name="transaction-log",
                purpose="minimal data loss",
                schedule="cron(0 5 * * ? *)",
                retention_days=7,
                continuous=True,
            ),
        ),
        log_retention_days=90,
        dr_region="us-west-2",
        # Compliance mode: after the 3-day cooling-off period nobody — an account admin, the root user,
        # AWS — can shorten retention, delete a recovery point early or remove the lock.
        vault_lock=VaultLock(mode=VaultLockMode.COMPLIANCE, changeable_for_days=3),
        config_backup=ConfigBackupSpec(object_lock_mode=VaultLockMode.COMPLIANCE),
        selection_tag=SelectionTag(value="production"),
        # Quarterly: the 15th of January, April, July and October.
        restore_testing=RestoreTestSpec(drill_schedule="cron(0 6 15 1,4,7,10 ? *)"),
        # The guide states RTO < 1 h and RPO < 15 min under Disaster Recovery: they hold when the
        # primary region is lost, which copies alone cannot do (a copy is a daily snapshot for RDS).
        region_loss=RegionLossSpec(
            rpo_target_minutes=15,
            rto_target_minutes=60,
            mechanisms=(RegionLossChoice(ResourceType.RDS, RegionLossMechanism.REPLICA),),
        ),
        # Against a compromised account: a daily snapshot (after the backup window) copied, in the region,
        # into a compliance-locked vault of a separate backup account (the environment names it).
        account_isolation=AccountIsolationSpec(schedule="cron(0 4 * * ? *)", retention_days=35),
    )


def staging() -> BackupPolicy:
    """The guide's staging strategy: a daily snapshot, logs kept 30 days, no DR region."""
    return BackupPolicy(
        environment="staging",
        rules=(
            BackupRule(
                name="daily-full",
                purpose="full system recovery",
                schedule="cron(0 2 * * ? *)",
                retention_days=30,
                start_window_minutes=60,
                completion_window_minutes=120,
            ),
        ),
        log_retention_days=30,
        selection_tag=SelectionTag(value="staging"),
    )


PRESETS = {"production": production, "staging": staging}


def preset(name: str) -> BackupPolicy:
    if name not in PRESETS:
        fail("preset", name, f"allowed: {', '.join(PRESETS)}")
    return PRESETS[name]()
