"""The permission contract's own tests: the operation table's non-obvious mappings, and the checker
catching each class of defect against the real synthesized app (with one grant taken away)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.contracts import deployment as deployment_model
from tests.contracts import iam_eval
from tests.contracts.authorizations import AWS_MANAGED_S3_KEY, CallContext, requirements
from tests.contracts.deployment import Deployment, FunctionModel
from tests.contracts.functions import FUNCTIONS
from tests.contracts.permissions import check, unused_grants
from tests.contracts.recorder import RecordedCall

ACCOUNT, REGION, DR = "111111111111", "us-east-1", "us-west-2"
CONFIG_BUCKET = f"ecommerce-backup-production-config-{ACCOUNT}-{REGION}"
COPY = f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-0f3c2b1a-7d6e-4c5b-8a9f-1e2d3c4b5a69"


@pytest.fixture(scope="module")
def deployed(synthesized: Synthesized) -> Deployment:
    return deployment_model.load(synthesized.outdir)


def ctx(deployed: Deployment, region: str = REGION) -> CallContext:
    return CallContext(ACCOUNT, region, deployed)


def call(
    entry: str, service: str, operation: str, params: dict[str, Any], region: str = REGION, **settings: Any
) -> RecordedCall:
    return RecordedCall(entry, service, operation, region, params, settings, test="synthetic")


def without_statement(deployed: Deployment, key: str, sid: str) -> Deployment:
    changed = copy.deepcopy(deployed)
    function = changed.functions[key]
    policies = tuple(
        {**doc, "Statement": [s for s in doc["Statement"] if s.get("Sid") != sid]} for doc in function.identity_policies
    )
    assert policies != function.identity_policies, f"{sid} not in {key}"
    changed.functions[key] = FunctionModel(**{**function.__dict__, "identity_policies": policies})
    return changed


def export_key(deployed: Deployment) -> str:
    return next(
        k for k, f in deployed.functions.items() if f.stack.endswith("production-config-backup") and "Export" in k
    )


# The table -------------------------------------------------------------------------------------------


def test_head_object_is_authorized_as_get_object_without_kms(deployed: Deployment) -> None:
    needs = requirements("s3", "HeadObject", {"Bucket": CONFIG_BUCKET, "Key": "c/n/b/manifest.json"}, ctx(deployed))
    assert [(n.action, n.resource) for n in needs] == [
        ("s3:GetObject", f"arn:aws:s3:::{CONFIG_BUCKET}/c/n/b/manifest.json")
    ]


def test_reads_and_writes_of_an_sse_kms_bucket_need_its_key_through_s3(deployed: Deployment) -> None:
    key = deployed.bucket_keys[CONFIG_BUCKET]
    put = requirements("s3", "PutObject", {"Bucket": CONFIG_BUCKET, "Key": "k"}, ctx(deployed))
    get = requirements("s3", "GetObject", {"Bucket": CONFIG_BUCKET, "Key": "k"}, ctx(deployed))
    assert [(n.action, n.resource) for n in put] == [
        ("s3:PutObject", f"arn:aws:s3:::{CONFIG_BUCKET}/k"),
        ("kms:GenerateDataKey", key),
    ]
    assert [(n.action, n.resource) for n in get][1] == ("kms:Decrypt", key)
    assert put[1].context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"


def test_aws_kms_without_a_key_id_means_the_aws_managed_key(deployed: Deployment) -> None:
    needs = requirements(
        "s3", "PutObject", {"Bucket": CONFIG_BUCKET, "Key": "k", "ServerSideEncryption": "aws:kms"}, ctx(deployed)
    )
    assert needs[1].resource.endswith(AWS_MANAGED_S3_KEY)


def test_list_is_list_bucket_on_the_bucket_with_the_prefix(deployed: Deployment) -> None:
    (need,) = requirements(
        "s3", "ListObjectsV2", {"Bucket": CONFIG_BUCKET, "Prefix": "ecommerce-production/ns/"}, ctx(deployed)
    )
    assert (need.action, need.resource, need.context["s3:prefix"]) == (
        "s3:ListBucket",
        f"arn:aws:s3:::{CONFIG_BUCKET}",
        "ecommerce-production/ns/",
    )


def test_an_alias_is_resolved_to_its_key_with_the_alias_in_the_context(deployed: Deployment) -> None:
    alias = f"arn:aws:kms:{DR}:{ACCOUNT}:alias/ecommerce-backup-production-config-sops"
    (need,) = requirements("kms", "Encrypt", {"KeyId": alias}, ctx(deployed, DR))
    assert need.resource == deployed.aliases[f"{DR}:alias/ecommerce-backup-production-config-sops"]
    assert need.context["kms:ResourceAliases"] == ["alias/ecommerce-backup-production-config-sops"]


def test_a_restore_job_is_checked_on_the_recovery_points_own_arn_and_passes_the_role(deployed: Deployment) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/restore"
    needs = requirements("backup", "StartRestoreJob", {"RecoveryPointArn": COPY, "IamRoleArn": role}, ctx(deployed, DR))
    assert [(n.action, n.resource) for n in needs] == [("backup:StartRestoreJob", COPY), ("iam:PassRole", role)]
    assert needs[1].context == {"iam:PassedToService": "backup.amazonaws.com"}


def test_an_operation_missing_from_the_table_is_an_error(deployed: Deployment) -> None:
    with pytest.raises(KeyError):
        requirements("s3", "PutBucketPolicy", {"Bucket": CONFIG_BUCKET}, ctx(deployed))
    (violation,) = check([call("config-export", "s3", "PutBucketPolicy", {"Bucket": CONFIG_BUCKET})], deployed, {})[0]
    assert "no authorization mapping for s3:PutBucketPolicy" in violation.message


# The checker against the synthesized app -------------------------------------------------------------


def test_a_missing_grant_fails_naming_the_function_the_action_and_the_resource(deployed: Deployment) -> None:
    digest = "us-east-1:alias/ecommerce-backup-production-config-digest-mr"
    assert digest in deployed.aliases
    mac = call(
        "config-export", "kms", "GenerateMac", {"KeyId": deployed.aliases[digest], "MacAlgorithm": "HMAC_SHA_256"}
    )
    assert check([mac], deployed, {})[0] == []
    (violation,) = check([mac], without_statement(deployed, export_key(deployed), "SecretDigests"), {})[0]
    assert str(violation).startswith(f"config-export: kms:GenerateMac on {deployed.aliases[digest]} not allowed")


def test_the_drill_starter_must_be_allowed_on_snapshot_copies_not_only_backup_recovery_points(
    deployed: Deployment,
) -> None:
    starter = next(k for k, f in deployed.functions.items() if "DrillStarter" in k)
    restore_role = next(
        s["Resource"]
        for doc in deployed.functions[starter].identity_policies
        for s in doc["Statement"]
        if s.get("Sid") == "PassRestoreRole"
    )
    start = call(
        "drill-starter", "backup", "StartRestoreJob", {"RecoveryPointArn": COPY, "IamRoleArn": restore_role}, region=DR
    )
    assert check([start], deployed, {})[0] == []
    # The shape that could never start a drill: only arn:aws:backup:...:recovery-point:*.
    broken = copy.deepcopy(deployed)
    function = broken.functions[starter]
    for doc in function.identity_policies:
        for statement in doc["Statement"]:
            if statement.get("Sid") == "StartDrillRestore":
                statement["Resource"] = f"arn:aws:backup:{DR}:{ACCOUNT}:recovery-point:*"
    (violation,) = check([start], broken, {})[0]
    assert f"backup:StartRestoreJob on {COPY} not allowed" in violation.message


def test_config_bucket_writes_relying_on_the_default_are_allowed_and_other_keys_denied(deployed: Deployment) -> None:
    base = {"Bucket": CONFIG_BUCKET, "Key": "ecommerce-production/production/20261201T000000Z/manifest.json"}
    own = deployed.bucket_keys[CONFIG_BUCKET]
    other = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    assert check([call("config-export", "s3", "PutObject", base)], deployed, {})[0] == []
    assert (
        check(
            [call("config-export", "s3", "PutObject", base | {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": own})],
            deployed,
            {},
        )[0]
        == []
    )
    denied = check(
        [call("config-export", "s3", "PutObject", base | {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": other})],
        deployed,
        {},
    )[0]
    assert any("DenyOtherEncryptionKeys" in v.message for v in denied)
    managed = check(
        [call("config-export", "s3", "PutObject", base | {"ServerSideEncryption": "aws:kms"})], deployed, {}
    )[0]
    assert any("aws/s3" in v.message for v in managed)


def test_a_grant_no_call_uses_is_reported(deployed: Deployment) -> None:
    changed = copy.deepcopy(deployed)
    key = export_key(changed)
    function = changed.functions[key]
    extra = {"Statement": [{"Sid": "Leftover", "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*"}]}
    changed.functions[key] = FunctionModel(
        **{**function.__dict__, "identity_policies": (*function.identity_policies, extra)}
    )
    export = next(f for f in FUNCTIONS if f.name == "config-export")
    assert any("s3:DeleteObject (Leftover)" in line for line in unused_grants(changed, {}, export))


def test_every_lambda_role_can_send_to_its_kms_encrypted_dead_letter_queue(deployed: Deployment) -> None:
    """Lambda sends failed asynchronous events with the function's role: sqs:SendMessage, and both
    kms:GenerateDataKey and kms:Decrypt on the queue's key (through SQS)."""
    checked = 0
    for stack in deployed.stacks.values():
        for logical_id, resource in stack.of_type("AWS::Lambda::Function").items():
            target = (resource["Properties"].get("DeadLetterConfig") or {}).get("TargetArn")
            if target is None:
                continue
            function = deployed.functions[f"{stack.name}/{logical_id}"]
            queue = deployed.resolve(stack, target)
            needs: list[tuple[str, str, str | None]] = [("sqs:SendMessage", queue, None)]
            if queue in deployed.queue_keys:
                key = deployed.queue_keys[queue]
                needs += [("kms:GenerateDataKey", key, key), ("kms:Decrypt", key, key)]
            for action, resource_arn, key_arn in needs:
                request = iam_eval.Request(
                    function.role_arn,
                    action,
                    resource_arn,
                    {"aws:PrincipalArn": function.role_arn, "kms:ViaService": f"sqs.{stack.region}.amazonaws.com"},
                )
                policy = deployed.key_policies.get(key_arn) if key_arn else deployed.queue_policies.get(queue)
                decision = iam_eval.evaluate(
                    request, function.identity_policies, policy, key_policy=key_arn is not None
                )
                assert decision.allowed, f"{stack.name}/{logical_id}: {action} on {resource_arn}: {decision.reason}"
            checked += 1
    assert checked >= 6
