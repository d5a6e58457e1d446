"""Database props helpers and the EnforceBackupPolicy aspect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import AspectPriority, Aspects, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk.assertions import Annotations, Match, Template

from backup_constructs import (
    BackupPolicy,
    EnforceBackupPolicy,
    database_cluster_backup_props,
    database_instance_backup_props,
)

StackFactory = Callable[..., Stack]
PRODUCTION = BackupPolicy.production()
STAGING = BackupPolicy.staging()


def enforce(stack: Stack, policy: BackupPolicy = STAGING) -> tuple[Template, Annotations]:
    Aspects.of(stack).add(EnforceBackupPolicy(policy), priority=AspectPriority.MUTATING)
    return Template.from_stack(stack), Annotations.from_stack(stack)


def cfn_instance(stack: Stack, id_: str = "Db", **props: Any) -> rds.CfnDBInstance:
    base: dict[str, Any] = {"engine": "postgres", "db_instance_class": "db.t4g.micro", "storage_encrypted": True}
    return rds.CfnDBInstance(stack, id_, **{**base, **props})


def test_instance_props_carry_the_policy(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0)
    rds.DatabaseInstance(
        stack,
        "Db",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        **database_instance_backup_props(STAGING),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "BackupRetentionPeriod": 30,
            "PreferredBackupWindow": "02:00-04:00",
            "PreferredMaintenanceWindow": "sun:04:30-sun:05:30",
            "MultiAZ": True,
            "DeletionProtection": True,
            "StorageEncrypted": True,
            "CopyTagsToSnapshot": True,
            "DeleteAutomatedBackups": False,
        },
    )


def test_instance_props_under_continuous_backup_use_the_pitr_retention() -> None:
    assert database_instance_backup_props(PRODUCTION)["backup_retention"].to_days() == 7


def test_cluster_props_carry_the_policy(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0)
    rds.DatabaseCluster(
        stack,
        "Cluster",
        engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_4),
        writer=rds.ClusterInstance.serverless_v2("writer"),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        **database_cluster_backup_props(STAGING),
    )
    Template.from_stack(stack).has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "BackupRetentionPeriod": 30,
            "PreferredBackupWindow": "02:00-04:00",
            "DeletionProtection": True,
            "StorageEncrypted": True,
            "CopyTagsToSnapshot": True,
        },
    )


def test_aspect_fills_unset_instance_settings_and_warns_naming_resource_and_values(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cfn_instance(stack)
    template, annotations = enforce(stack)
    template.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "BackupRetentionPeriod": 30,
            "PreferredBackupWindow": "02:00-04:00",
            "MultiAZ": True,
            "DeletionProtection": True,
            "CopyTagsToSnapshot": True,
            "DeleteAutomatedBackups": False,
        },
    )
    annotations.has_warning(
        "/TestStack/Db", Match.string_like_regexp("TestStack/Db: backup_retention_period changed from None to 30")
    )


def test_aspect_raises_a_weaker_retention(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cfn_instance(stack, backup_retention_period=3)
    template, annotations = enforce(stack)
    template.has_resource_properties("AWS::RDS::DBInstance", {"BackupRetentionPeriod": 30})
    annotations.has_warning("/TestStack/Db", Match.string_like_regexp("changed from 3 to 30"))


def test_aspect_never_weakens_a_stronger_retention(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cfn_instance(stack, backup_retention_period=35)
    template, annotations = enforce(stack)
    template.has_resource_properties("AWS::RDS::DBInstance", {"BackupRetentionPeriod": 35})
    annotations.has_no_warning("/TestStack/Db", Match.string_like_regexp("backup_retention_period"))


def test_aspect_leaves_read_replicas_and_aurora_members_alone(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cfn_instance(stack, "Replica", source_db_instance_identifier="ecommerce-production", storage_encrypted=None)
    cfn_instance(stack, "Member", engine="aurora-postgresql", db_cluster_identifier="c", storage_encrypted=None)
    template, annotations = enforce(stack)
    for props in template.find_resources("AWS::RDS::DBInstance").values():
        assert "BackupRetentionPeriod" not in props["Properties"]
    annotations.has_no_error("*", Match.any_value())


def test_aspect_reports_unencrypted_storage_as_an_error_it_cannot_fix(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    cfn_instance(stack, storage_encrypted=False)
    _, annotations = enforce(stack)
    annotations.has_error(
        "/TestStack/Db", Match.string_like_regexp("storage_encrypted is False.*replaces the database")
    )


def test_aspect_reports_unresolved_values_as_errors(fresh_stack: StackFactory) -> None:
    from aws_cdk import CfnParameter

    stack = fresh_stack()
    days = CfnParameter(stack, "Days", type="Number")
    cfn_instance(stack, backup_retention_period=days.value_as_number)
    _, annotations = enforce(stack)
    annotations.has_error("/TestStack/Db", Match.string_like_regexp("backup_retention_period is an unresolved value"))


def test_aspect_applies_cluster_settings(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    rds.CfnDBCluster(stack, "Cluster", engine="aurora-postgresql", backup_retention_period=1, storage_encrypted=True)
    template, _ = enforce(stack, PRODUCTION)
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {"BackupRetentionPeriod": 7, "PreferredBackupWindow": "02:00-04:00", "DeletionProtection": True},
    )


def _retentions(template: Template) -> dict[str, Any]:
    groups = template.find_resources("AWS::Logs::LogGroup")
    return {k.rstrip("0123456789ABCDEF"): v.get("Properties", {}).get("RetentionInDays") for k, v in groups.items()}


def test_aspect_raises_short_log_retention_and_never_shortens_a_longer_one(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    logs.LogGroup(stack, "Short", retention=logs.RetentionDays.ONE_WEEK)
    logs.LogGroup(stack, "Long", retention=logs.RetentionDays.TEN_YEARS)
    logs.LogGroup(stack, "CdkDefault")  # CDK's default: 731 days
    logs.CfnLogGroup(stack, "Unset")  # never expires
    template, annotations = enforce(stack)
    assert _retentions(template) == {"Short": 30, "Long": 3653, "CdkDefault": 731, "Unset": None}
    annotations.has_warning("/TestStack/Short/Resource", Match.string_like_regexp("changed from 7 to 30"))
    annotations.has_warning(
        "/TestStack/Long/Resource",
        Match.string_like_regexp("retention_in_days 3653 kept: longer than the staging backup policy's 30 days"),
    )
    annotations.has_warning("/TestStack/CdkDefault/Resource", Match.string_like_regexp("731 kept"))
    annotations.has_warning("/TestStack/Unset", Match.string_like_regexp("'never expire' kept"))


def test_an_exact_log_retention_shortens_and_says_history_will_be_deleted(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    logs.LogGroup(stack, "Short", retention=logs.RetentionDays.ONE_WEEK)
    logs.LogGroup(stack, "Audit")  # 731 days
    logs.CfnLogGroup(stack, "Unset")
    exact = BackupPolicy.from_context({"logRetention": {"mode": "exact"}}, base=STAGING)
    template, annotations = enforce(stack, exact)
    assert _retentions(template) == {"Short": 30, "Audit": 30, "Unset": 30}
    annotations.has_warning(
        "/TestStack/Audit/Resource",
        Match.string_like_regexp(
            "changed from 731 to 30 .*mode exact.*CloudWatch deletes every event older than 30 days"
        ),
    )
    annotations.has_warning("/TestStack/Unset", Match.string_like_regexp("from 'never expire' to 30"))
    annotations.has_warning("/TestStack/Short/Resource", Match.string_like_regexp("changed from 7 to 30"))


def test_aspect_changes_nothing_that_already_complies(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    logs.LogGroup(stack, "Ok", retention=logs.RetentionDays.ONE_MONTH)
    _, annotations = enforce(stack)
    annotations.has_no_warning("*", Match.any_value())


def test_a_replica_policy_refuses_an_rds_managed_master_password_naming_the_field(fresh_stack: StackFactory) -> None:
    import pytest

    from backup_constructs import PolicyError

    with pytest.raises(PolicyError, match=r"^manage_master_user_password: got True; .* allowed: a secret"):
        database_instance_backup_props(PRODUCTION, manage_master_user_password=True)
    assert database_instance_backup_props(STAGING, manage_master_user_password=True)["manage_master_user_password"]
    stack = fresh_stack()
    cfn_instance(stack, manage_master_user_password=True)
    _, annotations = enforce(stack, PRODUCTION)
    annotations.has_error("/TestStack/Db", Match.string_like_regexp("manage_master_user_password: got True"))


def test_an_adopters_dr_stack_gets_a_cross_region_replica_under_the_policy(fresh_stack: StackFactory) -> None:
    import pytest
    from aws_cdk import aws_kms as kms

    from backup_constructs import CrossRegionReadReplica, PolicyError

    stack = fresh_stack("us-west-2")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    replica = CrossRegionReadReplica(
        stack,
        "Replica",
        policy=PRODUCTION,
        source_instance_arn="arn:aws:rds:us-east-1:111111111111:db:shop",
        source_region="us-east-1",
        instance_identifier="shop-dr",
        instance_class="db.r7g.large",
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        kms_key=kms.Key(stack, "Key", enable_key_rotation=True),
    )
    template = Template.from_stack(stack)
    template.has_resource(
        "AWS::RDS::DBInstance",
        {
            "Properties": Match.object_like(
                {
                    "DBInstanceIdentifier": "shop-dr",
                    "SourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:111111111111:db:shop",
                    "SourceRegion": "us-east-1",
                    "MultiAZ": True,
                    "DeletionProtection": True,
                    "EnableIAMDatabaseAuthentication": True,
                    "PubliclyAccessible": False,
                    "KmsKeyId": Match.any_value(),
                    "StorageEncrypted": Match.absent(),  # CloudFormation refuses it on a read replica
                    "BackupRetentionPeriod": Match.absent(),
                }
            ),
            "DeletionPolicy": "Delete",  # what CloudFormation does with a replica anyway
        },
    )
    template.has_resource_properties(
        "AWS::Logs::LogGroup", {"LogGroupName": "/aws/rds/instance/shop-dr/postgresql", "RetentionInDays": 90}
    )
    assert replica.arn.endswith(":db:shop-dr")
    with pytest.raises(PolicyError, match=r"^source_region: got 'us-west-2'"):
        CrossRegionReadReplica(
            stack,
            "Same",
            policy=PRODUCTION,
            source_instance_arn="arn:aws:rds:us-west-2:111111111111:db:shop",
            source_region="us-west-2",
            instance_identifier="shop-dr2",
            instance_class="db.r7g.large",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            kms_key=kms.Key(stack, "Key2", enable_key_rotation=True),
        )
