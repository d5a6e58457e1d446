"""The whole app: stacks per environment, cdk-nag, cfn-lint, determinism and snapshots."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from backup_constructs.core.bundling import CACHE_ENV, cache_root
from backup_constructs.testing import snapshot_template
from tests.conftest import ROOT, Synthesized, synth_app

EXPECTED_STACKS = {
    "ecommerce-production-dr-replica": "us-west-2",
    "ecommerce-production-backup-dr": "us-west-2",
    "ecommerce-production-data": "us-east-1",
    "ecommerce-production-backup": "us-east-1",
    "ecommerce-staging-data": "us-east-1",
    "ecommerce-staging-backup": "us-east-1",
    "ecommerce-production-config-backup": "us-east-1",
    "ecommerce-staging-config-backup": "us-east-1",
    "ecommerce-production-monitoring": "us-east-1",
    "ecommerce-staging-monitoring": "us-east-1",
    # Deployed with the backup account's and the management account's own credentials.
    "ecommerce-production-backup-account": "us-east-1",
    "ecommerce-production-organization": "us-east-1",
}


def test_every_environment_gets_its_stacks_in_the_right_regions(synthesized: Synthesized) -> None:
    assert synthesized.regions == EXPECTED_STACKS


def test_production_stacks_have_termination_protection_and_staging_does_not(synthesized: Synthesized) -> None:
    for name, protected in synthesized.termination_protection.items():
        assert protected is ("production" in name), name


def test_database_is_multi_az_encrypted_tagged_and_exports_logs_to_explicit_groups(synthesized: Synthesized) -> None:
    for env in ("production", "staging"):
        (db,) = synthesized.resources(f"ecommerce-{env}-data", "AWS::RDS::DBInstance").values()
        props = db["Properties"]
        assert props["MultiAZ"] is True and props["StorageEncrypted"] is True
        assert props["PreferredBackupWindow"] == "02:00-04:00"
        assert props["EnableIAMDatabaseAuthentication"] is True
        assert props["ManageMasterUserPassword"] is False  # the stack's own secret (see test_region_loss)
        assert {"Key": "backup-policy", "Value": env} in props["Tags"]
        assert props["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
        groups = synthesized.resources(f"ecommerce-{env}-data", "AWS::Logs::LogGroup").values()
        names = {g["Properties"].get("LogGroupName") for g in groups}
        assert {f"/aws/rds/instance/ecommerce-{env}/postgresql", f"/aws/rds/instance/ecommerce-{env}/upgrade"} <= names
        assert db["DeletionPolicy"] == "Snapshot"


def test_instance_retention_matches_who_manages_automated_backups(synthesized: Synthesized) -> None:
    (prod,) = synthesized.resources("ecommerce-production-data", "AWS::RDS::DBInstance").values()
    (staging,) = synthesized.resources("ecommerce-staging-data", "AWS::RDS::DBInstance").values()
    assert prod["Properties"]["BackupRetentionPeriod"] == 7  # continuous rule's PITR window
    assert staging["Properties"]["BackupRetentionPeriod"] == 30


@pytest.mark.parametrize(("env", "days"), [("production", 90), ("staging", 30)])
def test_every_log_group_has_the_environments_retention_and_a_kms_key(
    synthesized: Synthesized, env: str, days: int
) -> None:
    groups = [
        g
        for name in synthesized.templates
        if name.startswith(f"ecommerce-{env}-")
        for g in synthesized.resources(name, "AWS::Logs::LogGroup").values()
    ]
    assert len(groups) >= 5
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == days
        assert "KmsKeyId" in group["Properties"]


def test_every_lambda_function_logs_to_an_explicit_log_group(synthesized: Synthesized) -> None:
    functions = [
        (name, fn)
        for name in synthesized.templates
        for fn in synthesized.resources(name, "AWS::Lambda::Function").values()
    ]
    assert functions, "the VPC's default-security-group restriction brings at least one function"
    for name, fn in functions:
        ref = fn["Properties"]["LoggingConfig"]["LogGroup"]
        assert ref["Ref"] in synthesized.resources(name, "AWS::Logs::LogGroup")


def test_every_project_function_runs_the_runtime_its_wheels_were_built_for(synthesized: Synthesized) -> None:
    """The project's own functions (handler in the runtime package) all declare the bundling's
    runtime and architecture; CDK's provider functions pick their own."""
    from backup_constructs.core.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

    seen = 0
    for name in synthesized.templates:
        for fn in synthesized.resources(name, "AWS::Lambda::Function").values():
            if not fn["Properties"]["Handler"].startswith("lambdas."):
                continue
            seen += 1
            assert fn["Properties"]["Runtime"] == LAMBDA_RUNTIME.name
            assert fn["Properties"]["Architectures"] == [LAMBDA_ARCHITECTURE.name]
    assert seen >= 10, seen


