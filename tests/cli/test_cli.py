"""The backupctl CLI: the synth summary and its refusals."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from backup_constructs.cli.main import main
from tests.conftest import ROOT, Synthesized


def test_summary_reports_each_environment_what_was_built_and_the_achieved_rpo(
    synthesized: Synthesized, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--assembly", str(synthesized.outdir), "--cdk-json", str(ROOT / "cdk.json")]) == 0
    out = capsys.readouterr().out
    assert "== production (111111111111, us-east-1, DR us-west-2)" in out
    assert "== staging (111111111111, us-east-1)" in out
    for stack in synthesized.templates:
        assert stack in out
    assert "daily-full           snapshot           every 1 d   kept 30 d, copy to us-west-2 kept 30 d" in out
    assert "transaction-log      continuous (PITR)" in out
    # The other accounts' stacks say whose they are; the SCP artifact and the account-loss RPO are shown.
    assert (
        "ecommerce-production-backup-account" in out and "(account 222222222222, deployed with its credentials)" in out
    )
    assert "service control policy: " in out and "production-backup-protection-scp.json" in out
    assert "RDS      losing the account      28 h (target none) reported, not held" in out
    assert "RDS      in-region              5 min (target 15 min) meets  via AWS Backup continuous backup" in out
    assert (
        "RDS      losing us-east-1       1 min (target 15 min) meets  via cross-Region read replica in us-west-2" in out
    )
    assert "RDS      in-region              5 min (target 15 min) meets  via RDS automated backups (PITR, 30 d)" in out
    assert "region loss  target 1 h: promote the read replica in us-west-2" in out
    assert "region loss  through a deploy   15 min  exported by the deploy + replication to us-west-2" in out
    assert "logs: kept 30 d; metrics: 15 months" in out
    assert "window 02:00-04:00 UTC, retention 30 d, PITR 7 d, Multi-AZ on" in out


def test_summary_refuses_an_unknown_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--env", "prod", "--cdk-json", str(ROOT / "cdk.json")]) == 2
    assert "environment: got 'prod'; allowed: production, staging" in capsys.readouterr().err


def test_summary_reports_a_missing_assembly_as_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["summary", "--assembly", "/nonexistent", "--cdk-json", str(ROOT / "cdk.json")])
    assert code == 2
    assert "/nonexistent/manifest.json" in capsys.readouterr().err


def test_cli_does_not_import_aws_cdk_for_non_synth_commands() -> None:
    code = "import sys, backup_constructs.cli.main, backup_constructs.cli.summary; print('aws_cdk' in sys.modules)"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
    assert time.perf_counter() - started < 30  # sanity bound only; speed is measured in benchmarks
