"""Names the constructs give to resources and the CLI finds them by, derived from the policy.

Pure Python (no aws_cdk), so ``backupctl`` computes the same names without loading CDK, and
stacks in two regions agree on them without cross-region references.
"""

from __future__ import annotations

import re

from backup_constructs.policy import DEFAULT_VAULT_PREFIX, BackupPolicy


def resource_prefix(policy: BackupPolicy, prefix: str | None = None) -> str:
    """``<vault name or ecommerce-backup>-<environment>``, lower-case, safe for bucket, role and alias
    names: every name derived from it is specific to the environment."""
    base = prefix or f"{policy.vault_name or DEFAULT_VAULT_PREFIX}-{policy.environment}"
    return re.sub(r"[^a-z0-9-]", "-", base.lower())


def backup_role_name(policy: BackupPolicy) -> str:
    """The role AWS Backup uses for the plan's selection and for on-demand jobs."""
    return f"{resource_prefix(policy)}-backup"


# The tag ``backupctl dr failover`` puts on the promoted instance: the DR region's failover plan selects it.
FAILOVER_TAG_KEY = "backup-failover"


def failover_plan_name(policy: BackupPolicy) -> str:
    """The DR region's backup plan for an instance promoted there (empty until a failover tags one)."""
    return f"{resource_prefix(policy)}-failover"


def isolated_plan_name(policy: BackupPolicy) -> str:
    """The primary region's plan whose snapshots are copied into the backup account's vault."""
    return f"{resource_prefix(policy)}-isolated"


def isolated_restore_role_name(policy: BackupPolicy) -> str:
    """The backup account's role AWS Backup restores the isolated copies with."""
    return f"{resource_prefix(policy)}-isolated-restore"


def backup_account_alert_topic_name(policy: BackupPolicy) -> str:
    """The backup account's alert topic (the workload's alert rules may deliver there too)."""
    return f"{resource_prefix(policy)}-backup-account-alerts"


def alert_forwarder_role_name(policy: BackupPolicy) -> str:
    """The role EventBridge assumes to deliver the workload's alerts to a topic in another account."""
    return f"{resource_prefix(policy)}-alert-forwarder"


def backup_vault_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:backup:{region}:{account}:backup-vault:{name}"


# Every KMS key that protects the backups or their decryption carries this tag (value: the environment):
# the organization's service control policy protects the keys by it.
BACKUP_PROTECTION_TAG = "backup-protection"


# The CDK bootstrap's qualifier comes from this context key (default hnb659fds).
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"


def cdk_execution_role_arn(partition: str, account: str, region: str, qualifier: str = "hnb659fds") -> str:
    """The CloudFormation execution role the CDK bootstrap creates (what the default stack synthesizer
    deploys with)."""
    return f"arn:{partition}:iam::{account}:role/cdk-{qualifier}-cfn-exec-role-{account}-{region}"


def heartbeat_function_name(policy: BackupPolicy) -> str:
    """The heartbeat writer (named, so the monitoring stack alarms on its errors)."""
    return f"{resource_prefix(policy)}-heartbeat"


def config_bucket_name(prefix: str, account: str, region: str) -> str:
    return f"{prefix}-config-{account}-{region}"


def config_export_function_name(prefix: str) -> str:
    return f"{prefix}-config-export"


def config_restore_function_name(prefix: str) -> str:
    return f"{prefix}-config-restore"


def config_dead_letter_queue_name(prefix: str) -> str:
    return f"{prefix}-config-dead-letters"


def config_digest_key_alias(prefix: str) -> str:
    return f"alias/{prefix}-config-digest"


def config_sops_key_alias(prefix: str) -> str:
    return f"alias/{prefix}-config-sops"


def config_region_digest_key_alias(prefix: str) -> str:
    """The multi-Region digest key's alias (the same name on the primary and on the DR replica)."""
    return f"alias/{prefix}-config-digest-mr"


def config_dr_restore_function_name(prefix: str) -> str:
    return f"{prefix}-config-restore-dr"


def partition_for(region: str) -> str:
    """The AWS partition of a region (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def rds_instance_arn(partition: str, region: str, account: str, identifier: str) -> str:
    """The ARN of an RDS DB instance (in a stack: pass ``stack.partition``)."""
    return f"arn:{partition}:rds:{region}:{account}:db:{identifier}"
