"""backupctl db backup|restore and drill: the CLI against moto's RDS/S3 over HTTP and botocore's
Stubber for AWS Backup (so every Backup request is checked against the real API model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from backup_constructs.cli import db as cli_db
from backup_constructs.cli.main import main
from tests.conftest import ROOT
from tests.support.moto_aws import MotoAws, moto_aws, stubbed

REGION = "us-east-1"
ACCOUNT = "111111111111"
SOURCE = "ecommerce-production"
SOURCE_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{SOURCE}"
CDK_JSON = str(ROOT / "cdk.json")


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoAws]:
    with moto_aws(REGION) as aws:
        _seed(aws.client("rds"))
        yield aws


def _seed(rds: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=SOURCE,
        DBInstanceClass="db.m7g.large",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-secret-1",
        AllocatedStorage=100,
        BackupRetentionPeriod=7,
    )
    rds.create_db_instance(
        DBInstanceIdentifier="already-there",
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-secret-1",
        AllocatedStorage=20,
    )


@pytest.fixture
def backup_stub(moto: MotoAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    backup, stub = stubbed("backup", REGION)

    def aws_client(service: str, region: str) -> Any:
        assert region == REGION
        return backup if service == "backup" else moto.client(service)

    monkeypatch.setattr(cli_db, "aws_client", aws_client)
    with stub:
        yield stub


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_db_backup_starts_an_on_demand_job_with_the_daily_retention_and_waits(
    backup_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    backup_stub.add_response(
        "start_backup_job",
        {"BackupJobId": "job-1", "RecoveryPointArn": "arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1"},
        {
            "BackupVaultName": "ecommerce-backup-production",
            "ResourceArn": SOURCE_ARN,
            "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/ecommerce-backup-production-backup",
            "IdempotencyToken": ANY,
            "Lifecycle": {"DeleteAfterDays": 30},
            "RecoveryPointTags": ANY,
        },
    )
    backup_stub.add_response("describe_backup_job", {"BackupJobId": "job-1", "State": "RUNNING", "PercentDone": "40"})
    backup_stub.add_response(
        "describe_backup_job",
        {
            "BackupJobId": "job-1",
            "State": "COMPLETED",
            "RecoveryPointArn": "arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1",
        },
    )
    code, out, err = run(
        capsys, "db", "backup", "--env", "production", "--cdk-json", CDK_JSON, "--wait", "--json", "--poll-seconds", "0"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["state"] == "COMPLETED" and result["recoveryPoint"].endswith("rp-1")
    assert "backup job job-1 started" in err and "RUNNING" in err
    backup_stub.assert_no_pending_responses()


def test_db_restore_dry_run_prints_the_plan_and_changes_nothing(
    backup_stub: Stubber, moto: MotoAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "db", "restore", "--env", "production", "--cdk-json", CDK_JSON, "--latest",
        "--target-instance", "orders-restore", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    assert "dry run: nothing changed" in out and SOURCE in out and "orders-restore" in out
    ids = [d["DBInstanceIdentifier"] for d in moto.client("rds").describe_db_instances()["DBInstances"]]
    assert "orders-restore" not in ids


def test_db_restore_latest_creates_a_new_instance_and_leaves_the_source(
    backup_stub: Stubber, moto: MotoAws, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "db", "restore", "--env", "production", "--cdk-json", CDK_JSON, "--latest",
        "--target-instance", "orders-restore-2", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["target"] == "orders-restore-2"
    rds = moto.client("rds")
    (restored,) = rds.describe_db_instances(DBInstanceIdentifier="orders-restore-2")["DBInstances"]
    assert restored["DeletionProtection"] is True
    (source,) = rds.describe_db_instances(DBInstanceIdentifier=SOURCE)["DBInstances"]
    assert source["DBInstanceStatus"] == "available"


def test_restore_onto_an_existing_instance_is_refused(backup_stub: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "db", "restore", "--env", "production", "--cdk-json", CDK_JSON, "--latest",
        "--target-instance", "already-there",
    )  # fmt: skip
    assert code == 2 and "refused" in err and "already-there" in err


def test_restore_to_a_time_outside_the_window_is_refused_with_the_window(
    backup_stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "db", "restore", "--env", "production", "--cdk-json", CDK_JSON,
        "--to-time", "2001-01-01T00:00:00Z", "--target-instance", "orders-past",
    )  # fmt: skip
    assert code == 2 and "2001-01-01" in err
    now = datetime.now(UTC)
    assert f"{now - timedelta(days=7):%Y-%m-%d}" in err or f"{now:%Y-%m-%d}" in err  # the window's ends


def test_unknown_environment_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "db", "backup", "--env", "qa", "--cdk-json", CDK_JSON)
    assert code == 2 and "environment: got 'qa'; allowed: production, staging" in err


def test_drill_assesses_and_reports_each_step_with_a_status(
    backup_stub: Stubber, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cdk_json = tmp_path / "cdk.json"
    context = json.loads((ROOT / "cdk.json").read_text())
    del context["context"]["environments"]["production"]["kubernetes"]
    cdk_json.write_text(json.dumps(context))
    backup_stub.add_response(
        "list_recovery_points_by_resource",
        {
            "RecoveryPoints": [
                {
                    "RecoveryPointArn": "arn:aws:backup:us-east-1:111111111111:recovery-point:rp-9",
                    "CreationDate": datetime.now(UTC) - timedelta(hours=3),
                    "Status": "COMPLETED",
                }
            ]
        },
        {"ResourceArn": SOURCE_ARN, "MaxResults": ANY},
    )
    code, out, err = run(
        capsys, "drill", "--env", "production", "--cdk-json", str(cdk_json), "--skip-restore",
        "--report-dir", str(tmp_path / "reports"), "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    statuses = {s["step"]: s["status"] for s in report["steps"]}
    assert statuses == {"assess": "OK", "restore": "SKIPPED", "verify": "SKIPPED", "report": "OK"}
    (markdown,) = (tmp_path / "reports").glob("drill-production-*.md")
    text = markdown.read_text()
    assert "| assess | OK |" in text
    # Nothing was restored (--skip-restore): the timeline says the copy never became available.
    assert "| drill started | " in text and "| restored copy available | not reached | | |" in text
    assert "Service not back (restored copy available not reached): the RTO of 60 min is not met." in text
    assert all("startedAt" in s and "finishedAt" in s for s in report["steps"] if s["step"] == "assess")
    assert "drill step assess" in err
