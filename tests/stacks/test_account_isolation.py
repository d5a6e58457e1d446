"""A copy outside the account, a policy from outside the account: production's isolated copies go, in
the primary region, to a compliance-locked vault of the backup account (a stack of its own, deployed with
that account's credentials); the database key lets that account copy; the organization's service control
policy (an artifact and an optional management-account stack) denies what a deny statement inside the
account only raises the cost of; the alerts also reach the backup account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Synthesized, cdk_json_context, synth_app
from tests.contracts.iam_eval import Request, matching_statements

WORKLOAD, BACKUP, MANAGEMENT = "111111111111", "222222222222", "333333333333"
ISOLATED_VAULT = "ecommerce-backup-production-isolated"
BACKUP_ACCOUNT_STACK = "ecommerce-production-backup-account"
BREAK_GLASS = f"arn:aws:iam::{WORKLOAD}:role/backup-break-glass"
DEPLOYERS = [
    f"arn:aws:iam::{WORKLOAD}:role/cdk-hnb659fds-cfn-exec-role-{WORKLOAD}-{r}" for r in ("us-east-1", "us-west-2")
]
ROOT = Path(__file__).resolve().parents[2]


def _resolve(value: Any) -> Any:
    """Fn::Join of plain strings and AWS::Partition, as the default app's ARNs are written."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join("aws" if p == {"Ref": "AWS::Partition"} else _resolve(p) for p in parts)
    return value


def _plans(synthesized: Synthesized, stack: str) -> dict[str, dict[str, Any]]:
    plans = synthesized.resources(stack, "AWS::Backup::BackupPlan").values()
    return {p["Properties"]["BackupPlan"]["BackupPlanName"]: p["Properties"]["BackupPlan"] for p in plans}


def test_production_copies_a_daily_snapshot_into_the_backup_accounts_vault_in_the_same_region(
    synthesized: Synthesized,
) -> None:
    plans = _plans(synthesized, "ecommerce-production-backup")
    (rule,) = plans["ecommerce-backup-production-isolated"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 4 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 7}  # the primary vault lock's minimum
    (copy,) = rule["CopyActions"]
    assert (
        _resolve(copy["DestinationBackupVaultArn"])
        == f"arn:aws:backup:us-east-1:{BACKUP}:backup-vault:{ISOLATED_VAULT}"
    )
    assert copy["Lifecycle"] == {"DeleteAfterDays": 35}
    # One copy action never crosses both an account and a region: the main plan copies to the DR vault only.
    for main_rule in plans["ecommerce-backup-production"]["BackupPlanRule"]:
        for action in main_rule.get("CopyActions", []):
            arn = _resolve(action["DestinationBackupVaultArn"])
            assert f":{WORKLOAD}:" in json.dumps(arn) and "us-west-2" in json.dumps(arn), arn
    selections = synthesized.resources("ecommerce-production-backup", "AWS::Backup::BackupSelection").values()
    names = {s["Properties"]["BackupSelection"]["SelectionName"] for s in selections}
    assert names == {"production-tagged-and-listed", "production-isolated-copies"}


def test_staging_keeps_no_isolated_copy_and_has_no_backup_account(synthesized: Synthesized) -> None:
    assert set(_plans(synthesized, "ecommerce-staging-backup")) == {"ecommerce-backup-staging"}
    assert not any(name.startswith("ecommerce-staging-backup-account") for name in synthesized.templates)


def test_the_backup_account_vault_is_compliance_locked_and_admits_copies_from_the_workload_account_only(
    synthesized: Synthesized,
) -> None:
    assert synthesized.regions[BACKUP_ACCOUNT_STACK] == "us-east-1"
    (vault,) = synthesized.resources(BACKUP_ACCOUNT_STACK, "AWS::Backup::BackupVault").values()
    props = vault["Properties"]
    assert props["BackupVaultName"] == ISOLATED_VAULT
    assert props["LockConfiguration"] == {"MinRetentionDays": 7, "MaxRetentionDays": 365, "ChangeableForDays": 3}
    assert vault["DeletionPolicy"] == "Retain"
    assert "EncryptionKeyArn" in props  # a key of the backup account's own
    statements = {s["Sid"]: s for s in props["AccessPolicy"]["Statement"]}
    copy_in = statements["CopyIntoFromTheWorkloadAccounts"]
    assert copy_in["Effect"] == "Allow" and copy_in["Action"] == "backup:CopyIntoBackupVault"
    assert _resolve(copy_in["Principal"]["AWS"]) == f"arn:aws:iam::{WORKLOAD}:root"
    deny = statements["DenyManualRecoveryPointDeletion"]
    exempt = [_resolve(a) for a in deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]]
    # The backup account's own deploy role and break-glass role: nobody of the workload account.
    assert exempt == [
        f"arn:aws:iam::{BACKUP}:role/cdk-hnb659fds-cfn-exec-role-{BACKUP}-us-east-1",
        f"arn:aws:iam::{BACKUP}:role/backup-break-glass",
    ]


