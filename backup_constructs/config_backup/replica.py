"""The DR region's side of the configuration backup: the replica bucket, the second SOPS recipient and,
with a DR cluster named, the restore function that works with the primary region gone."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.config_backup.keys import sops_key
from backup_constructs.config_backup.names import ConfigBackupNames
from backup_constructs.core.buckets import (
    access_log_bucket,
    access_logs_by_bucket_policy,
    deny_tampering,
    protected_bucket,
)
from backup_constructs.core.functions import FunctionIds, ProjectFunction, attach_policy, outside_vpc, project_function
from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge, acknowledge_all, logical_id, nag_partition
from backup_constructs.core.statements import key_use_through, send_dead_letters, write_own_logs
from backup_constructs.policy import BackupPolicy, PolicyError, VaultLockMode
from lambdas.contract.functions import CONFIG_RESTORE, FUNCTIONS
from lambdas.contract.settings import RestoreSettings


class ConfigBackupReplica(Construct):
    """The DR region's side: the replica bucket (same protection and retention) with its key, and
    the second SOPS recipient key, so a restore works with the primary region gone.

    Parameters
    ----------
    source_cluster_name, restore_cluster_name, namespaces:
        With these, a restore function in this region: it restores the replicated backups of
        ``source_cluster_name``'s ``namespaces`` into ``restore_cluster_name`` (the DR cluster),
        verifying digests with the multi-Region digest key's replica here. Default: no DR restore.
    drill_namespace, restart_deployments:
        With ``drill_namespace``, a second, drill-only restore function that may write that namespace
        and no other (the failover's writes the source namespaces only); what they restart by default.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        decrypt_principal_arns: Sequence[str] = (),
        break_glass_role_arns: Sequence[str] = (),
        name_prefix: str | None = None,
        source_cluster_name: str | None = None,
        restore_cluster_name: str | None = None,
        namespaces: Sequence[str] = (),
        drill_namespace: str | None = None,
        restart_deployments: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        access_logs_by_bucket_policy(self)
        if not policy.dr_region:
            raise PolicyError("dr_region: got None; a configuration backup replica needs the policy's DR region")
        if (source_cluster_name is None) != (restore_cluster_name is None) or (
            restore_cluster_name is not None and not namespaces
        ):
            raise PolicyError(
                "source_cluster_name, restore_cluster_name, namespaces: set all three for a DR restore function, "
                "or none"
            )
        names = ConfigBackupNames.for_policy(self, policy, name_prefix)
        self.names = names
        export_arn = names.role_arn(self, names.export_role)
        restore_arn = names.role_arn(self, names.restore_role)
        dr_restore_arns = (
            [
                names.role_arn(self, names.dr_restore_role),
                *([names.role_arn(self, names.drill_restore_role)] if drill_namespace else []),
            ]
            if restore_cluster_name
            else []
        )
        self.sops_key = sops_key(
            self,
            "SopsKey",
            alias=names.sops_key_alias,
            encrypt_role_arns=[export_arn],
            decrypt_role_arns=[restore_arn, *dr_restore_arns, *decrypt_principal_arns],
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
            compliance_lock=policy.config_backup.object_lock_mode is VaultLockMode.COMPLIANCE,
        )
        deny_tampering(self.bucket, break_glass_role_arns)
        acknowledge(
            self.bucket,
            "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
            "This bucket is the cross-region replica of the configuration backups.",
        )
        self.restore_function: lambda_.Function | None = None
        self.drill_restore_function: lambda_.Function | None = None
        self.dead_letter_queue: sqs.Queue | None = None
        if source_cluster_name is not None and restore_cluster_name is not None:
            self._dr_restore(
                policy,
                source_cluster_name,
                restore_cluster_name,
                namespaces=list(namespaces),
                drill_namespace=drill_namespace,
                restart_deployments=restart_deployments,
            )

    def _dr_restore(
        self,
        policy: BackupPolicy,
        source_cluster: str,
        dr_cluster: str,
        *,
        namespaces: list[str],
        drill_namespace: str | None,
        restart_deployments: Sequence[str],
    ) -> None:
        names = self.names
        self.dead_letter_queue = sqs.Queue(
            self,
            "RestoreDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.data_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the DR restore functions.",
        )
        # A failover restores into the source namespaces; the drill has a function of its own that can
        # write the drill namespace only (in the function and by its EKS access scope), so a drill never
        # touches what a failover would bring back.
        made, self.restore_access_entry = self._restore_function(
            policy,
            source_cluster,
            dr_cluster,
            ids=FunctionIds("RestoreFunction", role="RestoreRole", log_group="RestoreLogs", policy="RestorePolicy"),
            role_name=names.dr_restore_role,
            function_name=names.dr_restore_function,
            allowed=tuple(namespaces),
            sources=(),
            restart_deployments=restart_deployments,
            purpose=f"Restores {source_cluster}'s replicated configuration backups into {dr_cluster}",
        )
        self.restore_function, self.restore_role = made.function, made.role
        self.drill_access_entry: eks.CfnAccessEntry | None = None
        if drill_namespace is not None:
            drill, self.drill_access_entry = self._restore_function(
                policy,
                source_cluster,
                dr_cluster,
                ids=FunctionIds(
                    "DrillRestoreFunction",
                    role="DrillRestoreRole",
                    log_group="DrillRestoreLogs",
                    policy="DrillRestorePolicy",
                ),
                role_name=names.drill_restore_role,
                function_name=names.drill_restore_function,
                allowed=(drill_namespace,),
                sources=tuple(namespaces),
                restart_deployments=restart_deployments,
                purpose=f"Restores {source_cluster}'s replicated configuration into {drill_namespace} of {dr_cluster}",
            )
            self.drill_restore_function, self.drill_restore_role = drill.function, drill.role

    def _restore_function(
        self,
        policy: BackupPolicy,
        source_cluster: str,
        dr_cluster: str,
        *,
        ids: FunctionIds,
        role_name: str,
        function_name: str,
        allowed: tuple[str, ...],
        sources: tuple[str, ...],
        restart_deployments: Sequence[str],
        purpose: str,
    ) -> tuple[ProjectFunction, eks.CfnAccessEntry]:
        """A restore function of the replicated backups into ``dr_cluster`` that may write the ``allowed``
        namespaces only: its settings refuse any other target, and its EKS access entry edits no other.
        ``sources``: whose backups it restores from (default: the allowed namespaces')."""
        stack = Stack.of(self)
        names = self.names
        assert self.dead_letter_queue is not None
        made = project_function(
            self,
            ids,
            policy=policy,
            handler=FUNCTIONS[CONFIG_RESTORE].handler,
            description=purpose,
            role_description=purpose,
            role_name=role_name,
            function_name=function_name,
            environment=RestoreSettings.env(
                cluster=source_cluster,
                target_cluster=dr_cluster,
                bucket=self.bucket.bucket_name,
                digest_key_arn=names.dr_alias_arn(self, names.region_digest_key_alias),
                allowed_namespaces=allowed,
                source_namespaces=sources,
                restart_deployments=tuple(restart_deployments),
            ),
            timeout=Duration.minutes(10),
            memory_size=512,
            reserved_concurrent_executions=1,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=0,
        )
        outside_vpc(
            made.function,
            "The DR cluster's API endpoint is public (IAM-authenticated, TLS), like the primary's.",
        )
        digest_pattern, digest_condition = names.dr_keys_by_alias(self, names.region_digest_key_alias)
        statements = [
            write_own_logs(made.log_group),
            iam.PolicyStatement(
                sid="DescribeTheCluster",
                actions=["eks:DescribeCluster"],
                resources=[stack.format_arn(service="eks", resource="cluster", resource_name=dr_cluster)],
            ),
            *send_dead_letters(self.dead_letter_queue),
            iam.PolicyStatement(
                sid="ListBackups",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{source_cluster}/*"]}},
            ),
            iam.PolicyStatement(
                sid="ReadBackups",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{source_cluster}/*")],
            ),
            key_use_through("s3", stack, sid="DecryptAtRest", actions=["kms:Decrypt"], key_arn=self.data_key.key_arn),
            iam.PolicyStatement(sid="SopsDecrypt", actions=["kms:Decrypt"], resources=[self.sops_key.key_arn]),
            iam.PolicyStatement(
                sid="SecretDigests",
                actions=["kms:GenerateMac"],
                resources=[digest_pattern],
                conditions=digest_condition,
            ),
        ]
        policy_doc = attach_policy(self, ids.policy, made, statements)
        partition = nag_partition(stack)
        acknowledge_all(
            policy_doc,
            [
                (
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/{source_cluster}/*]",
                    f"Replicated backups are objects under {source_cluster}/<namespace>/<backup-id>/; the wildcard "
                    "is limited to that cluster's prefix in this one bucket.",
                ),
                (
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:{partition}:kms:{stack.region}:{stack.account}"
                    ":key/*]",
                    "The digest key's replica is created in a later stack and addressed by alias; the condition "
                    "kms:ResourceAliases narrows the key/* pattern to that one alias.",
                ),
            ],
        )
        access = eks.CfnAccessEntry(
            self,
            ids.function.replace("Function", "Access"),
            cluster_name=dr_cluster,
            principal_arn=made.role.role_arn,
            type="STANDARD",
            access_policies=[
                eks.CfnAccessEntry.AccessPolicyProperty(
                    policy_arn=f"arn:{stack.partition}:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
                    access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="namespace", namespaces=list(allowed)),
                )
            ],
        )
        return made, access
