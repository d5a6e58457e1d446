#!/usr/bin/env python3
"""An existing CDK app adopting the backup strategy with the library's public API: an Aspect that
protects every stateful resource it reaches and destroys nothing, the plan, the config backup, a read
replica in the DR region and monitoring."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3

from backup_constructs import (
    BackupMonitoring,
    BackupPolicy,
    BackupStrategy,
    CrossRegionReadReplica,
    EnforceBackupPolicy,
    KubernetesConfigBackup,
)

app = cdk.App(outdir=sys.argv[1] if len(sys.argv) > 1 else None)
stack = cdk.Stack(app, "ShopProduction", env=cdk.Environment(account="123456789012", region="eu-west-1"))

# What the app already had: weak backups, deletable databases, log groups kept for 7 days to forever.
vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
orders = rds.DatabaseInstance(
    stack,
    "Orders",
    engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
    vpc=vpc,
    vpc_subnets=isolated,
    storage_encrypted=True,
    backup_retention=cdk.Duration.days(1),
    multi_az=False,
    delete_automated_backups=True,
    removal_policy=cdk.RemovalPolicy.DESTROY,
    instance_identifier="shop-orders",  # named, so the DR region's replica can address it
)
rds.DatabaseCluster(
    stack,
    "Catalog",
    engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_16_4),
    writer=rds.ClusterInstance.serverless_v2("Writer"),
    vpc=vpc,
    vpc_subnets=isolated,
    storage_encrypted=True,
    backup=rds.BackupProps(retention=cdk.Duration.days(3)),
)
key = dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
dynamodb.Table(stack, "Carts", partition_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
sessions = dynamodb.Table(stack, "Sessions", partition_key=key, time_to_live_attribute="expiresAt")
s3.Bucket(stack, "Uploads", versioned=True, enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
s3.Bucket(stack, "Exports", enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL)
logs.LogGroup(stack, "Api", retention=logs.RetentionDays.ONE_WEEK)
logs.LogGroup(stack, "Audit")  # CDK's default: 731 days
logs.LogGroup(stack, "Billing", retention=logs.RetentionDays.FIVE_YEARS)
logs.LogGroup(stack, "Archive", retention=logs.RetentionDays.INFINITE)

# Adoption. The guide's 15-minute region-loss RPO holds for the orders database (its replica below);
# Aurora, DynamoDB and S3 reach the DR region by the hourly copies, so the app states 2 h explicitly.
policy = BackupPolicy.from_context(
    {
        "drRegion": "eu-central-1",
        "protectedResourceTypes": ["RDS", "Aurora", "DynamoDB", "S3"],
        "regionLoss": {"rpoTargetMinutes": 120},
    }
)
cdk.Aspects.of(app).add(EnforceBackupPolicy(policy), priority=cdk.AspectPriority.MUTATING)
EnforceBackupPolicy.exclude(sessions, "session cache: rebuilt at sign-in and expires in 24 h")
BackupStrategy(
    stack,
    "Backup",
    policy=policy,  # selects by the policy's tag, which the Aspect puts on every protected resource
    backup_account="210987654321",  # the isolated copies' account (production's preset keeps one)
)
config = KubernetesConfigBackup(stack, "ConfigBackup", policy=policy, cluster_name="shop", namespaces=["orders"])

# Losing eu-west-1: a read replica of the orders database in the DR region; hourly copies alone leave
# up to 2 h (`backupctl check` says so when the replica is missing).
dr = cdk.Stack(app, "ShopDr", env=cdk.Environment(account="123456789012", region="eu-central-1"))
CrossRegionReadReplica(
    dr,
    "OrdersReplica",
    policy=policy,
    source_instance_arn="arn:aws:rds:eu-west-1:123456789012:db:shop-orders",
    source_region="eu-west-1",
    instance_identifier="shop-orders-dr",
    instance_class="db.t4g.medium",
    vpc=ec2.Vpc(dr, "Vpc", max_azs=2, nat_gateways=0),
    vpc_subnets=isolated,
    kms_key=kms.Key(dr, "ReplicaKey", enable_key_rotation=True),
)
BackupMonitoring(
    stack,
    "Monitoring",
    policy=policy,
    database_identifiers=[orders.instance_identifier],
    config_export_function=config.export_function,
    alert_emails=["oncall@example.com"],
)

app.synth()
