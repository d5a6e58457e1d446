"""``backup_constructs.testing.snapshot_template``: what it normalizes (asset hashes, CDK's analytics,
key order) and what it keeps; used on the adoption example as an adopter would use it."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_sqs as sqs
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from backup_constructs.testing import ASSET_HASH_PLACEHOLDER, snapshot_template

HASH_A, HASH_B = "a" * 64, "0123456789abcdef" * 4


def _template(asset_hash: str) -> dict[str, object]:
    return {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": f"{asset_hash}.zip"}}},
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:H4sI..."}},
        },
        "Conditions": {"CDKMetadataAvailable": {"Fn::Or": []}},
    }


def test_asset_hashes_and_cdk_analytics_are_normalized_and_nothing_else() -> None:
    a, b = snapshot_template(_template(HASH_A)), snapshot_template(_template(HASH_B))
    assert (
        a
        == b
        == {
            "Resources": {
                "Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Code": {"S3Key": f"{ASSET_HASH_PLACEHOLDER}.zip"}},
                }
            }
        }
    )
    changed = _template(HASH_A)
    changed["Resources"]["Fn"]["Properties"]["MemorySize"] = 512  # type: ignore[index]
    assert snapshot_template(changed) != a  # a real change still shows
    short = _template("abc123")  # not an asset hash: kept
    assert snapshot_template(short)["Resources"]["Fn"]["Properties"]["Code"]["S3Key"] == "abc123.zip"


def test_a_stack_is_synthesized_and_normalized() -> None:
    stack = Stack(App(), "S")
    sqs.Queue(stack, "Q", enforce_ssl=True)
    template = snapshot_template(stack)
    assert [r["Type"] for r in template["Resources"].values()].count("AWS::SQS::Queue") == 1
    assert list(template) == sorted(template)


def test_the_adoption_example_snapshot_is_stable(existing_app_assembly: Path, snapshot: SnapshotAssertion) -> None:
    for stack in ("ShopProduction", "ShopDr"):
        template = json.loads((existing_app_assembly / f"{stack}.template.json").read_text())
        assert snapshot_template(template) == snapshot(name=stack, extension_class=JSONSnapshotExtension)