def test_default_security_group_is_restricted(synthesized: Synthesized) -> None:
    for env in ("production", "staging"):
        assert synthesized.resources(f"ecommerce-{env}-data", "Custom::VpcRestrictDefaultSG")


def test_backup_stack_selects_the_database_by_arn_without_a_cross_stack_export(synthesized: Synthesized) -> None:
    selections = synthesized.resources("ecommerce-production-backup", "AWS::Backup::BackupSelection").values()
    assert len(selections) == 2  # the main plan's and the isolated copies' plan's: the same resources
    for selection in selections:
        (arn,) = selection["Properties"]["BackupSelection"]["Resources"]
        assert "db:ecommerce-production" in json.dumps(arn)
    assert "Outputs" not in synthesized.templates["ecommerce-production-data"]


def test_dr_vault_lives_in_the_dr_region_with_the_name_the_copies_use(synthesized: Synthesized) -> None:
    (vault,) = synthesized.resources("ecommerce-production-backup-dr", "AWS::Backup::BackupVault").values()
    assert vault["Properties"]["BackupVaultName"] == "ecommerce-backup-production-dr"
    plans = synthesized.resources("ecommerce-production-backup", "AWS::Backup::BackupPlan").values()
    (plan,) = [p for p in plans if p["Properties"]["BackupPlan"]["BackupPlanName"] == "ecommerce-backup-production"]
    copies = json.dumps(plan["Properties"]["BackupPlan"]["BackupPlanRule"])
    assert "us-west-2" in copies and "backup-vault:ecommerce-backup-production-dr" in copies


def test_cdk_nag_packs_leave_no_unacknowledged_finding_and_every_acknowledgement_has_a_reason(
    synthesized: Synthesized,
) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    # A pack with nothing to report (found or acknowledged) is left out of the report.
    assert "AwsSolutions" in plugins
    assert set(plugins) <= {"AwsSolutions", "PCI.DSS.321", "CloudFormation Validate"}
    for plugin in plugins.values():
        assert plugin["violations"] == [], plugin["violations"]
        for suppressed in plugin.get("suppressedViolations", []):
            assert len(suppressed["reason"]) > 40, suppressed


def test_the_app_registers_the_pci_dss_pack(tmp_path: Path) -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_iam as iam

    from app import build_app

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = build_app(App(outdir=str(tmp_path), context={**context, "environment": "staging"}))
    stack = app.node.find_child("ecommerce-staging-data")
    assert isinstance(stack, Stack)
    role = iam.Role(stack, "InlineRole", assumed_by=iam.ServicePrincipal("backup.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["backup:ListBackupJobs"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {(p["pluginName"], v["ruleName"]) for p in report["pluginReports"] for v in p["violations"]}
    assert ("PCI.DSS.321", "PCI.DSS.321-IAMNoInlinePolicy") in rules


def test_an_acknowledgement_on_one_construct_does_not_hide_the_same_finding_on_another(tmp_path: Path) -> None:
    from aws_cdk import Acknowledgment, App, Stack, Validations
    from aws_cdk import aws_iam as iam
    from cdk_nag import AwsSolutionsChecks

    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Nag")
    roles = {}
    for name in ("Acknowledged", "NotAcknowledged"):
        roles[name] = iam.Role(
            stack,
            name,
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess")],
        )
    Validations.of(roles["Acknowledged"]).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]",
            reason="test: this role alone may use the AWS managed policy",
        )
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = report["pluginReports"]
    flagged = {c["constructPath"] for v in plugin["violations"] for c in v["violatingConstructs"]}
    suppressed = {c["constructPath"] for v in plugin["suppressedViolations"] for c in v["violatingConstructs"]}
    assert flagged == {"Nag/NotAcknowledged/Resource"}
    assert suppressed == {"Nag/Acknowledged/Resource"}


