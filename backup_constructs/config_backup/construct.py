"""KubernetesConfigBackup: the export and restore functions, their bucket and keys, their permissions,
the EKS access entries, the triggers, and the replication to the DR region."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.config_backup.keys import (
    acknowledge_hmac_key,
    key_admin_statement,
    region_digest_key,
    role_use_statement,
    sops_key,
)
from backup_constructs.config_backup.names import ConfigBackupNames
from backup_constructs.core.alarms import S3_REPLICATION_RULE_ID
from backup_constructs.core.buckets import (
    access_log_bucket,
    access_logs_by_bucket_policy,
    deny_tampering,
    protected_bucket,
)
from backup_constructs.core.functions import FunctionIds, ProjectFunction, attach_policy, outside_vpc, project_function
from backup_constructs.core.keys import rotating_key
from backup_constructs.core.nag import acknowledge, acknowledge_all, logical_id, nag_partition
from backup_constructs.core.statements import key_use_through, send_dead_letters, vpc_network_interfaces, write_own_logs
from backup_constructs.policy import BackupPolicy, PolicyError, VaultLockMode
from backup_constructs.policy.naming import (
    config_dead_letter_queue_name,
)
from backup_constructs.policy.rpo import S3_REPLICATION_TIME_MINUTES
from lambdas.contract.events import CONFIG_BACKUP_SOURCE, DEPLOY_COMPLETED, DEPLOY_SOURCE
from lambdas.contract.functions import CONFIG_EXPORT, CONFIG_RESTORE, FUNCTIONS, FunctionSpec
from lambdas.contract.settings import DEFAULT_EVENT_BUS, ExportSettings, RestoreSettings

_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class KubernetesConfigBackup(Construct):
    """Exports a cluster's ConfigMaps and Secrets per namespace to S3 on every deploy and on the
    policy's schedule (SOPS-encrypted Secrets, a manifest with digests), and restores them.

    Parameters
    ----------
    policy:
        The environment's policy (``config_backup`` retention, schedule, refresh interval).
    cluster_name:
        The EKS cluster to back up.
    namespaces:
        Namespaces to export; the restore function may write to them and to ``drill_namespace``.
    restart_deployments:
        Deployments the restore function restarts after a restore. Default: none.
    drill_namespace:
        A namespace for DR drills (restore role gets Edit there). Default: none.
    vpc, vpc_subnets:
        Run the functions in these subnets, for a private cluster endpoint. They then need VPC
        endpoints (or NAT) for STS, EKS, KMS, S3 (gateway), EventBridge and Secrets Manager.
        Default: outside any VPC (public cluster endpoint).
    git_mirror_url, git_mirror_secret:
        Opt-in mirror of every complete backup into a git repository over HTTPS, credentials from
        the secret (JSON ``{"username": ..., "password": ...}``). Default: off.
    break_glass_role_arns:
        The only principals besides the deploy role that may change the bucket's lock, policy,
        versioning, replication or lifecycle, or bypass its retention. Default: none.
    decrypt_principal_arns:
        Principals besides the restore role that may decrypt the Secrets (break-glass operators
        running ``backupctl config restore``). Default: none.
    name_prefix:
        Prefix of role names, aliases and the replica bucket. Default: ``<vault>-<environment>``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        cluster_name: str,
        namespaces: Sequence[str],
        restart_deployments: Sequence[str] = (),
        drill_namespace: str | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        include_helm_releases: bool = False,
        git_mirror_url: str | None = None,
        git_mirror_secret: secretsmanager.ISecret | None = None,
        decrypt_principal_arns: Sequence[str] = (),
        break_glass_role_arns: Sequence[str] = (),
        name_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        access_logs_by_bucket_policy(self)
        _validate(cluster_name, namespaces, restart_deployments, drill_namespace, git_mirror_url, git_mirror_secret)
        self.policy = policy
        self.cluster_name = cluster_name
        self.namespaces = list(namespaces)
        names = ConfigBackupNames.for_policy(self, policy, name_prefix)
        self.names = names
        export_arn = names.role_arn(self, names.export_role)
        restore_arn = names.role_arn(self, names.restore_role)

        self.data_key = rotating_key(
            self,
            "DataKey",
            description=f"Encrypts the Kubernetes configuration backups of {cluster_name} at rest",
        )
        self.sops_key = sops_key(
            self,
            "SopsKey",
            alias=names.sops_key_alias,
            encrypt_role_arns=[export_arn],
            decrypt_role_arns=[restore_arn, *decrypt_principal_arns],
            description=f"Wraps the SOPS data keys of {cluster_name}'s Secret backups",
        )
        self.digest_key = kms.Key(
            self,
            "DigestKey",
            description=f"HMAC key for the keyed digests of {cluster_name}'s Secrets in backup manifests",
            alias=names.digest_key_alias,
            key_spec=kms.KeySpec.HMAC_256,
            key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC,
            policy=iam.PolicyDocument(
                statements=[
                    key_admin_statement(self),
                    role_use_statement("DigestsForBackupRoles", ["kms:GenerateMac"], [export_arn, restore_arn]),
                ]
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge_hmac_key(self.digest_key)
        # With a DR region, new digests use a multi-Region key whose replica verifies them there; the
        # single-Region key above stays, for the backups it signed (KMS cannot make a key multi-Region).
        self.region_digest_key: kms.Key | None = None
        if policy.dr_region:
            self.region_digest_key = region_digest_key(
                self,
                "RegionDigestKey",
                alias=names.region_digest_key_alias,
                role_arns=[export_arn, restore_arn],
                description=f"Multi-Region HMAC key for the digests of {cluster_name}'s Secrets (replica in "
                f"{policy.dr_region})",
            )
        current_digest_key = self.region_digest_key or self.digest_key
        self.current_digest_key = current_digest_key

        self.access_logs = access_log_bucket(self, "AccessLogs")
        self.bucket = protected_bucket(
            self,
            "Bucket",
            bucket_name=names.bucket(Stack.of(self).region),
            encryption_key=self.data_key,
            retention_days=policy.config_backup.retention_days,
            access_logs=self.access_logs,
            compliance_lock=policy.config_backup.object_lock_mode is VaultLockMode.COMPLIANCE,
        )
        deny_tampering(self.bucket, break_glass_role_arns)
        if policy.dr_region:
            self.replication_role: iam.Role | None = self._replicate(names)
        else:
            self.replication_role = None
            acknowledge(
                self.bucket,
                "PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled",
                f"The {policy.environment} policy names no DR region, so its configuration backups stay "
                "in-region (the guide keeps DR copies for production).",
            )

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=config_dead_letter_queue_name(names.prefix),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.data_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions::AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the export and restore functions.",
        )

        sops_keys = [self.sops_key.key_arn]
        if policy.dr_region:
            sops_keys.append(names.dr_alias_arn(self, names.sops_key_alias))
        mirrored = git_mirror_url is not None and git_mirror_secret is not None
        export_env = ExportSettings.env(
            cluster=cluster_name,
            bucket=self.bucket.bucket_name,
            digest_key_arn=current_digest_key.key_arn,
            event_bus_name=DEFAULT_EVENT_BUS,
            event_source=CONFIG_BACKUP_SOURCE,
            namespaces=tuple(self.namespaces),
            sops_key_arns=tuple(sops_keys),
            refresh_interval_days=policy.config_backup.refresh_interval_days,
            include_helm_releases=include_helm_releases,
            git_mirror_url=git_mirror_url if mirrored else None,
            git_mirror_secret_arn=git_mirror_secret.secret_arn if git_mirror_secret is not None and mirrored else None,
        )
        restore_env = RestoreSettings.env(
            cluster=cluster_name,
            bucket=self.bucket.bucket_name,
            digest_key_arn=current_digest_key.key_arn,
            previous_digest_key_arns=(self.digest_key.key_arn,) if self.region_digest_key else (),
            allowed_namespaces=(*self.namespaces, *([drill_namespace] if drill_namespace else [])),
            restart_deployments=tuple(restart_deployments),
        )

        self._made: dict[str, ProjectFunction] = {}
        self.export_function = self._function(
            "Export",
            function_name=names.export_function,
            role_name=names.export_role,
            spec=FUNCTIONS[CONFIG_EXPORT],
            environment=export_env,
            features=("git-mirror",) if mirrored else (),
            description=f"Exports ConfigMaps and Secrets of {cluster_name} to S3 (SOPS-encrypted Secrets)",
            what="exports",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
        )
        self.restore_function = self._function(
            "Restore",
            function_name=names.restore_function,
            role_name=names.restore_role,
            spec=FUNCTIONS[CONFIG_RESTORE],
            environment=restore_env,
            description=f"Restores ConfigMaps and Secrets of {cluster_name} from a verified backup",
            what="restores",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
        )
        self.export_role = self._made["Export"].role
        self.restore_role = self._made["Restore"].role
        self._grant_export(names, git_mirror_secret if git_mirror_url else None, vpc is not None)
        self._grant_restore(names, vpc is not None)
        self._access_entries(drill_namespace)

        self.schedule_rule = events.Rule(
            self,
            "Schedule",
            description=f"Safety-net export of {cluster_name}'s configuration",
            schedule=events.Schedule.expression(policy.config_backup.schedule),
            targets=[targets.LambdaFunction(self.export_function, retry_attempts=2)],
        )
        self.deploy_rule: events.Rule | None = None
        if policy.config_backup.on_deploy:
            self.deploy_rule = events.Rule(
                self,
                "OnDeploy",
                description=f"Export {cluster_name}'s configuration after every deploy",
                event_pattern=events.EventPattern(
                    source=[DEPLOY_SOURCE],
                    detail_type=[DEPLOY_COMPLETED],
                    detail={"cluster": [cluster_name]},
                ),
                targets=[targets.LambdaFunction(self.export_function, retry_attempts=2)],
            )

    # building blocks -------------------------------------------------------------------------------

    def _function(
        self,
        id_: str,
        *,
        spec: FunctionSpec,
        function_name: str,
        role_name: str,
        environment: dict[str, str],
        description: str,
        what: str,
        vpc: ec2.IVpc | None,
        vpc_subnets: ec2.SubnetSelection | None,
        features: Sequence[str] = (),
    ) -> lambda_.Function:
        made = project_function(
            self,
            FunctionIds(f"{id_}Function", role=f"{id_}Role", log_group=f"{id_}Logs", policy=f"{id_}Policy"),
            policy=self.policy,
            handler=spec.handler,
            features=features,
            description=description,
            role_description=f"The Lambda function that {what} Kubernetes configuration backups of {self.cluster_name}",
            role_name=role_name,
            function_name=function_name,
            environment=environment,
            timeout=Duration.minutes(10),
            memory_size=512,
            reserved_concurrent_executions=1,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=2,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
        )
        if vpc is None:
            outside_vpc(
                made.function,
                "The cluster's API endpoint is public (IAM-authenticated, TLS); pass vpc/vpc_subnets for a "
                "private endpoint and the function runs in those subnets.",
            )
        self._made[id_] = made
        return made.function

    def _common_statements(self, log_group: logs.ILogGroup) -> list[iam.PolicyStatement]:
        stack = Stack.of(self)
        return [
            write_own_logs(log_group),
            iam.PolicyStatement(
                sid="DescribeTheCluster",
                actions=["eks:DescribeCluster"],
                resources=[stack.format_arn(service="eks", resource="cluster", resource_name=self.cluster_name)],
            ),
            *send_dead_letters(self.dead_letter_queue),
            iam.PolicyStatement(
                sid="ListBackups",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.cluster_name}/*"]}},
            ),
        ]

    def _grant_export(self, names: ConfigBackupNames, git_secret: secretsmanager.ISecret | None, in_vpc: bool) -> None:
        stack = Stack.of(self)
        objects = self.bucket.arn_for_objects(f"{self.cluster_name}/*")
        statements = self._common_statements(self._made["Export"].log_group)
        statements += [
            iam.PolicyStatement(
                sid="WriteAndReadBackups", actions=["s3:PutObject", "s3:GetObject"], resources=[objects]
            ),
            key_use_through(
                "s3",
                stack,
                sid="EncryptAtRest",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                key_arn=self.data_key.key_arn,
            ),
            iam.PolicyStatement(
                sid="SopsRecipients", actions=["kms:Encrypt", "kms:DescribeKey"], resources=[self.sops_key.key_arn]
            ),
            iam.PolicyStatement(
                sid="SecretDigests", actions=["kms:GenerateMac"], resources=[self.current_digest_key.key_arn]
            ),
            iam.PolicyStatement(
                sid="AnnounceBackups",
                actions=["events:PutEvents"],
                resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
            ),
        ]
        findings = []
        if self.policy.dr_region:
            pattern, condition = names.dr_keys_by_alias(self, names.sops_key_alias)
            statements.append(
                iam.PolicyStatement(
                    sid="DrRegionSopsRecipient",
                    actions=["kms:Encrypt", "kms:DescribeKey"],
                    resources=[pattern],
                    conditions=condition,
                )
            )
            findings.append(f"Resource::arn:{nag_partition(stack)}:kms:{self.policy.dr_region}:{stack.account}:key/*")
        if git_secret is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="GitMirrorCredentials",
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[git_secret.secret_arn],
                )
            )
        if in_vpc:
            statements.append(vpc_network_interfaces())
            findings.append("Resource::*")
        policy = attach_policy(self, "ExportPolicy", self._made["Export"], statements)
        self._acknowledge_wildcards(policy, findings)

    def _grant_restore(self, names: ConfigBackupNames, in_vpc: bool) -> None:
        stack = Stack.of(self)
        objects = self.bucket.arn_for_objects(f"{self.cluster_name}/*")
        statements = self._common_statements(self._made["Restore"].log_group)
        statements += [
            iam.PolicyStatement(sid="ReadBackups", actions=["s3:GetObject"], resources=[objects]),
            key_use_through("s3", stack, sid="DecryptAtRest", actions=["kms:Decrypt"], key_arn=self.data_key.key_arn),
            iam.PolicyStatement(sid="SopsDecrypt", actions=["kms:Decrypt"], resources=[self.sops_key.key_arn]),
            iam.PolicyStatement(
                sid="SecretDigests",
                actions=["kms:GenerateMac"],
                resources=[
                    self.digest_key.key_arn,
                    *([self.region_digest_key.key_arn] if self.region_digest_key else []),
                ],
            ),
        ]
        findings = []
        if in_vpc:
            statements.append(vpc_network_interfaces())
            findings.append("Resource::*")
        policy = attach_policy(self, "RestorePolicy", self._made["Restore"], statements)
        self._acknowledge_wildcards(policy, findings)

    def _acknowledge_wildcards(self, policy: iam.ManagedPolicy, findings: list[str]) -> None:
        reasons = {
            "Resource::*": "EC2 network-interface actions for a function in a VPC do not support resource-level "
            "permissions (AWS documents Resource '*' for them).",
        }
        dr_key_reason = (
            "The DR region's key is created in another stack and addressed by alias; the condition "
            "kms:ResourceAliases narrows the key/* pattern to that one alias."
        )
        acknowledge_all(
            policy,
            [
                *((f"AwsSolutions::AwsSolutions-IAM5[{f}]", reasons.get(f, dr_key_reason)) for f in findings),
                (
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id(self.bucket)}.Arn>/{self.cluster_name}/*]",
                    f"Backups are objects under {self.cluster_name}/<namespace>/<backup-id>/ whose ids are times; "
                    "the wildcard is limited to this cluster's prefix in this one bucket.",
                ),
            ],
        )

    def _access_entries(self, drill_namespace: str | None) -> None:
        partition = Stack.of(self).partition

        def policy_arn(name: str) -> str:
            return f"arn:{partition}:eks::aws:cluster-access-policy/{name}"

        def scoped(name: str, namespaces: list[str]) -> eks.CfnAccessEntry.AccessPolicyProperty:
            return eks.CfnAccessEntry.AccessPolicyProperty(
                policy_arn=policy_arn(name),
                access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="namespace", namespaces=namespaces),
            )

        self.export_access_entry = eks.CfnAccessEntry(
            self,
            "ExportAccess",
            cluster_name=self.cluster_name,
            principal_arn=self.export_role.role_arn,
            type="STANDARD",
            # View does not read Secrets; SecretReader adds exactly that.
            access_policies=[
                scoped("AmazonEKSViewPolicy", self.namespaces),
                scoped("AmazonEKSSecretReaderPolicy", self.namespaces),
            ],
        )
        restore_namespaces = [*self.namespaces, *([drill_namespace] if drill_namespace else [])]
        self.restore_access_entry = eks.CfnAccessEntry(
            self,
            "RestoreAccess",
            cluster_name=self.cluster_name,
            principal_arn=self.restore_role.role_arn,
            type="STANDARD",
            access_policies=[scoped("AmazonEKSEditPolicy", restore_namespaces)],
        )

    def _replicate(self, names: ConfigBackupNames) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self, "ReplicationRole", assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description=f"Replicates {self.cluster_name}'s configuration backups to {names.dr_region}",
        )  # fmt: skip
        replica_arn = f"arn:{stack.partition}:s3:::{names.replica_bucket}"
        key_pattern, key_condition = names.dr_keys_by_alias(self, names.replica_key_alias)
        policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadSourceConfiguration",
                    actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    resources=[self.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="ReadSourceVersions",
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                        "s3:GetObjectRetention",
                        "s3:GetObjectLegalHold",
                    ],
                    resources=[self.bucket.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="WriteReplicas",
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[f"{replica_arn}/*"],
                ),
                key_use_through(
                    "s3", stack, sid="DecryptSource", actions=["kms:Decrypt"], key_arn=self.data_key.key_arn
                ),
                iam.PolicyStatement(
                    sid="EncryptReplicas", actions=["kms:Encrypt"], resources=[key_pattern], conditions=key_condition
                ),
            ],
        )
        reason = (
            "Replication reads and writes every object version of exactly these two buckets, and encrypts "
            "with the DR key found by its alias (kms:ResourceAliases condition)."
        )
        findings = (
            f"Resource::<{logical_id(self.bucket)}.Arn>/*",
            f"Resource::arn:{nag_partition(stack)}:s3:::{names.replica_bucket}/*",
            f"Resource::arn:{nag_partition(stack)}:kms:{names.dr_region}:{stack.account}:key/*",
        )
        acknowledge_all(policy, [(f"AwsSolutions::AwsSolutions-IAM5[{f}]", reason) for f in findings])
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=role.role_arn,
            rules=[
                s3.CfnBucket.ReplicationRuleProperty(
                    id=S3_REPLICATION_RULE_ID,
                    status="Enabled",
                    priority=1,
                    filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
                    delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(status="Disabled"),
                    source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                        sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(status="Enabled")
                    ),
                    destination=s3.CfnBucket.ReplicationDestinationProperty(
                        bucket=replica_arn,
                        encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                            replica_kms_key_id=names.dr_alias_arn(self, names.replica_key_alias)
                        ),
                        # Replication Time Control: 99.99 % of objects within 15 minutes, with the
                        # replication metrics (latency in the DR region, failures here) it needs.
                        replication_time=s3.CfnBucket.ReplicationTimeProperty(
                            status="Enabled",
                            time=s3.CfnBucket.ReplicationTimeValueProperty(minutes=S3_REPLICATION_TIME_MINUTES),
                        ),
                        metrics=s3.CfnBucket.MetricsProperty(
                            status="Enabled",
                            event_threshold=s3.CfnBucket.ReplicationTimeValueProperty(
                                minutes=S3_REPLICATION_TIME_MINUTES
                            ),
                        ),
                    ),
                )
            ],
        )
        return role


def _validate(
    cluster_name: str,
    namespaces: Sequence[str],
    restart_deployments: Sequence[str],
    drill_namespace: str | None,
    git_mirror_url: str | None,
    git_mirror_secret: secretsmanager.ISecret | None,
) -> None:
    if not re.match(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$", cluster_name or ""):
        raise PolicyError(f"cluster_name: got {cluster_name!r}; EKS cluster names are 1-100 letters, digits, - or _")
    if not namespaces:
        raise PolicyError("namespaces: got []; name at least one namespace to back up")
    for name in [*namespaces, *([drill_namespace] if drill_namespace else [])]:
        if not _K8S_NAME.match(name):
            raise PolicyError(f"namespaces: got {name!r}; Kubernetes namespace names are DNS labels (a-z, 0-9, -)")
    if drill_namespace in namespaces:
        raise PolicyError(f"drill_namespace: got {drill_namespace!r}; it must differ from the backed-up namespaces")
    for deployment in restart_deployments:
        name = deployment.removeprefix("deployment/")
        if not re.match(r"^([a-z0-9-]+/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", name):
            raise PolicyError(f"restart_deployments: got {deployment!r}; expected NAME or NAMESPACE/NAME")
    if (git_mirror_url is None) != (git_mirror_secret is None):
        raise PolicyError("git_mirror_url, git_mirror_secret: set both to mirror backups into git, or neither")
    if git_mirror_url is not None and not git_mirror_url.startswith("https://"):
        raise PolicyError(f"git_mirror_url: got {git_mirror_url!r}; expected an https:// remote")
