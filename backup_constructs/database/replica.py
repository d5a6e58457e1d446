"""A cross-Region read replica of an RDS for PostgreSQL instance, for the policy's region-loss RPO.

The L1 ``AWS::RDS::DBInstance``: CDK's ``DatabaseInstanceReadReplica`` sets ``StorageEncrypted`` (which
CloudFormation refuses next to ``SourceDBInstanceIdentifier``) and no ``SourceRegion``, so it cannot
make a cross-Region replica. The replica inherits engine, version, storage, database name and master
user from its source; it has no automated backups until it is promoted.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from backup_constructs.core.logs import policy_log_group
from backup_constructs.core.nag import acknowledge_all
from backup_constructs.policy import BackupPolicy, PolicyError

POSTGRES_LOG_EXPORTS = ("postgresql", "upgrade")


class CrossRegionReadReplica(Construct):
    """A read replica, in this stack's region, of a PostgreSQL instance in another region.

    Parameters
    ----------
    source_instance_arn, source_region:
        The source instance (it must not use an RDS-managed master password).
    instance_identifier, instance_class:
        The replica's identifier and class (``db.m7g.large``; default the source's class is not known
        here, so name it: a smaller replica may not keep up with the source's writes).
    vpc, vpc_subnets:
        The DR region's network (isolated subnets).
    kms_key:
        A key of this region for the replica's storage (a cross-Region replica of an encrypted
        source needs one).
    port:
        The source's port (the security group opens it to ``clients``).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        source_instance_arn: str,
        source_region: str,
        instance_identifier: str,
        instance_class: str,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection,
        kms_key: kms.IKey,
        port: int = 5432,
        log_exports: Sequence[str] = POSTGRES_LOG_EXPORTS,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        if source_region == stack.region:
            raise PolicyError(
                f"source_region: got {source_region!r}; a cross-Region replica lives in another region than its source"
            )
        if not instance_class.startswith("db."):
            raise PolicyError(f"instance_class: got {instance_class!r}; expected an RDS class like db.m7g.large")
        self.instance_identifier = instance_identifier
        self.port = port
        self.log_groups: list[logs.LogGroup] = [
            policy_log_group(
                self,
                f"Log-{kind}",
                policy=policy,
                log_group_name=f"/aws/rds/instance/{instance_identifier}/{kind}",
            )
            for kind in log_exports
        ]
        self.subnet_group = rds.SubnetGroup(
            self,
            "Subnets",
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            description=f"Subnets of the read replica {instance_identifier}",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Read replica {instance_identifier}",
            allow_all_outbound=False,
        )
        self.connections = ec2.Connections(security_groups=[self.security_group], default_port=ec2.Port.tcp(port))
        self.instance = rds.CfnDBInstance(
            self,
            "Instance",
            db_instance_identifier=instance_identifier,
            source_db_instance_identifier=source_instance_arn,
            source_region=source_region,
            db_instance_class=instance_class,
            kms_key_id=kms_key.key_arn,
            db_subnet_group_name=self.subnet_group.subnet_group_name,
            vpc_security_groups=[self.security_group.security_group_id],
            publicly_accessible=False,
            # As the policy has it for the source: a promoted replica is then Multi-AZ at once.
            multi_az=policy.database.multi_az,
            deletion_protection=True,
            enable_iam_database_authentication=True,
            enable_cloudwatch_logs_exports=list(log_exports),
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
        )
        # CloudFormation ignores deletion policies on read replicas (no final snapshot is possible):
        # say so instead of implying a snapshot. Deletion protection guards the replica.
        self.instance.apply_removal_policy(RemovalPolicy.DESTROY)
        for group in self.log_groups:
            self.instance.node.add_dependency(group)
        encrypted = (
            "Storage encryption is inherited from the encrypted source with the DR region's key (KmsKeyId); "
            "CloudFormation refuses StorageEncrypted on a read replica."
        )
        acknowledge_all(
            self.instance,
            [
                (
                    "AwsSolutions::AwsSolutions-RDS11",
                    "The replica serves the source's PostgreSQL port; access is limited by its security group.",
                ),
                ("AwsSolutions::AwsSolutions-RDS2", encrypted),
                ("PCI.DSS.321::PCI.DSS.321-RDSStorageEncrypted", encrypted),
            ],
        )

    @property
    def arn(self) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:rds:{stack.region}:{stack.account}:db:{self.instance_identifier}"