def test_cfn_lint_finds_no_errors_in_any_template(synthesized: Synthesized) -> None:
    templates = sorted(str(p) for p in synthesized.outdir.glob("*.template.json"))
    assert len(templates) == len(EXPECTED_STACKS)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line.split(" ")[0] or re.search(r":E\d{4}:", line)]
    assert errors == [], result.stdout
    assert result.returncode in (0, 4, 8), result.stdout + result.stderr  # 4/8: warnings/info only


def test_two_synths_give_byte_identical_templates(synthesized: Synthesized, tmp_path: Path) -> None:
    again = synth_app(tmp_path / "again")
    for template in synthesized.outdir.glob("*.template.json"):
        assert (again.outdir / template.name).read_bytes() == template.read_bytes(), template.name


@pytest.mark.parametrize("stack", sorted(EXPECTED_STACKS))
def test_snapshot(synthesized: Synthesized, snapshot: SnapshotAssertion, stack: str) -> None:
    assert snapshot_template(synthesized.templates[stack]) == snapshot(extension_class=JSONSnapshotExtension)


def test_policy_overrides_in_context_change_the_synthesized_plan(tmp_path: Path) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["environment"] = "staging"
    context["environments"]["staging"]["policy"] = {"logRetentionDays": 60}
    out = synth_app(tmp_path, context)
    assert set(out.templates) == {
        "ecommerce-staging-data",
        "ecommerce-staging-backup",
        "ecommerce-staging-config-backup",
        "ecommerce-staging-monitoring",
    }
    groups = out.resources("ecommerce-staging-data", "AWS::Logs::LogGroup").values()
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {60}


@pytest.mark.parametrize(
    ("stack", "type_", "logical_id"),
    [
        ("ecommerce-production-backup", "AWS::Backup::BackupVault", "StrategyVaultE2412DCF"),
        ("ecommerce-production-backup", "AWS::KMS::Key", "StrategyVaultKey97081199"),
        ("ecommerce-production-backup", "AWS::Backup::BackupPlan", "StrategyPlan9006526C"),
        ("ecommerce-production-backup-dr", "AWS::Backup::BackupVault", "DrVault9B18B771"),
        ("ecommerce-production-data", "AWS::RDS::DBInstance", "DatabaseB269D8BB"),
        ("ecommerce-production-data", "AWS::KMS::Key", "DatabaseKey7576F140"),
        ("ecommerce-production-backup-dr", "AWS::KMS::Key", "DrVaultKeyAC7BD0B8"),
    ],
)
def test_logical_ids_of_stateful_resources_are_pinned(
    synthesized: Synthesized, stack: str, type_: str, logical_id: str
) -> None:
    """Renaming a construct that holds data would replace the resource: these ids are a contract."""
    assert logical_id in synthesized.resources(stack, type_)


def test_the_cdk_cli_synthesizes_every_stack_without_aws_credentials(tmp_path: Path) -> None:
    """The main job's own path: the pinned CDK CLI runs cdk.json's app command."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.skip("node_modules not installed (make test installs it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "HOME": str(tmp_path),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        # The wheel cache survives the empty HOME: the bundles are built as the main job builds them,
        # without downloading the same wheels again.
        CACHE_ENV: str(cache_root()),
    }
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "--output", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.template.json")) == sorted(
        f"{name}.template.json" for name in EXPECTED_STACKS
    )
    assert "Node 20 is end-of-life" not in result.stderr
