"""What the policy makes immutable, and against whom: the lines the synth summary and the strategy
document print (compliance mode said loudly, because it cannot be undone)."""

from __future__ import annotations

from backup_constructs.policy.model import BackupPolicy, IsolatedVaultKind, VaultLockMode


def immutability(policy: BackupPolicy) -> tuple[tuple[str, str], ...]:
    """(what, how it is locked) for the vaults and the configuration backups."""
    lock = policy.vault_lock
    vaults = "the vault" + (" and the DR vault" if policy.dr_region else "")
    if lock is None:
        vault_text = "no vault lock: recovery points are protected only by the vault access policy"
    elif lock.mode is VaultLockMode.COMPLIANCE:
        vault_text = (
            f"COMPLIANCE-mode vault lock ({lock.min_retention_days}-{lock.max_retention_days} d): changeable for "
            f"{lock.changeable_for_days} d after the first deploy, then NOBODY — an account admin, the root user, "
            "AWS — can shorten retention, delete a recovery point early or remove the lock"
        )
    else:
        vault_text = (
            f"governance-mode vault lock ({lock.min_retention_days}-{lock.max_retention_days} d): users with "
            "backup:DeleteBackupVaultLockConfiguration can remove it"
        )
    config = policy.config_backup
    if config.object_lock_mode is VaultLockMode.COMPLIANCE:
        config_text = (
            f"S3 Object Lock in COMPLIANCE mode for {config.retention_days} d: no version can be deleted or its "
            "retention shortened by anyone, the root user included"
        )
    else:
        config_text = (
            f"S3 Object Lock in governance mode for {config.retention_days} d: s3:BypassGovernanceRetention "
            "can delete versions early"
        )
    scope = "configuration backups" + (" and their DR replica" if policy.dr_region else "")
    rows = [(vaults, vault_text), (scope, config_text)]
    spec = policy.account_isolation
    if spec is not None:
        if spec.vault_kind is IsolatedVaultKind.LOGICALLY_AIR_GAPPED:
            lock_text = "a logically air-gapped vault (AWS-owned key, locked in compliance mode from its creation)"
        else:
            lock_text = (
                f"a COMPLIANCE-mode vault lock ({spec.lock_min_retention_days}-{spec.lock_max_retention_days} d, "
                f"changeable for {spec.changeable_for_days} d after its first deploy, then by NOBODY)"
            )
        rows.append(
            (
                f"the isolated copy ({policy.isolated_vault_name}, outside this account)",
                f"a snapshot on {spec.schedule} copied in the region into the backup account's vault, kept "
                f"{spec.retention_days} d under {lock_text}; this account's admins have no credentials there",
            )
        )
    return tuple(rows)
