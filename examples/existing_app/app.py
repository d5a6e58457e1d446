#!/usr/bin/env python3
"""An existing CDK app (a VPC, an orders database, a log group) adopting the backup strategy with
the library's public API: an Aspect for the settings, the plan, the config backup and monitoring."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

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

# What the app already had.
vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
orders = rds.DatabaseInstance(
    stack,
    "Orders",
    engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
    vpc=vpc,
    vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    storage_encrypted=True,
    backup_retention=cdk.Duration.days(1),
    instance_identifier="shop-orders",  # named, so the DR region's replica can address it
)
logs.LogGroup(stack, "Api", retention=logs.RetentionDays.ONE_WEEK)

# Adoption: ten lines.
policy = BackupPolicy.from_context({"drRegion": "eu-central-1", "logRetentionDays": 90})
cdk.Aspects.of(app).add(EnforceBackupPolicy(policy), priority=cdk.AspectPriority.MUTATING)
strategy = BackupStrategy(
    stack,
    "Backup",
    policy=policy,
    resources=[backup.BackupResource.from_rds_database_instance(orders)],
    backup_account="210987654321",  # the isolated copies' account (production's preset keeps one)
)
config = KubernetesConfigBackup(stack, "ConfigBackup", policy=policy, cluster_name="shop", namespaces=["orders"])
# Losing eu-west-1: the policy's region-loss RPO (15 min) needs a read replica in the DR region; hourly
# copies alone leave up to 2 h (`backupctl check` says so when the replica is missing).
dr = cdk.Stack(app, "ShopDr", env=cdk.Environment(account="123456789012", region="eu-central-1"))
dr_vpc = ec2.Vpc(dr, "Vpc", max_azs=2, nat_gateways=0)
CrossRegionReadReplica(
    dr,
    "OrdersReplica",
    policy=policy,
    source_instance_arn="arn:aws:rds:eu-west-1:123456789012:db:shop-orders",
    source_region="eu-west-1",
    instance_identifier="shop-orders-dr",
    instance_class="db.t4g.medium",
    vpc=dr_vpc,
    vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
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
