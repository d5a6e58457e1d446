"""One environment's stacks: data (VPC, PostgreSQL, log groups), backup (vault, plan) and, where the
policy names a DR region, the DR vault stack in that region."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    App,
    ArnFormat,
    AspectPriority,
    Aspects,
    DefaultStackSynthesizer,
    Duration,
    Environment,
    Fn,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_organizations as organizations
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from backup_constructs.backup.isolation import BackupAccountVault
from backup_constructs.backup.strategy import (
    BackupStrategy,
    DisasterRecoveryVault,
    FailoverBackupPlan,
    backup_service_role,
)
from backup_constructs.config_backup import ConfigBackupNames, ConfigBackupReplica, KubernetesConfigBackup
from backup_constructs.config_backup.keys import DigestKeyReplica
from backup_constructs.core.alarms import (
    policy_alarm,
    replica_lag_alarm,
    replication_latency_alarm,
    vault_job_alarms,
)
from backup_constructs.core.keys import protect_keys, rotating_key
from backup_constructs.core.logs import explicit_lambda_log_groups, logs_key, policy_log_group
from backup_constructs.core.nag import acknowledge
from backup_constructs.database.enforce import EnforceBackupPolicy, database_instance_backup_props
from backup_constructs.database.heartbeat import DatabaseHeartbeat
from backup_constructs.database.replica import CrossRegionReadReplica
from backup_constructs.monitoring.alerts import AlertTopic, key_references
from backup_constructs.monitoring.construct import BackupMonitoring
from backup_constructs.monitoring.vault_metrics import DR_VAULT_METRICS
from backup_constructs.policy import BackupPolicy
from backup_constructs.policy.environments import EnvironmentConfig
from backup_constructs.policy.naming import (
    BOOTSTRAP_QUALIFIER_CONTEXT,
    alert_forwarder_role_name,
    backup_account_alert_topic_name,
    cdk_execution_role_arn,
    config_dead_letter_queue_name,
    heartbeat_function_name,
    isolated_restore_role_name,
    partition_for,
    rds_instance_arn,
    resource_prefix,
)
from backup_constructs.policy.rpo import S3_REPLICATION_TIME_MINUTES
from backup_constructs.policy.scp import backup_protection_scp, scp_json
from backup_constructs.restore_testing import DisasterRecoveryDrill, RestoreTesting
from backup_constructs.restore_testing.validation import POSTGRES_PORT

DR_REGION_ALERTS = (
    "BackupJobFailed",
    "CopyJobFailed",
    "RestoreJobFailed",
    "RestoreValidationFailed",
    "DrillFailed",
    "KeyDeletionAttempt",
    # Every attempt to weaken the DR vault, the replica bucket or these rules is alerted here too.
    "VaultTamperAttempt",
    "PlanTamperAttempt",
    "BucketTamperAttempt",
    "TrailTamperAttempt",
    "AlertRuleTamperAttempt",
    "AlertTargetRemovalAttempt",
    "BackupReplicationStopAttempt",
    "DatabaseDeletionAttempt",
    "SopsGrantAttempt",
)
# What the backup account alerts on: attempts on its vault, its keys, its trail and these rules.
BACKUP_ACCOUNT_ALERTS = (
    "KeyDeletionAttempt",
    "VaultTamperAttempt",
    "TrailTamperAttempt",
    "AlertRuleTamperAttempt",
    "AlertTargetRemovalAttempt",
)
POSTGRES_VERSION = rds.PostgresEngineVersion.VER_17_6
MASTER_USERNAME = "ecommerce_admin"
DATABASE_INSTANCE_CLASS = ec2.InstanceType.of(ec2.InstanceClass.M7G, ec2.InstanceSize.LARGE)
RDS_LOG_EXPORTS = ("postgresql", "upgrade")


@jsii.implements(ec2.IConnectable)
class _Connectable:
    """Connections of a target whose port is known at synth (CDK's database target uses a deploy-time port)."""

    def __init__(self, connections: ec2.Connections) -> None:
        self._connections = connections

    @property
    def connections(self) -> ec2.Connections:
        return self._connections


class ZonesWithoutLookupStack(Stack):
    """A stack whose availability zones resolve at deploy time, so synth makes no context lookup."""

    @property
    def availability_zones(self) -> list[str]:
        """The region's first two zones (Fn::GetAZs): no AWS credentials needed to synthesize, and
        no zone name hard-coded in the template."""
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def database_identifier(config: EnvironmentConfig) -> str:
    return config.database_identifier


def share_key_with_backup_account(key: kms.Key, account: str) -> None:
    """Let the backup account use ``key`` for the isolated copies: an RDS snapshot stays encrypted with the
    instance's key, and AWS Backup copies it across accounts (re-encrypting it with the destination vault's
    key) only when the destination account may use the source key. An AWS managed key cannot be shared."""
    principal = iam.AccountPrincipal(account)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="BackupAccountCopiesSnapshots",
            principals=[principal],
            actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            resources=["*"],  # in a key policy "*" is this key
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="BackupAccountGrantsToAwsServices",
            principals=[principal],
            actions=["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            resources=["*"],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )


def isolated_vpc(scope: Construct, *, policy: BackupPolicy) -> ec2.Vpc:
    """Two zones of isolated subnets (no internet route), flow logs to an encrypted log group, and
    the default security group closed."""
    vpc = ec2.Vpc(
        scope,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
        ],
        restrict_default_security_group=True,
    )
    flow_log_group = policy_log_group(scope, "FlowLogGroup", policy=policy)
    # A customer-managed policy instead of the inline one CDK would add to the flow-log role.
    flow_log_role = iam.Role(scope, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
    iam.ManagedPolicy(
        scope,
        "FlowLogWrite",
        roles=[flow_log_role],
        statements=[
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[flow_log_group.log_group_arn],
            )
        ],
    )
    vpc.add_flow_log(
        "FlowLog",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group, flow_log_role.without_policy_updates()),
    )
    return vpc


