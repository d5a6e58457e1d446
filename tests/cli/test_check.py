"""backupctl check: the CI gate, on this repository's app, on the adoption example, on a deliberately
non-compliant app synthesized here, and on hand-written assemblies for AWS Backup's selection rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack, Tags
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

from backup_constructs.cli.main import main
from backup_constructs.compliance import Assembly, PolicyGate
from backup_constructs.policy import BackupPolicy
from backup_constructs.policy.model import EXCLUDE_TAG_KEY
from tests.conftest import ROOT, Synthesized


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _by_path(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Findings by stack/logical id without the hash (the in-process synth records no construct paths)."""
    return {f"{f['stack']}/{f['logicalId'][:-8]}": f for f in report["findings"]}


# This repository's app --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["production", "staging"])
def test_this_app_meets_each_environments_policy(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str], env: str
) -> None:
    code, report = _check(capsys, str(synthesized.outdir), "--env", env, "--cdk-json", str(ROOT / "cdk.json"))
    assert code == 0, [f for f in report["findings"] if f["violations"]]
    assert report["violations"] == 0
    assert report["stacks"] and all(s.startswith(f"ecommerce-{env}-") for s in report["stacks"])
    findings = _by_path(report)
    database = findings[f"ecommerce-{env}-data/Database"]
    assert database["status"] == "ok" and database["facts"]["rpo"]["minutes"] == 5
    assert database["facts"]["deletionPolicy"] == "Snapshot" and database["facts"]["deletionProtection"] is True
    assert any(name.startswith(env) for name in database["facts"]["selectedBy"])
    logs_ = [f for f in report["findings"] if f["kind"] == "log-group"]
    assert logs_ and {f["facts"]["retentionDays"] for f in logs_} == {90 if env == "production" else 30}
    vaults = [f for f in report["findings"] if f["kind"] == "vault"]
    assert vaults and all(f["facts"]["accessPolicy"].startswith("denies") for f in vaults)


