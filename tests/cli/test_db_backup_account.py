"""``backupctl db restore --from-backup-account``: the isolated copy restored inside the backup account,
with that account's credentials only, never reading the workload account. AWS Backup and STS through
botocore's Stubber (every request checked against the API model), RDS in moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from backup_constructs.cli import db as cli_db
from backup_constructs.cli.main import main
from tests.conftest import ROOT
from tests.support.moto_aws import moto_aws, stubbed

REGION, WORKLOAD, BACKUP = "us-east-1", "111111111111", "222222222222"
VAULT = "ecommerce-backup-production-isolated"
SOURCE_ARN = f"arn:aws:rds:{REGION}:{WORKLOAD}:db:ecommerce-production"
ROLE = f"arn:aws:iam::{BACKUP}:role/ecommerce-backup-production-isolated-restore"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
OLD, NEW, PARTIAL = (f"arn:aws:rds:{REGION}:{BACKUP}:snapshot:awsbackup:copyjob-{n}" for n in ("old", "new", "partial"))


class World:
    def __init__(self, aws: Any, caller: str) -> None:
        self.aws = aws
        self.stubs = {service: stubbed(service, REGION) for service in ("backup", "sts")}
        self.caller = caller
        self.expect_caller()

    def expect_caller(self) -> None:
        arn = f"arn:aws:iam::{self.caller}:role/Restorer"
        self.stub("sts").add_response("get_caller_identity", {"Account": self.caller, "Arn": arn, "UserId": "AIDA"}, {})

    def client(self, service: str, region: str) -> Any:
        assert region == REGION
        return self.stubs[service][0] if service in self.stubs else self.aws.client(service)

    def stub(self, service: str) -> Stubber:
        return self.stubs[service][1]

    def expect_copies(self) -> None:
        points = [(OLD, NOW - timedelta(days=2), "COMPLETED"), (NEW, NOW - timedelta(hours=3), "COMPLETED"),
                  (PARTIAL, NOW - timedelta(minutes=20), "CREATING")]  # fmt: skip
        self.stub("backup").add_response(
            "list_recovery_points_by_backup_vault",
            {"RecoveryPoints": [{"RecoveryPointArn": a, "CreationDate": t, "Status": s} for a, t, s in points]},
            {"BackupVaultName": VAULT, "ByResourceArn": SOURCE_ARN},
        )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[World]:
    with moto_aws(REGION) as aws:
        state = World(aws, getattr(request, "param", BACKUP))
        for _, stubber in state.stubs.values():
            stubber.activate()
        monkeypatch.setattr(cli_db, "aws_client", state.client)
        yield state
        for _, stubber in state.stubs.values():
            stubber.deactivate()


def _restore(*extra: str) -> list[str]:
    return ["db", "restore", "--env", "production", "--cdk-json", str(ROOT / "cdk.json"), "--from-backup-account",
            "--target-instance", "ecommerce-production-recovered", "--json", *extra]  # fmt: skip


def test_the_newest_completed_copy_is_restored_in_the_backup_account_with_its_restore_role(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.expect_copies()
    world.stub("backup").add_response(
        "start_restore_job",
        {"RestoreJobId": "restore-1"},
        {
            "RecoveryPointArn": NEW,
            "IamRoleArn": ROLE,
            "ResourceType": "RDS",
            "Metadata": {
                "DBInstanceIdentifier": "ecommerce-production-recovered",
                "MultiAZ": "true",
                "PubliclyAccessible": "false",
                "CopyTagsToSnapshot": "true",
                "DeletionProtection": "true",
                "EnableIAMDatabaseAuthentication": "true",
                "DBSubnetGroupName": "recovery-subnets",
                "VpcSecurityGroupIds": '["sg-0123"]',
            },
        },
    )
    code = main(_restore("--latest", "--db-subnet-group", "recovery-subnets", "--security-group", "sg-0123"))
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"target": "ecommerce-production-recovered", "restoreJobId": "restore-1", "from": NEW}
    world.stub("backup").assert_no_pending_responses()


@pytest.mark.parametrize("world", [WORKLOAD], indirect=True)
def test_the_workload_accounts_credentials_are_refused_before_any_backup_call(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_restore("--latest", "--db-subnet-group", "g")) == 2
    err = capsys.readouterr().err
    assert f"these credentials are account {WORKLOAD}'s" in err and f"backup account {BACKUP}'s" in err
    world.stub("backup").assert_no_pending_responses()  # nothing was asked of AWS Backup


def test_a_point_in_time_is_refused_and_a_recovery_point_must_be_a_completed_copy_of_the_database(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_restore("--to-time", "2026-12-01T10:00:00Z")) == 2
    assert "no point in time" in capsys.readouterr().err
    world.expect_copies()
    assert main(_restore("--recovery-point", PARTIAL, "--db-subnet-group", "g")) == 2
    assert f"recovery point {PARTIAL} is CREATING, not COMPLETED" in capsys.readouterr().err
    world.expect_copies()
    world.expect_caller()
    other = f"arn:aws:rds:{REGION}:{BACKUP}:snapshot:awsbackup:copyjob-elsewhere"
    assert main(_restore("--recovery-point", other, "--db-subnet-group", "g")) == 2
    assert f"is not a copy of {SOURCE_ARN} in {VAULT}" in capsys.readouterr().err


def test_a_dry_run_names_the_copy_and_starts_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.expect_copies()
    assert main(_restore("--recovery-point", OLD, "--db-subnet-group", "g", "--dry-run")) == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["from"] == OLD and plan["role"] == ROLE and plan["account"] == BACKUP
    world.stub("backup").assert_no_pending_responses()
