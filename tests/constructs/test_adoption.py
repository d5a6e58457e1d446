"""Adoption that protects every stateful resource and destroys nothing: ``EnforceBackupPolicy`` on the
realistic adopter app of ``examples/existing_app`` (every value it sets, every value it leaves alone,
every warning), and on small apps for what it cannot fix (each an error naming the resource)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import AspectPriority, Aspects, RemovalPolicy, Stack, Tags
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from backup_constructs import BackupPolicy, EnforceBackupPolicy, PolicyError
from backup_constructs.policy.model import EXCLUDE_TAG_KEY
from backup_constructs.policy.rpo import achieved_rpo, policy_findings

TAG = {"Key": "backup-policy", "Value": "production"}


@pytest.fixture(scope="module")
def example(existing_app_assembly: Path) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The example's ShopProduction template by logical id without its hash, and every annotation."""
    template = json.loads((existing_app_assembly / "ShopProduction.template.json").read_text())
    resources = {k[:-8]: v for k, v in template["Resources"].items()}
    annotations = []
    for metadata in existing_app_assembly.glob("*.metadata.json"):
        for path, entries in json.loads(metadata.read_text()).items():
            for entry in entries:
                if entry["type"] in ("aws:cdk:warning", "aws:cdk:error", "aws:cdk:info"):
                    annotations.append((entry["type"].removeprefix("aws:cdk:"), path, str(entry["data"])))
    return resources, annotations


def _warned(annotations: list[tuple[str, str, str]], construct: str) -> list[str]:
    return [text.split(" [ack:")[0] for level, path, text in annotations if level == "warning" and construct in path]


def test_the_weak_database_is_raised_and_keeps_a_final_snapshot(example: Any) -> None:
    resources, annotations = example
    orders = resources["Orders"]
    props = orders["Properties"]
    assert props["BackupRetentionPeriod"] == 7 and props["MultiAZ"] is True
    assert props["DeleteAutomatedBackups"] is False and props["DeletionProtection"] is True
    assert props["PreferredBackupWindow"] == "02:00-04:00"
    assert orders["DeletionPolicy"] == orders["UpdateReplacePolicy"] == "Snapshot"
    assert TAG in props["Tags"]
    prefix = "ShopProduction/Orders/Resource: "
    suffix = " by the production backup policy"
    assert set(_warned(annotations, "/ShopProduction/Orders/")) == {
        f"{prefix}{change}{suffix}"
        for change in (
            "tag backup-policy changed from None to 'production'",
            "DeletionPolicy changed from 'Delete' to 'Snapshot'",
            "UpdateReplacePolicy changed from 'Delete' to 'Snapshot'",
            "backup_retention_period changed from 1 to 7",
            "preferred_backup_window changed from None to '02:00-04:00'",
            "preferred_maintenance_window changed from None to 'sun:04:30-sun:05:30'",
            "multi_az changed from False to True",
            "deletion_protection changed from None to True",
            "delete_automated_backups changed from True to False",
        )
    }


def test_the_aurora_cluster_is_protected_and_its_member_left_as_cloudformation_requires(example: Any) -> None:
    resources, annotations = example
    cluster = resources["Catalog"]
    assert cluster["Properties"]["BackupRetentionPeriod"] == 7 and cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == cluster["UpdateReplacePolicy"] == "Snapshot"
    assert TAG in cluster["Properties"]["Tags"]
    writer = resources["CatalogWriter"]
    assert writer["DeletionPolicy"] == "Delete"  # a cluster member cannot take a snapshot of its own
    assert TAG not in writer["Properties"].get("Tags", [])
    assert _warned(annotations, "/ShopProduction/Catalog/Writer") == []


