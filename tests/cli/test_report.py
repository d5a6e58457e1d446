"""backupctl report: the guide's tables regenerated from the policy, golden-checked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from backup_constructs.cli.main import main
from backup_constructs.cli.report import render_report
from backup_constructs.policy import BackupPolicy
from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
PRESETS = [BackupPolicy.production(), BackupPolicy.staging()]


def test_checked_in_strategy_document_is_up_to_date_with_the_policy() -> None:
    expected = render_report(PRESETS, "markdown")
    actual = (ROOT / "docs" / "backup-strategy.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/backup-strategy.md is out of date: run "
        "`backupctl report --presets --format markdown --output docs/backup-strategy.md`"
    )


def test_text_report_matches_the_golden_output() -> None:
    assert render_report(PRESETS, "text") == (GOLDEN / "report-presets.txt").read_text(encoding="utf-8")


def test_report_reproduces_the_guides_tables() -> None:
    text = render_report(PRESETS, "markdown")
    for row in (
        "| daily-full | daily | 30 days | full system recovery | us-west-2, 30 days |",
        "| hourly-incremental | hourly | 7 days | point-in-time recovery | us-west-2, 7 days |",
        "| transaction-log | continuous (point-in-time) | 7 days | minimal data loss | - |",
        "| configuration | on every deploy + every 6 h | 90 days |",
        "| backup window (UTC) | 02:00-04:00 |",
        "| logs (CloudWatch Logs) | 30 days |",
        "| RDS | in-region | 5 min | 15 min | meets | RDS automated backups (PITR, 30 d) |",
        "| RDS | in-region | 5 min | 15 min | meets | AWS Backup continuous backup (PITR, 7 d) |",
        "| RDS | region loss | 1 min | 15 min | meets | cross-Region read replica in us-west-2",
        "| in-region target | < 1 h: restore the newest recovery point",
        "| region loss target | < 1 h: promote the read replica in us-west-2",
        "| region loss | through a deploy | 15 min | exported by the deploy + replication to us-west-2",
    ):
        assert row in text, row


def test_region_loss_relaxed_to_copies_shows_the_gap_and_the_restore_path() -> None:
    copies = BackupPolicy.from_context(
        {"regionLoss": {"rpoTargetMinutes": None, "mechanisms": [{"resourceType": "RDS", "mechanism": "copies"}]}}
    )
    text = render_report([copies], "markdown")
    assert "| RDS | region loss | 25 h | not held | meets | copies in us-west-2" in text
    assert "| region loss target | < 1 h: restore the newest copy in us-west-2 as a new instance" in text


def test_a_policy_change_changes_the_report() -> None:
    longer = dataclasses.replace(BackupPolicy.staging(), log_retention_days=365)
    assert "| logs (CloudWatch Logs) | 365 days |" in render_report([longer], "markdown")


def test_cli_report_for_one_environment_from_cdk_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--env", "staging", "--cdk-json", str(ROOT / "cdk.json")]) == 0
    out = capsys.readouterr().out
    assert "Backup types (staging)" in out and "production" not in out


def test_cli_report_writes_the_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "strategy.md"
    assert main(["report", "--presets", "--format", "markdown", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render_report(PRESETS, "markdown")


def test_cli_report_refuses_an_unknown_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--env", "prod", "--cdk-json", str(ROOT / "cdk.json")]) == 2
    assert "environment: got 'prod'; allowed: production, staging" in capsys.readouterr().err


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="format: got 'html'"):
        render_report(PRESETS, "html")


def test_the_threat_model_cites_only_tests_that_exist() -> None:
    """docs/threat-model.md backs each claim with a test by name: every one it names must exist."""
    import re

    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    cited = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(cited) >= 8
    missing = [f"{path}::{name}" for path, name in cited if f"def {name}(" not in (ROOT / path).read_text()]
    assert missing == []
    for path in re.findall(r"`(tests/[\w/.]+)`", text):
        assert (ROOT / path).exists(), path


def test_the_diagram_shows_each_store_with_its_retention_and_each_path_with_its_rpo_from_the_policy() -> None:
    from backup_constructs.cli.report import mermaid_diagram
    from backup_constructs.policy import BackupPolicy

    production = "\n".join(mermaid_diagram(BackupPolicy.production()))
    assert production.startswith("```mermaid\nflowchart LR")
    for wanted in (
        'db -- "backups, RPO 5 min" --> vault',
        "DR vault ecommerce-backup-production-dr (us-west-2)<br/>daily-full 30 d, hourly-incremental 7 d",
        'db -- "replication, RPO 1 min" --> replica',
        "ecommerce-backup-production-isolated (backup account)<br/>35 d, compliance lock",
        'vault -- "daily copy, RPO 28 h" --> iso',
        "configuration bucket<br/>90 d, Object Lock compliance",
        'bucket -- "S3 replication (RTC)" --> cfgdr',
    ):
        assert wanted in production, wanted
    changed = "\n".join(mermaid_diagram(BackupPolicy.from_context({"rules": {"daily-full": {"retentionDays": 60}}})))
    assert "daily-full 60 d" in changed and "daily-full 30 d, hourly" not in changed.split("dr[")[0]
    staging = "\n".join(mermaid_diagram(BackupPolicy.staging()))
    assert "dr[" not in staging and "iso[" not in staging and "replica" not in staging
    assert "Object Lock governance" in staging
