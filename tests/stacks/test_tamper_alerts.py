"""An alert on every attempt to weaken what protects the backups: the synthesized alert rules'
patterns, evaluated by EventBridge's matcher (moto's) against CloudTrail events as EventBridge
delivers them, in both regions, and named so that an attempt on the rules themselves is caught."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Synthesized
from tests.support.moto_aws import drain_events, moto_aws

ACCOUNT = "111111111111"
PRIMARY, DR = "ecommerce-production-monitoring", "ecommerce-production-backup-dr"
ATTACKER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory"


def _call(service: str, call: str, **request: Any) -> dict[str, Any]:
    return {
        "source": f"aws.{service}",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": f"{service}.amazonaws.com",
            "eventName": call,
            "userIdentity": {"arn": ATTACKER},
            "requestParameters": request,
        },
    }


CASES = [
    (_call("backup", "DeleteRecoveryPoint", backupVaultName="ecommerce-backup-production"), "VaultTamperAttempt"),
    (
        _call("backup", "DeleteBackupVaultLockConfiguration", backupVaultName="ecommerce-backup-production-dr"),
        "VaultTamperAttempt",
    ),
    (_call("backup", "DeleteRecoveryPoint", backupVaultName="someone-elses-vault"), None),
    (_call("backup", "DeleteBackupPlan", backupPlanId="1b2c3d"), "PlanTamperAttempt"),
    (
        _call("s3", "PutBucketPolicy", bucketName=f"ecommerce-backup-production-config-{ACCOUNT}-us-east-1"),
        "BucketTamperAttempt",
    ),
    (
        _call("s3", "PutObjectLockConfiguration", bucketName=f"ecommerce-backup-production-config-{ACCOUNT}-us-west-2"),
        "BucketTamperAttempt",
    ),
    (_call("s3", "PutBucketPolicy", bucketName="marketing-assets"), None),
    (_call("cloudtrail", "StopLogging", name="org-trail"), "TrailTamperAttempt"),
    (
        _call("events", "DisableRule", name="ecommerce-backup-production-alert-VaultTamperAttempt"),
        "AlertRuleTamperAttempt",
    ),
    (
        _call("events", "RemoveTargets", rule="ecommerce-backup-production-alert-KeyDeletionAttempt", ids=["Target0"]),
        "AlertTargetRemovalAttempt",
    ),
    (_call("events", "DeleteRule", name="someone-elses-rule"), None),
    (_call("kms", "PutKeyPolicy", keyId="1234abcd", policyName="default"), "KeyDeletionAttempt"),
    (_call("kms", "Decrypt", keyId="1234abcd"), None),
]


def _alert_rules(synthesized: Synthesized, stack: str) -> dict[str, dict[str, Any]]:
    rules = synthesized.resources(stack, "AWS::Events::Rule").values()
    prefix = "ecommerce-backup-production-alert-"
    return {
        r["Properties"]["Name"].removeprefix(prefix): r["Properties"]
        for r in rules
        if str(r["Properties"].get("Name", "")).startswith(prefix)
    }


@pytest.mark.parametrize("stack", [PRIMARY, DR])
def test_every_attempt_reaches_its_alert_and_nothing_else_does(synthesized: Synthesized, stack: str) -> None:
    rules = _alert_rules(synthesized, stack)
    expected_ids = {rule_id for _, rule_id in CASES if rule_id}
    assert expected_ids <= set(rules), sorted(expected_ids - set(rules))
    _assert_deliveries(stack, {rule_id: rules[rule_id]["EventPattern"] for rule_id in expected_ids}, CASES)


def _assert_deliveries(stack: str, patterns: dict[str, Any], cases: list[tuple[dict[str, Any], str | None]]) -> None:
    """Each event of ``cases`` reaches exactly the rule it names (or none), by EventBridge's matcher."""
    with moto_aws({PRIMARY: "us-east-1", DR: "us-west-2"}[stack]) as aws:
        events, sqs = aws.client("events"), aws.client("sqs")
        queues = {}
        for rule_id, pattern in patterns.items():
            url = sqs.create_queue(QueueName=f"q-{rule_id}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=rule_id, EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule_id, Targets=[{"Id": "topic", "Arn": arn}])
            queues[rule_id] = url
        for event, wanted in cases:
            entry = {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
            events.put_events(Entries=[entry])
            hit = {rule_id for rule_id, url in queues.items() if drain_events(sqs, url, [])}
            assert hit == ({wanted} if wanted else set()), (
                event["detail"]["eventName"],
                event["detail"]["requestParameters"],
            )


def test_each_tamper_alert_names_the_call_the_target_and_who(synthesized: Synthesized) -> None:
    rules = _alert_rules(synthesized, PRIMARY)
    transformer = rules["VaultTamperAttempt"]["Targets"][0]["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "detail-eventName": "$.detail.eventName",
        "detail-requestParameters-backupVaultName": "$.detail.requestParameters.backupVaultName",
        "detail-userIdentity-arn": "$.detail.userIdentity.arn",
        "detail-errorCode": "$.detail.errorCode",
    }
    assert "by <detail-userIdentity-arn>" in transformer["InputTemplate"]


SOPS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/5ops5ops-12ab-34cd-56ef-1234567890ab"


def _with_key_arn(pattern: Any) -> Any:
    """The pattern with the SOPS key's ARN (a deploy-time reference in the template) as deployed."""
    if isinstance(pattern, dict):
        if set(pattern) & {"Ref", "Fn::GetAtt", "Fn::GetStackOutput", "Fn::ImportValue"}:
            return SOPS_KEY
        return {k: _with_key_arn(v) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return [_with_key_arn(v) for v in pattern]
    return pattern


def _kms_call(call: str, key: str) -> dict[str, Any]:
    return _call("kms", call, keyId=key, granteePrincipal=ATTACKER)


@pytest.mark.parametrize(("stack", "database"), [(PRIMARY, "ecommerce-production"), (DR, "ecommerce-production-dr")])
def test_database_deletion_backup_replication_stops_and_grants_on_the_sops_key_alert(
    synthesized: Synthesized, stack: str, database: str
) -> None:
    rules = _alert_rules(synthesized, stack)
    cases = [
        (_call("rds", "DeleteDBInstance", dBInstanceIdentifier=database), "DatabaseDeletionAttempt"),
        (_call("rds", "DeleteDBInstance", dBInstanceIdentifier="analytics-scratch"), None),
        (
            _call(
                "rds", "StopDBInstanceAutomatedBackupsReplication", sourceDBInstanceArn=f"arn:aws:rds:::db:{database}"
            ),
            "BackupReplicationStopAttempt",
        ),
        (_kms_call("CreateGrant", SOPS_KEY), "SopsGrantAttempt"),
        (_kms_call("CreateGrant", "alias/ecommerce-backup-production-config-sops"), "SopsGrantAttempt"),
        (_kms_call("CreateGrant", SOPS_KEY.replace("5ops5ops", "0the70the")), None),
        (_kms_call("Decrypt", SOPS_KEY), None),
    ]
    ids = ("DatabaseDeletionAttempt", "BackupReplicationStopAttempt", "SopsGrantAttempt")
    _assert_deliveries(stack, {rule_id: _with_key_arn(rules[rule_id]["EventPattern"]) for rule_id in ids}, cases)


def test_the_backup_account_alerts_on_attempts_against_its_own_vault(synthesized: Synthesized) -> None:
    rules = _alert_rules(synthesized, "ecommerce-production-backup-account")
    assert set(rules) == {
        "KeyDeletionAttempt",
        "VaultTamperAttempt",
        "TrailTamperAttempt",
        "AlertRuleTamperAttempt",
        "AlertTargetRemovalAttempt",
    }
    vaults = rules["VaultTamperAttempt"]["EventPattern"]["detail"]["requestParameters"]["backupVaultName"]
    assert vaults == ["ecommerce-backup-production-isolated"]