def test_the_database_key_lets_the_backup_account_copy_its_snapshots(synthesized: Synthesized) -> None:
    keys = synthesized.resources("ecommerce-production-data", "AWS::KMS::Key").values()
    (key,) = [k for k in keys if "database storage" in k["Properties"]["Description"]]
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    use = statements["BackupAccountCopiesSnapshots"]
    assert _resolve(use["Principal"]["AWS"]) == f"arn:aws:iam::{BACKUP}:root"
    assert {"kms:Decrypt", "kms:DescribeKey", "kms:ReEncrypt*"} <= set(use["Action"])
    grants = statements["BackupAccountGrantsToAwsServices"]
    assert grants["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    staging_keys = synthesized.resources("ecommerce-staging-data", "AWS::KMS::Key").values()
    assert "BackupAccountCopiesSnapshots" not in json.dumps([k["Properties"]["KeyPolicy"] for k in staging_keys])


def test_every_key_of_production_carries_the_tag_the_scp_protects_keys_by(synthesized: Synthesized) -> None:
    for stack in synthesized.templates:
        if not stack.startswith("ecommerce-production-"):
            continue
        for logical_id, key in synthesized.resources(stack, "AWS::KMS::Key").items():
            tags = {t["Key"]: t["Value"] for t in key["Properties"].get("Tags", [])}
            assert tags.get("backup-protection") == "production", (stack, logical_id)


def _scp(synthesized: Synthesized) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((synthesized.outdir / "production-backup-protection-scp.json").read_text())
    return document


def _scp_denies(document: dict[str, Any], principal: str, action: str, resource: str, **context: str) -> bool:
    request = Request(principal, action, resource, {"aws:PrincipalArn": principal, **context})
    return any(m.effect == "Deny" for m in matching_statements(document, request, resource_policy=False))


ADMIN = f"arn:aws:iam::{WORKLOAD}:role/Admin"
RECOVERY_POINT = f"arn:aws:rds:us-east-1:{WORKLOAD}:snapshot:awsbackup:job-0123"
BUCKET = f"arn:aws:s3:::ecommerce-backup-production-config-{WORKLOAD}-us-east-1"
KEY = f"arn:aws:kms:us-east-1:{WORKLOAD}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SCP_CASES = [
    ("backup:DeleteRecoveryPoint", RECOVERY_POINT, {}),
    ("backup:UpdateRecoveryPointLifecycle", RECOVERY_POINT, {}),
    (
        "backup:DeleteBackupVaultLockConfiguration",
        f"arn:aws:backup:us-west-2:{WORKLOAD}:backup-vault:ecommerce-backup-production-dr",
        {},
    ),
    (
        "backup:PutBackupVaultAccessPolicy",
        f"arn:aws:backup:us-east-1:{WORKLOAD}:backup-vault:ecommerce-backup-production",
        {},
    ),
    ("kms:ScheduleKeyDeletion", KEY, {"aws:ResourceTag/backup-protection": "production"}),
    ("kms:PutKeyPolicy", KEY, {"aws:ResourceTag/backup-protection": "production"}),
    ("kms:UntagResource", KEY, {"aws:ResourceTag/backup-protection": "production"}),
    ("s3:PutBucketPolicy", BUCKET, {}),
    ("s3:PutBucketObjectLockConfiguration", BUCKET, {}),
    ("s3:BypassGovernanceRetention", f"{BUCKET}/production/2026/manifest.json", {}),
]


@pytest.mark.parametrize(("action", "resource", "context"), SCP_CASES, ids=[c[0] for c in SCP_CASES])
def test_the_scp_denies_an_admin_what_it_protects_and_exempts_break_glass_and_the_exact_deploy_roles(
    synthesized: Synthesized, action: str, resource: str, context: dict[str, str]
) -> None:
    document = _scp(synthesized)
    assert _scp_denies(document, ADMIN, action, resource, **context)
    for exempt in (BREAK_GLASS, *DEPLOYERS):
        assert not _scp_denies(document, exempt, action, resource, **context), exempt
    # A role named like the deploy role in another region, or another qualifier, is not exempt.
    lookalike = f"arn:aws:iam::{WORKLOAD}:role/cdk-attacker-cfn-exec-role-{WORKLOAD}-us-east-1"
    assert _scp_denies(document, lookalike, action, resource, **context)


