"""The DR region's side of the configuration backup: the replica bucket and the second SOPS recipient."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from backup_constructs.config_backup.keys import sops_key
from backup_constructs.config_backup.names import ConfigBackupNames
from backup_constructs.core.buckets import access_log_bucket, access_logs_by_bucket_policy, protected_bucket
from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge
from backup_constructs.policy import BackupPolicy, PolicyError


class ConfigBackupReplica(Construct):
    """The DR region's side: the replica bucket (same protection and retention) with its key, and
    the second SOPS recipient key, so a restore works with the primary region gone."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        decrypt_principal_arns: Sequence[str] = (),
        name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        access_logs_by_bucket_policy(self)
        if not policy.dr_region:
            raise PolicyError("dr_region: got None; a configuration backup replica needs the policy's DR region")
        names = ConfigBackupNames.for_policy(self, policy, name_prefix)
        export_arn = names.role_arn(self, names.export_role)
        restore_arn = names.role_arn(self, names.restore_role)
        self.sops_key = sops_key(
            self,
            "SopsKey",
            alias=names.sops_key_alias,
            encrypt_role_arns=[export_arn],
            decrypt_role_arns=[restore_arn, *decrypt_principal_arns],
            description="Second SOPS recipient for configuration backups, in the DR region",
        )
        self.data_key = rotating_key(
            self,
            "ReplicaKey",
            alias=names.replica_key_alias,
            description="Encrypts the replicated configuration backups at rest in the DR region",
        )
        self.access_logs = access_log_bucket(self, "AccessLogs")
        self.bucket = protected_bucket(
            self,
            "Bucket",
            bucket_name=names.replica_bucket,
            encryption_key=self.data_key,
            retention_days=policy.config_backup.retention_days,
            access_logs=self.access_logs,
        )
        acknowledge(
            self.bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "This bucket is the cross-region replica of the configuration backups.",
        )