def test_production_counts_the_replica_for_region_loss_and_locks_every_vault(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report = _check(capsys, str(synthesized.outdir), "--env", "production", "--cdk-json", str(ROOT / "cdk.json"))
    findings = _by_path(report)
    database = findings["ecommerce-production-data/Database"]
    region_loss = database["facts"]["regionLossRpo"]
    assert region_loss["minutes"] == 1 and "read replica" in region_loss["via"] and "us-west-2" in region_loss["via"]
    replica = findings["ecommerce-production-dr-replica/ReplicaInstance"]
    assert replica["status"] == "replica"
    assert replica["facts"]["replicaOf"] == "arn:aws:rds:us-east-1:111111111111:db:ecommerce-production"
    vaults = {f["facts"]["vaultName"]: f["facts"]["lock"] for f in report["findings"] if f["kind"] == "vault"}
    assert set(vaults) == {
        "ecommerce-backup-production",
        "ecommerce-backup-production-dr",
        "ecommerce-backup-production-isolated",
    }
    assert all(lock and lock["mode"] == "compliance" for lock in vaults.values())


def test_the_text_report_names_each_finding_and_the_verdict(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", str(synthesized.outdir), "--env", "staging", "--cdk-json", str(ROOT / "cdk.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"\n    OK +ecommerce-staging-data/Database[0-9A-F]{8}  RDS; selected by staging-", out)
    assert out.rstrip().endswith("meets the staging policy: 0 violation(s), 0 warning(s)")
    assert "of types the policy does not protect: S3; --all lists them" in out


# The adoption example ---------------------------------------------------------------------------------

EXAMPLE_POLICY = {  # as examples/existing_app/app.py has it
    "drRegion": "eu-central-1",
    "protectedResourceTypes": ["RDS", "Aurora", "DynamoDB", "S3"],
    "regionLoss": {"rpoTargetMinutes": 120},
}


def test_the_adoption_example_meets_its_policy(
    existing_app_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(EXAMPLE_POLICY))
    code, report = _check(capsys, str(existing_app_assembly), "--policy", str(policy))
    assert code == 0, [f for f in report["findings"] if f["violations"]]
    assert report["stacks"] == ["ShopProduction", "ShopDr"]
    statuses = {f["logicalId"][:-8]: f["status"] for f in report["findings"] if f["stack"] == "ShopProduction"}
    assert statuses["Orders"] == statuses["Catalog"] == statuses["Carts"] == statuses["Exports"] == "ok"
    assert statuses["Sessions"] == "excluded" and statuses["ConfigBackupBucket"] == "excluded"
    (orders,) = [
        f
        for f in report["findings"]
        if f["logicalId"].startswith("Orders") and f["stack"] == "ShopProduction" and f["kind"] == "resource"
    ]
    assert orders["facts"]["regionLossRpo"]["minutes"] == 1  # the replica in ShopDr
    (archive,) = [f for f in report["findings"] if f["logicalId"].startswith("Archive")]
    assert archive["warnings"] == [
        "never expires: kept longer than the policy's 90 d (allowed: the policy's retention is a floor)"
    ]


def _region_loss_violations(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        f["logicalId"][:-8]: [v for v in f["violations"] if v.startswith("region-loss RPO")]
        for f in report["findings"]
        if f["kind"] == "resource" and f["status"] in ("ok", "violation") and f["stack"] == "ShopProduction"
    }


def test_the_guides_15_minutes_after_region_loss_rest_on_the_replica(
    existing_app_assembly: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({**EXAMPLE_POLICY, "regionLoss": {"rpoTargetMinutes": 15}}))
    code, report = _check(capsys, str(existing_app_assembly), "--policy", str(policy))
    assert code == 1
    violations = _region_loss_violations(report)
    assert violations["Orders"] == []  # its read replica in ShopDr
    assert all(violations[name] for name in ("Catalog", "Carts", "Uploads", "Exports"))  # hourly copies: 2 h
    # The same app without its DR stack: the orders database fails too.
    copy = tmp_path / "cdk.out"
    copy.mkdir()
    manifest = json.loads((existing_app_assembly / "manifest.json").read_text())
    manifest["artifacts"] = {k: v for k, v in manifest["artifacts"].items() if k != "ShopDr"}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    name = "ShopProduction.template.json"
    (copy / name).write_bytes((existing_app_assembly / name).read_bytes())
    code, report = _check(capsys, str(copy), "--policy", str(policy))
    (violation,) = _region_loss_violations(report)["Orders"]
    assert code == 1 and violation.startswith("region-loss RPO 2 h via copies to eu-central-1")
    assert "target of 15 min" in violation


# A deliberately non-compliant app -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def non_compliant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app with an unselected table, log groups without and with too short a retention, a vault without
    a lock, an unencrypted database deletable without a snapshot, and a table excluded on purpose."""
    outdir = tmp_path_factory.mktemp("non-compliant.out")
    app = App(outdir=str(outdir))
    stack = Stack(app, "Legacy")
    Tags.of(stack).add("environment", "production")
    dynamodb.Table(stack, "Orders", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
    excluded = dynamodb.Table(
        stack, "Cache", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    Tags.of(excluded).add(EXCLUDE_TAG_KEY, "rebuilt from the orders table")
    logs.CfnLogGroup(stack, "Forever")
    logs.LogGroup(stack, "Short", retention=logs.RetentionDays.ONE_WEEK)
    logs.LogGroup(stack, "Long", retention=logs.RetentionDays.ONE_YEAR)
    vault = backup.BackupVault(stack, "Vault", backup_vault_name="legacy", removal_policy=RemovalPolicy.RETAIN)
    plan = backup.BackupPlan(stack, "Plan", backup_vault=vault)
    plan.add_rule(
        backup.BackupPlanRule(
            rule_name="daily",
            schedule_expression=events.Schedule.cron(hour="3", minute="0"),
            start_window=Duration.hours(1),
            completion_window=Duration.hours(2),
        )
    )
    plan.add_selection("Tagged", resources=[backup.BackupResource.from_tag("backup-policy", "production")])
    db = rds.CfnDBInstance(
        stack,
        "Db",
        engine="postgres",
        db_instance_class="db.t4g.micro",
        allocated_storage="20",
        master_username="app",
        manage_master_user_password=False,
        master_user_password="not-a-real-one",
        db_instance_identifier="legacy",
    )
    db.apply_removal_policy(RemovalPolicy.DESTROY)
    Tags.of(db).add("backup-policy", "production")
    app.synth()
    return outdir


def _policy_file(tmp_path: Path, **overrides: Any) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"protectedResourceTypes": ["RDS", "DynamoDB"], **overrides}))
    return path


def test_every_kind_of_violation_is_found_and_fails_the_gate(
    non_compliant: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _check(capsys, str(non_compliant), "--policy", str(_policy_file(tmp_path)))
    assert code == 1
    by_id = {f["logicalId"].rstrip("0123456789ABCDEF"): f for f in report["findings"]}
    orders = next(f for f in report["findings"] if f["path"].startswith("Legacy/Orders"))
    assert orders["status"] == "violation"
    assert any(v.startswith("not selected by any backup plan") for v in orders["violations"])
    assert any(v.startswith("no backup at all") for v in orders["violations"])
    assert "deletion protection is off (the policy turns it on for databases)" in orders["violations"]
    cache = next(f for f in report["findings"] if f["path"].startswith("Legacy/Cache"))
    assert cache["status"] == "excluded" and cache["violations"] == []
    assert cache["facts"]["excludedBecause"] == "rebuilt from the orders table"
    db = next(f for f in report["findings"] if f["path"].startswith("Legacy/Db"))
    assert db["facts"]["selectedBy"] == ["Tagged"]
    assert db["facts"]["rpo"]["minutes"] == 5  # RDS's own automated backups (one day by default)
    assert set(db["violations"]) >= {
        "DeletionPolicy Delete: deleting the stack or the resource destroys it",
        "UpdateReplacePolicy Delete: a replacing update destroys the old one",
        "not encrypted at rest (storage not encrypted)",
        "deletion protection is off (the policy turns it on for databases)",
    }
    assert any("nothing reaches another region" in v for v in db["violations"])
    short = next(f for f in report["findings"] if f["path"].startswith("Legacy/Short"))
    assert short["violations"] == ["kept 7 d, below the policy's 90 d"]
    forever = next(f for f in report["findings"] if f["path"].startswith("Legacy/Forever"))
    assert forever["violations"] == [] and forever["warnings"][0].startswith("never expires")
    long_ = next(f for f in report["findings"] if f["path"].startswith("Legacy/Long"))
    assert long_["status"] == "ok" and long_["facts"]["retentionDays"] == 365
    vault = next(f for f in report["findings"] if f["kind"] == "vault")
    assert vault["facts"]["lock"] is None
    assert vault["violations"][0] == "no vault lock; the policy locks its vaults (compliance mode, at least 7 d)"
    assert any(v.startswith("recovery points can be deleted by anyone") for v in vault["violations"])
    assert report["violations"] == sum(len(f["violations"]) for f in by_id.values())


def test_an_exact_log_retention_fails_longer_and_never_expiring_groups(
    non_compliant: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = _policy_file(tmp_path, logRetention={"days": 90, "mode": "exact"})
    _, report = _check(capsys, str(non_compliant), "--policy", str(policy))
    groups = {
        f["path"].split("/")[1].rstrip("0123456789ABCDEF"): f for f in report["findings"] if f["kind"] == "log-group"
    }
    assert groups["Forever"]["violations"] == [
        "never expires: kept longer than the policy's 90 d (the policy sets exactly 90 d)"
    ]
    assert groups["Long"]["violations"] == ["kept 365 d; the policy sets exactly 90 d"]


def test_junit_xml_has_a_failure_per_violating_finding(
    non_compliant: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "reports" / "backup-policy.xml"
    code = main(["check", str(non_compliant), "--policy", str(_policy_file(tmp_path)), "--junit", str(junit)])
    text = capsys.readouterr().out
    assert code == 1 and "FAILS the production policy" in text
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    resources = suites["backup policy production: stateful resources"]
    failed = [c for c in resources.iter("testcase") if c.find("failure") is not None]
    skipped = [c for c in resources.iter("testcase") if c.find("skipped") is not None]
    assert resources.get("failures") == str(len(failed)) == "2"  # the table and the database
    assert [c.get("name", "").split("/")[1][:5] for c in skipped] == ["Cache"]
    vaults = suites["backup policy production: backup vaults"]
    (case,) = vaults.iter("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.get("message", "").startswith("no vault lock")


def test_refused_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path), "--env", "production"]) == 2
    assert "not a cloud assembly (no manifest.json)" in capsys.readouterr().err
    bad = tmp_path / "policy.json"
    bad.write_text('{"rpoTargetMinutes": "fast"}')
    (tmp_path / "manifest.json").write_text('{"artifacts": {}}')
    assert main(["check", str(tmp_path), "--policy", str(bad)]) == 2
    assert "policy.rpoTargetMinutes: got 'fast'" in capsys.readouterr().err
    bad.write_text('{"preset": "dev"}')
    assert main(["check", str(tmp_path), "--policy", str(bad)]) == 2
    assert "preset: got 'dev'; allowed: production, staging" in capsys.readouterr().err
    bad.write_text("{}")
    assert main(["check", str(tmp_path), "--policy", str(bad), "--stack", "Nope*"]) == 2
    assert "--stack: no stack" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["check", str(tmp_path), "--env", "production", "--policy", str(bad)])
    assert exit_.value.code == 2


# AWS Backup's selection rules, on hand-written templates --------------------------------------------------


def _assembly(
    tmp_path: Path, stacks: dict[str, tuple[str, dict[str, Any]]], tags: dict[str, str] | None = None
) -> Assembly:
    artifacts = {}
    for name, (region, resources) in stacks.items():
        (tmp_path / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://111111111111/{region}",
            "properties": {"templateFile": f"{name}.template.json", "tags": tags or {}},
        }
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return Assembly.load(tmp_path)


def _plan(schedule: str | None = "cron(0 * * * ? *)", start_window: int | None = 60, **rule: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"RuleName": "r", "TargetBackupVault": "v", **rule}
    if schedule:
        body["ScheduleExpression"] = schedule
    if start_window:
        body["StartWindowMinutes"] = start_window
    return {
        "Type": "AWS::Backup::BackupPlan",
        "Properties": {"BackupPlan": {"BackupPlanName": "p", "BackupPlanRule": [body]}},
    }


def _selection(**spec: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Backup::BackupSelection",
        "Properties": {
            "BackupPlanId": {"Fn::GetAtt": ["Plan", "BackupPlanId"]},
            "BackupSelection": {"SelectionName": "s", "IamRoleArn": "arn:aws:iam::111111111111:role/b", **spec},
        },
    }


def _table(name: str, tags: dict[str, str] | None = None, **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {"TableName": name, **props}
    if tags:
        properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def _selected(
    tmp_path: Path, spec: dict[str, Any], tables: dict[str, dict[str, Any]], tags: dict[str, str] | None = None
) -> set[str]:
    assembly = _assembly(tmp_path, {"S": ("us-east-1", {"Plan": _plan(), "Sel": _selection(**spec), **tables})}, tags)
    policy = BackupPolicy.from_context({"protectedResourceTypes": ["DynamoDB"]})
    return {f.logical_id for f in PolicyGate(policy, assembly).findings() if f.facts.get("selectedBy")}


TAGS_A = {"team": "a", "tier": "gold"}
TAGS_B = {"team": "b", "tier": "gold"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "team", "ConditionValue": "a"}]}, {"A"}),
        # ListOfTags: any entry (OR)
        (
            {
                "ListOfTags": [
                    {"ConditionType": "STRINGEQUALS", "ConditionKey": "team", "ConditionValue": v} for v in ("a", "b")
                ]
            },
            {"A", "B"},
        ),
        # Conditions: every entry (AND), with the aws:ResourceTag/ prefix
        (
            {
                "Conditions": {
                    "StringEquals": [{"ConditionKey": "aws:ResourceTag/tier", "ConditionValue": "gold"}],
                    "StringNotEquals": [{"ConditionKey": "aws:ResourceTag/team", "ConditionValue": "b"}],
                }
            },
            {"A"},
        ),
        ({"Conditions": {"StringLike": [{"ConditionKey": "aws:ResourceTag/team", "ConditionValue": "*"}]}}, {"A", "B"}),
        # Resources AND Conditions
        (
            {
                "Resources": ["arn:aws:dynamodb:*:*:table/*"],
                "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/team", "ConditionValue": "b"}]},
            },
            {"B"},
        ),
        # Resources OR ListOfTags
        (
            {
                "Resources": ["arn:aws:dynamodb:us-east-1:111111111111:table/c"],
                "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "team", "ConditionValue": "a"}],
            },
            {"A", "C"},
        ),
        (
            {
                "Resources": ["arn:aws:dynamodb:us-east-1:111111111111:table/*"],
                "NotResources": [{"Fn::GetAtt": ["B", "Arn"]}],
            },
            {"A", "C"},
        ),
        ({"Resources": [{"Fn::GetAtt": ["C", "Arn"]}]}, {"C"}),
        (
            {
                "Resources": [
                    {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":dynamodb:",
                                {"Ref": "AWS::Region"},
                                ":",
                                {"Ref": "AWS::AccountId"},
                                ":table/",
                                {"Ref": "A"},
                            ],
                        ]
                    }
                ]
            },
            {"A"},
        ),
        ({"Resources": ["arn:aws:dynamodb:eu-west-1:111111111111:table/*"]}, set()),  # another region
        ({}, {"A", "B", "C"}),  # nothing named: every supported resource
    ],
)
def test_selection_semantics(tmp_path: Path, spec: dict[str, Any], expected: set[str]) -> None:
    tables = {"A": _table("a", TAGS_A), "B": _table("b", TAGS_B), "C": _table("c")}
    assert _selected(tmp_path, spec, tables) == expected


def test_stack_tags_select_too(tmp_path: Path) -> None:
    spec = {"ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "backup", "ConditionValue": "yes"}]}
    assert _selected(tmp_path, spec, {"C": _table("c")}, tags={"backup": "yes"}) == {"C"}
    assert _selected(tmp_path, spec, {"C": _table("c")}, tags={"backup": "no"}) == set()


def test_an_imported_arn_selects_the_exporting_stacks_resource(tmp_path: Path) -> None:
    data = {"T": _table("t")}
    exports = {"Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["T", "Arn"]}, "Export": {"Name": "t-arn"}}}}
    backup_stack = {"Plan": _plan(), "Sel": _selection(Resources=[{"Fn::ImportValue": "t-arn"}])}
    assembly = _assembly(tmp_path, {"Data": ("us-east-1", data), "Backup": ("us-east-1", backup_stack)})
    data_stack = assembly.stack("Data")
    assert data_stack is not None
    data_stack.template.update(exports)
    policy = BackupPolicy.from_context({"protectedResourceTypes": ["DynamoDB"]})
    (table,) = [f for f in PolicyGate(policy, assembly).findings() if f.kind == "resource"]
    assert table.facts["selectedBy"] == ["s"]


@pytest.mark.parametrize(
    ("rule", "minutes"),
    [
        ({"schedule": "cron(0 * * * ? *)", "start_window": 60}, 120),  # hourly + the start window
        ({"schedule": None, "start_window": None}, 1440 + 480),  # AWS's defaults: cron(0 5 ? * * *), 8 h
        (
            {"schedule": "cron(0 2 * * ? *)", "start_window": 60, "ScheduleExpressionTimezone": "Europe/Berlin"},
            1440 + 60 + 60,
        ),
        (
            {"schedule": "cron(0 * * * ? *)", "start_window": 60, "EnableContinuousBackup": True},
            120,
        ),  # no PITR for DynamoDB
    ],
)
def test_rpo_from_the_selecting_plans_rules(tmp_path: Path, rule: dict[str, Any], minutes: int) -> None:
    resources = {"Plan": _plan(**rule), "Sel": _selection(), "T": _table("t")}
    assembly = _assembly(tmp_path, {"S": ("us-east-1", resources)})
    policy = BackupPolicy.from_context({"protectedResourceTypes": ["DynamoDB"]})
    (table,) = [f for f in PolicyGate(policy, assembly).findings() if f.kind == "resource"]
    assert table.facts["rpo"]["minutes"] == minutes


def test_dynamodb_point_in_time_recovery_counts_as_native_pitr(tmp_path: Path) -> None:
    pitr: dict[str, Any] = {"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}
    resources = {"Plan": _plan(schedule="cron(0 2 * * ? *)"), "Sel": _selection(), "T": _table("t", **pitr)}
    assembly = _assembly(tmp_path, {"S": ("us-east-1", resources)})
    policy = BackupPolicy.from_context({"protectedResourceTypes": ["DynamoDB"]})
    (table,) = [f for f in PolicyGate(policy, assembly).findings() if f.kind == "resource"]
    assert table.facts["rpo"] == {
        "minutes": 5,
        "via": "DynamoDB point-in-time recovery",
        "targetMinutes": 15,
        "meets": True,
    }


def test_copies_to_another_region_give_the_region_loss_rpo(tmp_path: Path) -> None:
    copy: dict[str, Any] = {
        "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:111111111111:backup-vault:dr"}]
    }
    resources = {"Plan": _plan(**copy), "Sel": _selection(), "T": _table("t")}
    assembly = _assembly(tmp_path, {"S": ("us-east-1", resources)})
    policy = BackupPolicy.from_context({"protectedResourceTypes": ["DynamoDB"]})
    (table,) = [f for f in PolicyGate(policy, assembly).findings() if f.kind == "resource"]
    assert table.facts["regionLossRpo"]["minutes"] == 120
    assert table.facts["regionLossRpo"]["via"] == "copies to us-west-2 (r)"
    assert "region-loss RPO 2 h via copies to us-west-2 (r) is above the target of 15 min" in table.violations