def test_the_scp_leaves_other_keys_buckets_and_vaults_alone_and_keeps_the_account_in_the_organization(
    synthesized: Synthesized,
) -> None:
    document = _scp(synthesized)
    assert not _scp_denies(
        document, ADMIN, "kms:ScheduleKeyDeletion", KEY, **{"aws:ResourceTag/backup-protection": "staging"}
    )
    assert not _scp_denies(document, ADMIN, "s3:PutBucketPolicy", "arn:aws:s3:::marketing-assets")
    assert not _scp_denies(
        document,
        ADMIN,
        "backup:PutBackupVaultAccessPolicy",
        f"arn:aws:backup:us-east-1:{WORKLOAD}:backup-vault:scratch",
    )
    assert _scp_denies(document, BREAK_GLASS, "organizations:LeaveOrganization", "*")
    assert all("Principal" not in s and "NotPrincipal" not in s for s in document["Statement"])


def test_the_scp_fits_the_organizations_limit_and_the_management_stack_deploys_the_same_document(
    synthesized: Synthesized,
) -> None:
    text = (synthesized.outdir / "production-backup-protection-scp.json").read_text().strip()
    assert len(text) <= 5120
    stack = "ecommerce-production-organization"
    assert synthesized.regions[stack] == "us-east-1"
    (policy,) = synthesized.resources(stack, "AWS::Organizations::Policy").values()
    assert policy["Properties"]["Type"] == "SERVICE_CONTROL_POLICY"
    assert policy["Properties"]["Content"] == json.loads(text)
    assert policy["Properties"]["TargetIds"] == [WORKLOAD]


def test_the_workload_alerts_also_reach_the_backup_accounts_topic_through_a_role_of_their_own(
    synthesized: Synthesized,
) -> None:
    topic_arn = f"arn:aws:sns:us-east-1:{BACKUP}:ecommerce-backup-production-backup-account-alerts"
    rules = synthesized.resources("ecommerce-production-monitoring", "AWS::Events::Rule").values()
    alert_rules = [
        r for r in rules if str(r["Properties"].get("Name", "")).startswith("ecommerce-backup-production-alert-")
    ]
    roles = synthesized.resources("ecommerce-production-monitoring", "AWS::IAM::Role")
    (forwarder_id,) = [
        k for k, r in roles.items() if r["Properties"].get("RoleName") == "ecommerce-backup-production-alert-forwarder"
    ]
    assert len(alert_rules) > 10
    for rule in alert_rules:
        targets = rule["Properties"]["Targets"]
        assert [t["Arn"] for t in targets][1] == topic_arn
        assert "RoleArn" not in targets[0]  # the own topic: resource policy only
        assert targets[1]["RoleArn"] == {"Fn::GetAtt": [forwarder_id, "Arn"]}
    trust = roles[forwarder_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": WORKLOAD}}
    policies = synthesized.resources("ecommerce-production-monitoring", "AWS::IAM::ManagedPolicy").values()
    (publish,) = [p for p in policies if {"Ref": forwarder_id} in p["Properties"].get("Roles", [])]
    assert publish["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "sns:Publish", "Effect": "Allow", "Resource": topic_arn}
    ]
    # EventBridge delivers to another account's target within a region only: the DR region's rules do not.
    dr_rules = synthesized.resources("ecommerce-production-backup-dr", "AWS::Events::Rule").values()
    assert topic_arn not in json.dumps(list(dr_rules))
    # The backup account's topic accepts the forwarder, by its exact ARN, and its key lets SNS use it.
    (topic_policy,) = synthesized.resources(BACKUP_ACCOUNT_STACK, "AWS::SNS::TopicPolicy").values()
    statements = {s.get("Sid"): s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]}
    forwarder_arn = f"arn:aws:iam::{WORKLOAD}:role/ecommerce-backup-production-alert-forwarder"
    assert _resolve(statements["PublishFromOtherAccountsForwarders"]["Principal"]["AWS"]) == forwarder_arn
    (topic,) = synthesized.resources(BACKUP_ACCOUNT_STACK, "AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == "ecommerce-backup-production-backup-account-alerts"


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("workload", {"data", "backup", "backup-dr", "dr-replica", "config-backup", "monitoring"}),
        ("backup-account", {"backup-account"}),
        ("organization", {"organization"}),
    ],
)
def test_each_account_deploys_only_its_own_stacks(tmp_path: Path, group: str, expected: set[str]) -> None:
    context = cdk_json_context()
    context.update({"environment": "production", "stacks": group, "nag": False})
    synthesized = synth_app(tmp_path, context)
    assert {name.removeprefix("ecommerce-production-") for name in synthesized.templates} == expected
    makefile = (ROOT / "Makefile").read_text()
    assert "-c environment=$(ENV) -c stacks=workload --all" in makefile
    if group == "organization":
        # The same document as the whole app's (the exempt deploy roles are computed, not read off stacks).
        scp = "production-backup-protection-scp.json"
        assert json.loads((tmp_path / scp).read_text()) == json.loads(
            (synth_app(tmp_path / "all", {**cdk_json_context(), "nag": False}).outdir / scp).read_text()
        )