def test_the_table_gets_point_in_time_recovery_and_is_kept(example: Any) -> None:
    resources, annotations = example
    carts = resources["Carts"]
    assert carts["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert carts["Properties"]["DeletionProtectionEnabled"] is True
    assert carts["DeletionPolicy"] == carts["UpdateReplacePolicy"] == "Retain"
    assert TAG in carts["Properties"]["Tags"]
    assert any("point_in_time_recovery_specification changed from None" in w for w in _warned(annotations, "Carts"))


def test_the_excluded_table_is_left_alone_with_its_reason(example: Any) -> None:
    resources, annotations = example
    sessions = resources["Sessions"]
    reason = "session cache: rebuilt at sign-in and expires in 24 h"
    assert sessions["Properties"]["Tags"] == [{"Key": EXCLUDE_TAG_KEY, "Value": reason}]
    assert "PointInTimeRecoverySpecification" not in sessions["Properties"]
    assert _warned(annotations, "Sessions") == []
    assert (
        "info",
        "/ShopProduction/Sessions/Resource",
        f"ShopProduction/Sessions/Resource: excluded from the production backup policy: {reason}",
    ) in annotations


def test_buckets_are_versioned_for_aws_backup_and_the_librarys_own_stores_are_excluded(example: Any) -> None:
    resources, annotations = example
    for name in ("Uploads", "Exports"):
        assert resources[name]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        assert TAG in resources[name]["Properties"]["Tags"]
    assert any("versioning_configuration changed from None to 'Enabled" in w for w in _warned(annotations, "Exports"))
    assert not any("versioning" in w for w in _warned(annotations, "Uploads"))  # already versioned
    own = {k: v for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket" and k not in ("Uploads", "Exports")}
    assert own and all(
        any(t["Key"] == EXCLUDE_TAG_KEY for t in v["Properties"]["Tags"]) and TAG not in v["Properties"]["Tags"]
        for v in own.values()
    )


def test_log_retention_is_raised_never_shortened(example: Any) -> None:
    resources, annotations = example
    names = ("Api", "Audit", "Billing", "Archive")
    retention = {k: resources[k].get("Properties", {}).get("RetentionInDays") for k in names}
    assert retention == {"Api": 90, "Audit": 731, "Billing": 1827, "Archive": None}
    assert _warned(annotations, "/Api/") == [
        "ShopProduction/Api/Resource: retention_in_days changed from 7 to 90 by the production backup policy"
    ]
    (audit,) = _warned(annotations, "/Audit/")
    assert audit.startswith("ShopProduction/Audit/Resource: retention_in_days 731 kept: longer than")


def test_the_example_synthesizes_without_errors(example: Any) -> None:
    _, annotations = example
    assert [a for a in annotations if a[0] == "error"] == []


# What it cannot fix ----------------------------------------------------------------------------------

ALL_TYPES = BackupPolicy.from_context(
    {
        "protectedResourceTypes": ["RDS", "Aurora", "DynamoDB", "S3", "EFS", "EBS"],
        "rpoTargetMinutes": 180,
        "regionLoss": {"rpoTargetMinutes": 180},
    }
)


def _enforce(stack: Stack, policy: BackupPolicy = ALL_TYPES) -> tuple[Template, Annotations]:
    Aspects.of(stack).add(EnforceBackupPolicy(policy), priority=AspectPriority.MUTATING)
    return Template.from_stack(stack), Annotations.from_stack(stack)


def test_unfixable_resources_are_errors_naming_them(fresh_stack: Any) -> None:
    stack = fresh_stack()
    dynamodb.Table.from_table_name(stack, "Imported", "orders")
    s3.CfnBucket(stack, "Suspended", versioning_configuration={"status": "Suspended"})
    status = s3.CfnBucket(stack, "Other", versioning_configuration={"status": "Enabled"}).attr_arn  # a token
    s3.CfnBucket(stack, "Token", versioning_configuration=s3.CfnBucket.VersioningConfigurationProperty(status=status))
    key = dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    dynamodb.TableV2(stack, "Global", partition_key=key)
    efs.CfnFileSystem(stack, "Plain")
    _, annotations = _enforce(stack)
    annotations.has_error("/TestStack/Imported", Match.string_like_regexp("DynamoDB resource imported by reference"))
    annotations.has_error("/TestStack/Suspended", Match.string_like_regexp("versioning is explicitly Suspended"))
    annotations.has_error("/TestStack/Token", Match.string_like_regexp("versioning_configuration is an unresolved"))
    annotations.has_error("/TestStack/Global/Resource", Match.string_like_regexp("renders its replicas lazily"))
    annotations.has_error(
        "/TestStack/Plain", Match.string_like_regexp("encrypted is None; .*turning it on replaces the file system")
    )


def test_file_systems_and_volumes_are_tagged_and_kept(fresh_stack: Any) -> None:
    stack = fresh_stack()
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a"], nat_gateways=0)
    efs.FileSystem(stack, "Shared", vpc=vpc, encrypted=True, removal_policy=RemovalPolicy.DESTROY)
    ec2.CfnVolume(stack, "Disk", availability_zone="us-east-1a", size=10, encrypted=True)
    template, annotations = _enforce(stack)
    (fs,) = template.find_resources("AWS::EFS::FileSystem").values()
    assert fs["DeletionPolicy"] == fs["UpdateReplacePolicy"] == "Retain"
    assert TAG in fs["Properties"]["FileSystemTags"]
    (volume,) = template.find_resources("AWS::EC2::Volume").values()
    assert volume["DeletionPolicy"] == volume["UpdateReplacePolicy"] == "Snapshot"
    assert TAG in volume["Properties"]["Tags"]
    annotations.has_warning("/TestStack/Disk", Match.string_like_regexp("DeletionPolicy changed from .* to 'Snapshot'"))


def test_the_database_key_in_the_stack_is_kept(fresh_stack: Any) -> None:
    stack = fresh_stack()
    key = kms.Key(stack, "Key", removal_policy=RemovalPolicy.DESTROY)
    rds.CfnDBInstance(
        stack, "Db", engine="postgres", db_instance_class="db.t4g.micro", storage_encrypted=True, kms_key_id=key.key_arn
    )
    template, annotations = _enforce(stack)
    (cfn_key,) = template.find_resources("AWS::KMS::Key").values()
    assert cfn_key["DeletionPolicy"] == cfn_key["UpdateReplacePolicy"] == "Retain"
    annotations.has_warning("/TestStack/Key/Resource", Match.string_like_regexp("DeletionPolicy changed from 'Delete'"))


def test_types_the_policy_does_not_protect_are_left_alone(fresh_stack: Any) -> None:
    stack = fresh_stack()
    s3.CfnBucket(stack, "Plain")
    dynamodb.Table.from_table_name(stack, "Imported", "orders")
    template, annotations = _enforce(stack, BackupPolicy.production())  # protects RDS only
    (bucket,) = template.find_resources("AWS::S3::Bucket").values()
    assert "VersioningConfiguration" not in bucket.get("Properties", {}) and "DeletionPolicy" not in bucket
    annotations.has_no_warning("*", Match.any_value())
    annotations.has_no_error("*", Match.any_value())


def test_an_exclusion_tag_set_directly_is_honoured(fresh_stack: Any) -> None:
    stack = fresh_stack()
    bucket = s3.CfnBucket(stack, "Scratch")
    bucket.tags.set_tag(EXCLUDE_TAG_KEY, "scratch space", 100)
    template, annotations = _enforce(stack)
    (rendered,) = template.find_resources("AWS::S3::Bucket").values()
    assert "VersioningConfiguration" not in rendered["Properties"]
    annotations.has_info("/TestStack/Scratch", Match.string_like_regexp("excluded .*: scratch space"))


@pytest.mark.parametrize("reason", ["", "   ", "a, b", "x" * 257, "semi;colon"])
def test_an_exclusion_needs_a_reason_a_tag_can_carry(fresh_stack: Any, reason: str) -> None:
    with pytest.raises(PolicyError, match=r"^reason: got "):
        EnforceBackupPolicy.exclude(fresh_stack(), reason)


def test_a_policy_protecting_dynamodb_counts_its_point_in_time_recovery() -> None:
    policy = BackupPolicy.from_context(
        {"protectedResourceTypes": ["RDS", "DynamoDB"], "regionLoss": {"rpoTargetMinutes": 120}}
    )
    assessment = achieved_rpo(policy, policy.protected_resource_types[1])
    assert assessment.worst_case_minutes == 5 and "DynamoDB point-in-time recovery" in assessment.mechanism
    assert policy_findings(policy) == []


def test_tags_by_aspect_on_a_protected_resource_still_exclude_in_the_template(fresh_stack: Any) -> None:
    stack = fresh_stack()
    table = dynamodb.Table(
        stack, "Cache", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    EnforceBackupPolicy.exclude(table, "rebuilt from the orders table")
    Tags.of(stack).add("team", "shop")
    template, _ = _enforce(stack)
    (rendered,) = template.find_resources("AWS::DynamoDB::Table").values()
    keys = {t["Key"] for t in rendered["Properties"]["Tags"]}
    assert keys == {EXCLUDE_TAG_KEY, "team"}
    assert "PointInTimeRecoverySpecification" not in rendered["Properties"]
