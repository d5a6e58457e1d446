"""What an account admin cannot undo, in the synthesized app: production's vaults in compliance-mode
vault lock and its configuration backups (and their replica) under compliance-mode Object Lock;
staging keeps the governance defaults."""

from __future__ import annotations

from typing import Any

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


def _sops_denies(synthesized: Synthesized, stack: str) -> list[dict[str, Any]]:
    aliases = synthesized.resources(stack, "AWS::KMS::Alias").values()
    (target,) = [a["Properties"]["TargetKeyId"] for a in aliases if str(a["Properties"]["AliasName"]).endswith("-sops")]
    key = synthesized.resources(stack, "AWS::KMS::Key")[target["Fn::GetAtt"][0]]
    return [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "NobodyElseDecrypts"]


def test_nobody_but_the_restore_and_break_glass_roles_can_decrypt_or_grant_on_the_sops_keys(
    synthesized: Synthesized,
) -> None:
    restore = "arn:aws:iam::111111111111:role/ecommerce-backup-production-config-restore"
    dr_restore = "arn:aws:iam::111111111111:role/ecommerce-backup-production-config-restore-dr"
    drill_restore = "arn:aws:iam::111111111111:role/ecommerce-backup-production-config-restore-drill"
    break_glass = "arn:aws:iam::111111111111:role/backup-break-glass"
    expected = {
        "ecommerce-production-config-backup": [restore, break_glass],
        "ecommerce-production-backup-dr": [restore, dr_restore, drill_restore, break_glass],
    }
    for stack, exempt in expected.items():
        (deny,) = _sops_denies(synthesized, stack)
        assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
        assert sorted(deny["Action"]) == ["kms:CreateGrant", "kms:Decrypt", "kms:ReEncrypt*"]
        assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": exempt}}, stack


def test_the_configuration_buckets_deny_tampering_to_all_but_break_glass_and_the_exact_deploy_role(
    synthesized: Synthesized,
) -> None:
    for stack, region in (
        ("ecommerce-production-config-backup", "us-east-1"),
        ("ecommerce-production-backup-dr", "us-west-2"),
    ):
        denies = [
            s
            for p in synthesized.resources(stack, "AWS::S3::BucketPolicy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s.get("Sid") == "DenyTamperingExceptBreakGlass"
        ]
        assert len(denies) == 1, stack  # the configuration bucket only (not the access-log bucket)
        (deny,) = denies
        assert {"s3:BypassGovernanceRetention", "s3:PutBucketPolicy", "s3:PutBucketObjectLockConfiguration"} <= set(
            deny["Action"]
        )
        assert deny["Condition"] == {
            "ArnNotLike": {
                "aws:PrincipalArn": [
                    f"arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-{region}",
                    "arn:aws:iam::111111111111:role/backup-break-glass",
                ]
            }
        }, stack
        assert len(deny["Resource"]) == 2  # the bucket and its objects