class DataStack(ZonesWithoutLookupStack):
    """The e-commerce PostgreSQL database (the reference data store) with the policy applied, its
    VPC, and the application's log groups."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        policy = config.policy
        self.vpc = isolated_vpc(self, policy=policy)
        self.db_security_group = ec2.SecurityGroup(
            self, "DatabaseSecurityGroup", vpc=self.vpc, description="E-commerce database", allow_all_outbound=False
        )
        identifier = database_identifier(config)
        self.db_instance_identifier = identifier
        db_log_groups = [
            policy_log_group(
                self, f"DatabaseLog-{kind}", policy=policy, log_group_name=f"/aws/rds/instance/{identifier}/{kind}"
            )
            for kind in RDS_LOG_EXPORTS
        ]
        self.db_kms_key = rotating_key(
            self,
            "DatabaseKey",
            description=f"Encrypts the {identifier} database storage and its master secret",
        )
        if config.backup_account is not None:
            share_key_with_backup_account(self.db_kms_key, config.backup_account.account)
        self.db_instance = rds.DatabaseInstance(
            self,
            "Database",
            instance_identifier=identifier,
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            instance_type=DATABASE_INSTANCE_CLASS,
            port=POSTGRES_PORT,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.db_security_group],
            # A secret of the stack's own, not the RDS-managed one: RDS refuses read replicas of a
            # source whose master password it manages, and the DR region needs the credentials.
            credentials=rds.Credentials.from_generated_secret(
                MASTER_USERNAME,
                encryption_key=self.db_kms_key,
                secret_name=config.database_secret_name,
                replica_regions=(
                    [
                        secretsmanager.ReplicaRegion(
                            region=config.dr_region,
                            encryption_key=kms.Key.from_key_arn(
                                self,
                                "DrDatabaseKey",
                                f"arn:{self.partition}:kms:{config.dr_region}:{self.account}:"
                                f"{config.dr_database_key_alias}",
                            ),
                        )
                    ]
                    if config.dr_region
                    else None
                ),
            ),
            storage_encryption_key=self.db_kms_key,
            allocated_storage=100,
            max_allocated_storage=500,
            iam_authentication=True,
            cloudwatch_logs_exports=list(RDS_LOG_EXPORTS),
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
            removal_policy=RemovalPolicy.SNAPSHOT,
            **database_instance_backup_props(policy),
        )
        # The plan selects by the policy's tag. Set on the resource itself, not by a Tags aspect, so the
        # EnforceBackupPolicy aspect finds it there (the order of aspects of one priority is not given).
        database_resource = self.db_instance.node.default_child
        assert isinstance(database_resource, rds.CfnDBInstance)
        database_resource.tags.set_tag(policy.selection_tag.key, policy.selection_tag.value, 200)
        for group in db_log_groups:
            self.db_instance.node.add_dependency(group)
        cfn_db = self.db_instance.node.default_child
        assert isinstance(cfn_db, rds.CfnDBInstance)
        # Explicit, so an instance deployed with an RDS-managed password is moved to the stack's secret.
        cfn_db.manage_master_user_password = False
        assert self.db_instance.secret is not None
        self.db_secret = self.db_instance.secret
        tag = policy.selection_tag
        Tags.of(self.db_instance).add(tag.key, tag.value)
        acknowledge(
            self.db_instance,
            "AwsSolutions::AwsSolutions-RDS11",
            "Clients use the PostgreSQL default port; a non-default port hides nothing from a scanner "
            "inside the VPC, and access is limited by the security group with no ingress by default.",
        )
        self.restore_testing = RestoreTesting(
            self,
            "RestoreTesting",
            policy=policy,
            vault=backup.BackupVault.from_backup_vault_arn(
                self,
                "Vault",
                self.format_arn(
                    service="backup",
                    resource="backup-vault",
                    resource_name=policy.backup_vault_name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                ),
            ),
            database=self.db_instance,
            # No database_secret: the validator signs in with IAM authentication only and cannot read
            # the master secret (restored copies keep the backup_validator user and IAM auth is on).
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )
        # Rotation (single user) by the Secrets Manager rotation function for PostgreSQL, in the
        # isolated subnets: it reaches Secrets Manager through the VPC endpoint (private DNS) and
        # the database on its fixed port.
        endpoint = self.restore_testing.validation.endpoints.get("secretsmanager")
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=self.vpc,
            description="Master secret rotation: the database and Secrets Manager only",
            allow_all_outbound=False,
        )
        self.rotation_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "Secrets Manager through the VPC endpoint"
        )
        self.rotation = secretsmanager.SecretRotation(
            self,
            "DatabaseRotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=self.db_secret,
            target=_Connectable(
                ec2.Connections(security_groups=[self.db_security_group], default_port=ec2.Port.tcp(POSTGRES_PORT))
            ),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            endpoint=endpoint,
            security_group=self.rotation_security_group,
            automatically_after=Duration.days(30),
        )
        endpoint_group = self.restore_testing.validation.endpoint_security_group
        if endpoint_group is not None:
            endpoint_group.add_ingress_rule(
                self.rotation_security_group, ec2.Port.tcp(443), "secret rotation to Secrets Manager"
            )
        self.heartbeat = DatabaseHeartbeat(
            self,
            "Heartbeat",
            policy=policy,
            instance=self.db_instance,
            database_security_group=self.db_security_group,
            database_name=config.database_name,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            port=POSTGRES_PORT,
            function_name=heartbeat_function_name(policy),
        )
        self.application_log_groups = [
            policy_log_group(self, f"AppLog{i}", policy=policy, log_group_name=name)
            for i, name in enumerate(config.application_log_groups)
        ]
        logs_key(self)


class BackupStack(Stack):
    """The environment's AWS Backup vault, plan and selection."""

    def __init__(
        self, scope: Construct, id_: str, *, config: EnvironmentConfig, database_identifier: str, **kwargs: Any
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # By ARN rather than a cross-stack reference: the database also carries the selection tag,
        # and an export would pin the data stack to this one.
        database_arn = rds_instance_arn(self.partition, self.region, self.account, database_identifier)
        self.strategy = BackupStrategy(
            self,
            "Strategy",
            policy=config.policy,
            resources=[backup.BackupResource.from_arn(database_arn)],
            exempt_principal_arns=config.break_glass_role_arns,
            backup_account=config.backup_account.account if config.backup_account else None,
        )


class ConfigBackupStack(Stack):
    """Kubernetes ConfigMaps and Secrets exported on every deploy and on a schedule."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        k8s = config.kubernetes
        assert k8s is not None
        self.config_backup = KubernetesConfigBackup(
            self,
            "ConfigBackup",
            policy=config.policy,
            cluster_name=k8s.cluster_name,
            namespaces=k8s.namespaces,
            restart_deployments=k8s.restart_deployments,
            drill_namespace=k8s.drill_namespace,
            include_helm_releases=k8s.include_helm_releases,
            decrypt_principal_arns=config.break_glass_role_arns,
            break_glass_role_arns=config.break_glass_role_arns,
        )


class MonitoringStack(Stack):
    """Alerts, the live RPO exposure, the dashboard and the compliance evidence of one environment."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        sops_key_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        policy = config.policy
        identifier = database_identifier(config)
        k8s = config.kubernetes
        names = ConfigBackupNames.for_policy(self, policy)
        self.monitoring = BackupMonitoring(
            self,
            "Monitoring",
            policy=policy,
            database_identifiers=[identifier],
            protected_resource_arns=[rds_instance_arn(self.partition, config.region, config.account, identifier)],
            config_bucket_name=names.bucket(config.region) if k8s else None,
            config_replica_bucket_name=names.replica_bucket if k8s and config.dr_region else None,
            heartbeat_function=lambda_.Function.from_function_name(self, "Heartbeat", heartbeat_function_name(policy)),
            replica_identifier=config.replica_identifier if policy.wants_replica else None,
            config_cluster=k8s.cluster_name if k8s else None,
            config_namespaces=k8s.namespaces if k8s else (),
            config_export_function=(
                lambda_.Function.from_function_name(self, "ConfigExport", names.export_function) if k8s else None
            ),
            config_dead_letter_queue=(
                sqs.Queue.from_queue_arn(
                    self,
                    "ConfigDeadLetters",
                    self.format_arn(service="sqs", resource=config_dead_letter_queue_name(names.prefix)),
                )
                if k8s
                else None
            ),
            alert_emails=config.alert_emails,
            alert_https_endpoints=config.alert_https_endpoints,
            exempt_principal_arns=config.break_glass_role_arns,
            enable_config_recording=config.enable_config_recording,
            metric_archive=config.metric_archive,
            alert_forward_topic_arn=config.alert_cross_account_topic_arn,
            sops_key_ids=sops_key_ids,
        )


class DisasterRecoveryStack(ZonesWithoutLookupStack):
    """The DR region's side: the copy-target vault, the configuration backups' replica and the
    quarterly DR drill."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        self.dr_vault = DisasterRecoveryVault(
            self, "DrVault", policy=config.policy, exempt_principal_arns=config.break_glass_role_arns
        )
        # A promoted replica gets the policy's backups here (the failover tags it).
        self.failover_plan = (
            FailoverBackupPlan(self, "FailoverPlan", policy=config.policy, vault=self.dr_vault.backup_vault)
            if config.policy.region_loss is not None
            else None
        )
        # The replica's storage and the replicated master secret, by alias (the data stack names it).
        self.database_key = rotating_key(
            self,
            "DatabaseKey",
            alias=config.dr_database_key_alias,
            description=f"Encrypts the {config.database_identifier} read replica and master secret in the DR region",
        )
        k8s = config.kubernetes
        self.config_replica = (
            ConfigBackupReplica(
                self,
                "ConfigReplica",
                policy=config.policy,
                decrypt_principal_arns=config.break_glass_role_arns,
                break_glass_role_arns=config.break_glass_role_arns,
                source_cluster_name=k8s.cluster_name if k8s.dr_cluster_name else None,
                restore_cluster_name=k8s.dr_cluster_name,
                namespaces=k8s.namespaces if k8s.dr_cluster_name else (),
                drill_namespace=k8s.drill_namespace if k8s.dr_cluster_name else None,
                restart_deployments=k8s.restart_deployments,
            )
            if k8s
            else None
        )
        # The DR region alerts on its own, so drills and copies are reported even with the primary down.
        self.alerts = AlertTopic(
            self,
            "Alerts",
            policy=config.policy,
            emails=config.alert_emails,
            https_endpoints=config.alert_https_endpoints,
            rule_ids=DR_REGION_ALERTS,
            database_identifiers=[config.replica_identifier] if config.policy.wants_replica else (),
            sops_key_ids=(
                key_references(self.config_replica.sops_key, self.config_replica.names.sops_key_alias)
                if self.config_replica
                else ()
            ),
        )
        # Restores from the DR vault (the drill, a failover) run here, and so may the copy jobs' metrics.
        vault_alarms = Construct(self, "VaultAlarms")
        vault_job_alarms(
            config.policy.dr_backup_vault_name,
            DR_VAULT_METRICS,
            alarm=lambda id_, metric, **kwargs: policy_alarm(
                vault_alarms, id_, metric, environment=config.name, action=self.alerts.action, **kwargs
            ),
        )
        if self.config_replica is not None:
            # S3 publishes the replication latency in the destination bucket's region: here.
            names = self.config_replica.names
            replication_latency_alarm(
                names.bucket(config.region),
                names.replica_bucket,
                minutes=S3_REPLICATION_TIME_MINUTES,
                alarm=lambda id_, metric, **kwargs: policy_alarm(
                    vault_alarms, id_, metric, environment=config.name, action=self.alerts.action, **kwargs
                ),
            )
        self.vpc: ec2.Vpc | None = None
        if config.policy.restore_testing.drill_schedule or config.policy.wants_replica:
            self.vpc = isolated_vpc(self, policy=config.policy)
        self.drill: DisasterRecoveryDrill | None = None
        if config.policy.restore_testing.drill_schedule:
            assert self.vpc is not None
            # The drill's own restore function: it can write the drill namespace and nothing else.
            dr_restore = self.config_replica.drill_restore_function if self.config_replica else None
            primary_db = rds_instance_arn(self.partition, config.region, config.account, database_identifier(config))
            self.drill = DisasterRecoveryDrill(
                self,
                "Drill",
                policy=config.policy,
                source_database_arn=primary_db,
                vpc=self.vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                # The configuration part restores into the DR cluster with the DR region's function.
                config_restore_function_arn=dr_restore.function_arn if dr_restore else None,
                source_namespace=k8s.namespaces[0] if dr_restore and k8s else None,
                drill_namespace=k8s.drill_namespace if dr_restore and k8s else None,
                alert_topic=self.alerts.topic,
                replica_identifier=config.replica_identifier if config.policy.wants_replica else None,
                replica_key_arn=self.database_key.key_arn if config.policy.wants_replica else None,
            )


class DisasterRecoveryReplicaStack(ZonesWithoutLookupStack):
    """The DR region's live copies, deployed after the primary's stacks they copy: the database's
    cross-Region read replica (with its lag alarm) and the replica of the configuration backups'
    multi-Region digest key."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        base: DisasterRecoveryStack,
        digest_primary_key: kms.IKey | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        policy = config.policy
        self.replica: CrossRegionReadReplica | None = None
        if policy.wants_replica:
            assert base.vpc is not None and policy.region_loss is not None
            self.replica = CrossRegionReadReplica(
                self,
                "Replica",
                policy=policy,
                source_instance_arn=config.database_arn(),
                source_region=config.region,
                instance_identifier=config.replica_identifier,
                instance_class=f"db.{DATABASE_INSTANCE_CLASS.to_string()}",
                vpc=base.vpc,
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                kms_key=base.database_key,
                port=POSTGRES_PORT,
                log_exports=RDS_LOG_EXPORTS,
            )
            Tags.of(self.replica).add(policy.selection_tag.key, f"{policy.selection_tag.value}-dr-replica")
            rpo = policy.region_loss.rpo_target_minutes or policy.rpo_target_minutes
            alarms = Construct(self, "Alarms")
            replica_lag_alarm(
                config.replica_identifier,
                rpo_minutes=rpo,
                alarm=lambda id_, metric, **kwargs: policy_alarm(
                    alarms, id_, metric, environment=config.name, action=base.alerts.action, **kwargs
                ),
            )
        self.digest_key: DigestKeyReplica | None = None
        if digest_primary_key is not None and config.kubernetes is not None:
            names = ConfigBackupNames.for_policy(self, policy)
            role_arns = [
                names.role_arn(self, names.export_role),
                names.role_arn(self, names.restore_role),
                *([names.role_arn(self, names.dr_restore_role)] if config.kubernetes.dr_cluster_name else []),
                *(
                    [names.role_arn(self, names.drill_restore_role)]
                    if config.kubernetes.dr_cluster_name and config.kubernetes.drill_namespace
                    else []
                ),
                *config.break_glass_role_arns,
            ]
            self.digest_key = DigestKeyReplica(
                self,
                "DigestKey",
                primary_key_arn=digest_primary_key.key_arn,
                alias=names.region_digest_key_alias,
                role_arns=role_arns,
            )


class BackupAccountStack(Stack):
    """The backup account's side, deployed with that account's own credentials and never by the workload's
    pipeline: the compliance-locked vault that receives the isolated copies (from the workload account
    only), its key, and alerts of its own — which the workload's alert rules also deliver to."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        assert config.backup_account is not None
        policy = config.policy
        self.vault = BackupAccountVault(
            self,
            "IsolatedVault",
            policy=policy,
            workload_accounts=[config.account],
            exempt_principal_arns=config.backup_account.break_glass_role_arns,
        )
        # Named, so that `backupctl db restore --from-backup-account` passes it to the restore job.
        self.restore_role = backup_service_role(
            self,
            "RestoreRole",
            role_name=isolated_restore_role_name(policy),
            description=f"AWS Backup restores the {config.name} isolated copies in the backup account",
        )
        forwarder = f"arn:{self.partition}:iam::{config.account}:role/{alert_forwarder_role_name(policy)}"
        self.alerts = AlertTopic(
            self,
            "Alerts",
            policy=policy,
            emails=config.alert_emails,
            https_endpoints=config.alert_https_endpoints,
            rule_ids=BACKUP_ACCOUNT_ALERTS,
            topic_name=backup_account_alert_topic_name(policy),
            publisher_role_arns=[forwarder] if config.alert_cross_account_topic_arn else (),
            vault_names=[self.vault.vault_name],
        )


class OrganizationPolicyStack(Stack):
    """Optional, for the organization's management account: the environment's service control policy
    (:mod:`backup_constructs.policy.scp`) attached to the configured accounts or OUs. Deployed with the
    management account's credentials (``make deploy-organization ENV=...``), never by the workload's
    pipeline; the same document is written next to the templates for organizations managed otherwise."""

    def __init__(self, scope: Construct, id_: str, *, config: EnvironmentConfig, document: str, **kwargs: Any) -> None:
        super().__init__(scope, id_, **kwargs)
        assert config.organization is not None
        self.policy = organizations.CfnPolicy(
            self,
            "BackupProtection",
            name=f"{resource_prefix(config.policy)}-backup-protection",
            description=f"{config.name}: nobody but the break-glass and deploy roles weakens the backups",
            type="SERVICE_CONTROL_POLICY",
            content=json.loads(document),
            target_ids=list(config.organization.target_ids),
        )


# What each deployment of an environment covers, by whose credentials it is deployed (``-c stacks=...``).
STACK_GROUPS = ("workload", "backup-account", "organization")


def organizations_region(partition: str) -> str:
    """Where AWS Organizations resources are managed in a partition (its API endpoint's region)."""
    return {"aws-cn": "cn-northwest-1", "aws-us-gov": "us-gov-west-1"}.get(partition, "us-east-1")


def scp_exempt_principals(app: App, config: EnvironmentConfig) -> list[str]:
    """Who keeps the rights the SCP denies: the break-glass roles and the exact execution roles that
    deploy the workload's stacks (the CDK bootstrap's, one per region; the same ARN the stacks'
    synthesizer names, whether or not this synth builds them)."""
    qualifier = app.node.try_get_context(BOOTSTRAP_QUALIFIER_CONTEXT) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    partition = partition_for(config.region)
    regions = [config.region, *([config.dr_region] if config.dr_region else [])]
    deployers = [cdk_execution_role_arn(partition, config.account, region, qualifier) for region in regions]
    return [*config.break_glass_role_arns, *deployers]


def build_environment(app: App, config: EnvironmentConfig, *, groups: Sequence[str] = STACK_GROUPS) -> list[Stack]:
    """Every stack of one environment (of ``groups``: the workload account's, the backup account's, the
    management account's), with the backup policy enforced on all of them."""
    stacks = _workload_stacks(app, config) if "workload" in groups else []
    if config.backup_account is not None and "backup-account" in groups:
        stacks.append(
            BackupAccountStack(
                app,
                config.stack_name("backup-account"),
                config=config,
                env=Environment(account=config.backup_account.account, region=config.region),
                description=f"{config.name}: isolated, compliance-locked copies in the backup account",
                termination_protection=config.termination_protection,
                tags={"environment": config.name},
            )
        )
    for stack in stacks:
        explicit_lambda_log_groups(stack, policy=config.policy)
        exempt = (
            config.backup_account.break_glass_role_arns
            if isinstance(stack, BackupAccountStack) and config.backup_account
            else config.break_glass_role_arns
        )
        protect_keys(stack, exempt_principal_arns=exempt, environment=config.name)
        Aspects.of(stack).add(EnforceBackupPolicy(config.policy), priority=AspectPriority.MUTATING)
        Tags.of(stack).add("environment", config.name)
    if config.organization is not None and "organization" in groups:
        partition = partition_for(config.region)
        document = scp_json(
            backup_protection_scp(
                config.policy, partition=partition, exempt_principal_arns=scp_exempt_principals(app, config)
            )
        )
        write_artifact(app, f"{config.name}-backup-protection-scp.json", document)
        stacks.append(
            OrganizationPolicyStack(
                app,
                config.stack_name("organization"),
                config=config,
                document=document,
                env=Environment(account=config.organization.management_account, region=organizations_region(partition)),
                description=f"{config.name}: service control policy protecting the backups (management account)",
                termination_protection=config.termination_protection,
                tags={"environment": config.name},
            )
        )
    return stacks


def write_artifact(app: App, name: str, text: str) -> None:
    """A file next to the templates in the cloud assembly (read by ``backupctl summary``)."""
    path = Path(app.outdir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def _workload_stacks(app: App, config: EnvironmentConfig) -> list[Stack]:
    """The workload account's stacks (primary and DR region)."""
    # Stack tags explicitly (CloudFormation also applies them to what it creates); resource tags below.
    common: dict[str, Any] = {
        "termination_protection": config.termination_protection,
        "tags": {"environment": config.name},
    }
    primary = Environment(account=config.account, region=config.region)
    stacks: list[Stack] = []
    dr_stack: Stack | None = None
    if config.dr_region:
        dr_stack = DisasterRecoveryStack(
            app,
            config.stack_name("backup-dr"),
            config=config,
            env=Environment(account=config.account, region=config.dr_region),
            description=f"{config.name}: backup copy vault in the DR region {config.dr_region}",
            **common,
        )
        stacks.append(dr_stack)
    data = DataStack(
        app,
        config.stack_name("data"),
        config=config,
        env=primary,
        description=f"{config.name}: e-commerce database and log groups under the backup policy",
        **common,
    )
    if dr_stack is not None:
        data.add_stack_dependency(dr_stack, "the master secret replicates with the DR region's database key")
    backup_stack = BackupStack(
        app,
        config.stack_name("backup"),
        config=config,
        database_identifier=data.db_instance_identifier,
        env=primary,
        description=f"{config.name}: AWS Backup vault, plan and selection",
        **common,
    )
    if dr_stack is not None:
        backup_stack.add_stack_dependency(dr_stack, "copies go to the DR vault, which must exist first")
    stacks += [data, backup_stack]
    config_stack: ConfigBackupStack | None = None
    if config.kubernetes:
        config_stack = ConfigBackupStack(
            app,
            config.stack_name("config-backup"),
            config=config,
            env=primary,
            description=f"{config.name}: Kubernetes ConfigMaps and Secrets backup and restore",
            # The DR replica stack reads the multi-Region digest key's ARN from here.
            cross_region_references=dr_stack is not None,
            **common,
        )
        if dr_stack is not None:
            config_stack.add_stack_dependency(dr_stack, "replication and the DR SOPS key live in the DR stack")
        stacks.append(config_stack)
    if isinstance(dr_stack, DisasterRecoveryStack):
        digest_key = config_stack.config_backup.region_digest_key if config_stack is not None else None
        replica_stack = DisasterRecoveryReplicaStack(
            app,
            config.stack_name("dr-replica"),
            config=config,
            base=dr_stack,
            digest_primary_key=digest_key,
            env=Environment(account=config.account, region=config.dr_region),
            description=f"{config.name}: read replica and digest key replica in the DR region {config.dr_region}",
            cross_region_references=digest_key is not None,
            **common,
        )
        replica_stack.add_stack_dependency(data, "the replica's source database must exist")
        if config_stack is not None:
            replica_stack.add_stack_dependency(config_stack, "the digest key's primary must exist")
        stacks.append(replica_stack)
    stacks.append(
        MonitoringStack(
            app,
            config.stack_name("monitoring"),
            config=config,
            sops_key_ids=(
                key_references(config_stack.config_backup.sops_key, config_stack.config_backup.names.sops_key_alias)
                if config_stack is not None
                else ()
            ),
            env=primary,
            description=f"{config.name}: backup alerts, live RPO exposure, dashboard and audit evidence",
            **common,
        )
    )
    return stacks
