"""What an account admin cannot undo, in the synthesized app: production's vaults in compliance-mode
vault lock and its configuration backups (and their replica) under compliance-mode Object Lock;
staging keeps the governance defaults."""

from __future__ import annotations

from tests.conftest import Synthesized


def _locks(synthesized: Synthesized, stack: str) -> list[dict[str, object] | None]:
    vaults = synthesized.resources(stack, "AWS::Backup::BackupVault").values()
    return [v["Properties"].get("LockConfiguration") for v in vaults]


def _object_lock_modes(synthesized: Synthesized, stack: str) -> set[str]:
    return {
        b["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"]
        for b in synthesized.resources(stack, "AWS::S3::Bucket").values()
        if "BucketName" in b["Properties"] and "-config-" in str(b["Properties"]["BucketName"])
    }


def test_production_vaults_in_both_regions_are_locked_in_compliance_mode(synthesized: Synthesized) -> None:
    for stack in ("ecommerce-production-backup", "ecommerce-production-backup-dr"):
        (lock,) = _locks(synthesized, stack)
        assert lock == {"MinRetentionDays": 7, "MaxRetentionDays": 365, "ChangeableForDays": 3}, stack


def test_production_configuration_backups_and_their_replica_are_compliance_locked(synthesized: Synthesized) -> None:
    assert _object_lock_modes(synthesized, "ecommerce-production-config-backup") == {"COMPLIANCE"}
    assert _object_lock_modes(synthesized, "ecommerce-production-backup-dr") == {"COMPLIANCE"}


def test_staging_keeps_governance(synthesized: Synthesized) -> None:
    assert _object_lock_modes(synthesized, "ecommerce-staging-config-backup") == {"GOVERNANCE"}
    # Staging's preset has no vault lock; whatever it gets, never one without a way back.
    assert all(
        lock is None or "ChangeableForDays" not in lock for lock in _locks(synthesized, "ecommerce-staging-backup")
    )
