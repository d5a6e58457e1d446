"""The organization's service control policy for one environment's backups: what no principal of the
workload account but the exempt roles may do to the recovery points, the vaults, the backup keys and the
configuration buckets, whatever its IAM policies say. An account admin cannot remove an SCP; only the
organization's management account can (SCPs do not apply to the management account itself, nor to
service-linked roles).

Pure Python, so the app writes it as an artifact and the optional management-account stack deploys it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from backup_constructs.policy.model import BackupPolicy
from backup_constructs.policy.naming import BACKUP_PROTECTION_TAG, resource_prefix

# AWS Organizations refuses a service control policy document longer than this (characters).
SCP_MAX_CHARACTERS = 5120

RECOVERY_POINT_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:DisassociateRecoveryPoint",
)
VAULT_ACTIONS = (
    "backup:DeleteBackupVault",
    "backup:PutBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:PutBackupVaultLockConfiguration",
    "backup:DeleteBackupVaultLockConfiguration",
)
KEY_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:UntagResource")
BUCKET_ACTIONS = (
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutReplicationConfiguration",
    "s3:PutLifecycleConfiguration",
)
OBJECT_ACTIONS = ("s3:BypassGovernanceRetention",)


def backup_protection_scp(
    policy: BackupPolicy, *, partition: str, exempt_principal_arns: Sequence[str]
) -> dict[str, Any]:
    """The SCP document for ``policy``'s environment. ``exempt_principal_arns``: the break-glass roles
    and the exact CloudFormation execution roles that deploy the stacks (deploys change vault policies,
    key policies and bucket settings)."""
    prefix = resource_prefix(policy)
    vault_names = [policy.backup_vault_name, *([policy.dr_backup_vault_name] if policy.dr_region else [])]
    exempt = {"ArnNotLike": {"aws:PrincipalArn": sorted(set(exempt_principal_arns))}}
    statements: list[dict[str, Any]] = [
        {
            # Recovery points have per-service ARNs (an RDS snapshot's among them): every one in the account.
            "Sid": "ProtectRecoveryPoints",
            "Effect": "Deny",
            "Action": list(RECOVERY_POINT_ACTIONS),
            "Resource": "*",
            "Condition": exempt,
        },
        {
            "Sid": "ProtectBackupVaults",
            "Effect": "Deny",
            "Action": list(VAULT_ACTIONS),
            "Resource": [f"arn:{partition}:backup:*:*:backup-vault:{name}" for name in vault_names],
            "Condition": exempt,
        },
        {
            "Sid": "ProtectBackupKeys",
            "Effect": "Deny",
            "Action": list(KEY_ACTIONS),
            "Resource": "*",
            "Condition": {**exempt, "StringEquals": {f"aws:ResourceTag/{BACKUP_PROTECTION_TAG}": policy.environment}},
        },
        {
            "Sid": "ProtectConfigurationBuckets",
            "Effect": "Deny",
            "Action": list(BUCKET_ACTIONS),
            "Resource": f"arn:{partition}:s3:::{prefix}-config-*",
            "Condition": exempt,
        },
        {
            "Sid": "ProtectConfigurationBackups",
            "Effect": "Deny",
            "Action": list(OBJECT_ACTIONS),
            "Resource": f"arn:{partition}:s3:::{prefix}-config-*/*",
            "Condition": exempt,
        },
        {
            # Leaving the organization would shed this policy.
            "Sid": "StayInTheOrganization",
            "Effect": "Deny",
            "Action": ["organizations:LeaveOrganization"],
            "Resource": "*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def scp_json(document: dict[str, Any]) -> str:
    """The document as AWS Organizations stores it (compact), refused when over the size limit."""
    text = json.dumps(document, separators=(",", ":"))
    if len(text) > SCP_MAX_CHARACTERS:
        raise ValueError(
            f"service control policy: {len(text)} characters; AWS Organizations allows at most {SCP_MAX_CHARACTERS}"
        )
    return text
