"""backupctl dr failover, end to end with the primary region unreachable: RDS, CloudWatch and S3 on
moto's server in the DR region; AWS Backup, Secrets Manager and Lambda through botocore's Stubber on
real clients (each request checked against the API model); the integrity checks against a real
PostgreSQL server, signed in with a real IAM token as the validator user."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from backup_constructs.cli import db as cli_db
from backup_constructs.cli.main import main
from backup_constructs.policy.environments import DATABASE_NAME
from lambdas.contract.layout import VALIDATOR_USER
from tests.conftest import ROOT
from tests.support.moto_aws import MotoAws, moto_aws, stubbed
from tests.support.postgres_server import PostgresServer

PRIMARY, DR = "us-east-1", "us-west-2"
ACCOUNT = "111111111111"
SOURCE, REPLICA = "ecommerce-production", "ecommerce-production-dr"
SECRET = "ecommerce-production/database/master"
DR_VAULT = "ecommerce-backup-production-dr"
CONFIG_BUCKET = f"ecommerce-backup-production-config-{ACCOUNT}-{DR}"
MASTER_PASSWORD = "failover-master-Pw-0918zz"
RESTORE_FUNCTION = "ecommerce-backup-production-config-restore-dr"
OUTAGE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=25)
NEWEST_BEAT = OUTAGE - timedelta(minutes=2)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """The promoted database as the DR region has it: the shop's tables and the replicated heartbeat."""
    with PostgresServer() as pg:
        pg.run_sql(f"CREATE DATABASE {DATABASE_NAME}")
        pg.create_user(VALIDATOR_USER, "replaced-by-the-iam-token")
        pg.run_sql(f"GRANT pg_read_all_data TO {VALIDATOR_USER}")
        pg.run_sql(
            f"""
            CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);
            CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL);
            CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, created_at timestamptz NOT NULL);
            CREATE TABLE order_items (order_id bigint, product_id bigint, quantity int NOT NULL);
            INSERT INTO customers VALUES (1, 'a@example.com');
            INSERT INTO products VALUES (1, 'kettle');
            INSERT INTO orders VALUES (1, 1, '{(OUTAGE - timedelta(minutes=4)).isoformat()}');
            INSERT INTO order_items VALUES (1, 1, 2);
            CREATE SCHEMA backup_heartbeat;
            CREATE TABLE backup_heartbeat.beats (beat_at timestamptz PRIMARY KEY);
            INSERT INTO backup_heartbeat.beats VALUES ('{(NEWEST_BEAT - timedelta(minutes=1)).isoformat()}'),
                ('{NEWEST_BEAT.isoformat()}');
            """,
            database=DATABASE_NAME,
        )
        yield pg


class RdsAcceptingItsTokens:
    """moto's RDS, whose IAM tokens the test server then accepts as the validator's password (what RDS
    does with IAM database authentication); botocore signs the token as for the real service.

    One gap of moto is filled: it keeps ``ReadReplicaSourceDBInstanceIdentifier`` on a promoted
    cross-Region replica, where RDS reports the instance ``modifying`` and then a standalone
    ``available`` instance without it. Every request still goes to moto."""

    def __init__(self, rds: Any, server: PostgresServer) -> None:
        self.rds, self.server = rds, server
        self.tokens: list[dict[str, Any]] = []
        self.promoted: dict[str, int] = {}  # instance -> describes until RDS reports it available
        self.promotions: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rds, name)

    def promote_read_replica(self, **kwargs: Any) -> Any:
        response = self.rds.promote_read_replica(**kwargs)
        self.promotions.append(kwargs)
        self.promoted[kwargs["DBInstanceIdentifier"]] = 2
        return response

    def describe_db_instances(self, **kwargs: Any) -> Any:
        response = self.rds.describe_db_instances(**kwargs)
        for instance in response["DBInstances"]:
            remaining = self.promoted.get(instance["DBInstanceIdentifier"])
            if remaining is None:
                continue
            instance.pop("ReadReplicaSourceDBInstanceIdentifier", None)
            if remaining > 0:
                instance["DBInstanceStatus"] = "modifying"
                self.promoted[instance["DBInstanceIdentifier"]] = remaining - 1
        return response

    def generate_db_auth_token(self, **kwargs: Any) -> str:
        token = str(self.rds.generate_db_auth_token(**kwargs))
        self.tokens.append(kwargs)
        self.server.run_sql(f"ALTER USER {VALIDATOR_USER} PASSWORD '{token.replace(chr(39), chr(39) * 2)}'")
        return token


@dataclass
class World:
    aws: MotoAws
    tmp: Path
    server: PostgresServer
    rds: RdsAcceptingItsTokens
    stubs: dict[str, tuple[Any, Stubber]] = field(default_factory=dict)
    primary_requested: list[str] = field(default_factory=list)

    def client(self, service: str, region: str) -> Any:
        if region != DR:  # the primary region is down: its endpoints answer nothing
            self.primary_requested.append(service)
            return boto3.client(
                service,
                region_name=region,
                endpoint_url="http://127.0.0.1:9",
                aws_access_key_id="AKIDEXAMPLE",
                aws_secret_access_key="unreachable",
                config=Config(connect_timeout=1, retries={"max_attempts": 1}),
            )
        if service == "rds":
            return self.rds
        if service in self.stubs:
            return self.stubs[service][0]
        return self.aws.client(service)

    def stub(self, service: str) -> Stubber:
        if service not in self.stubs:
            client, stubber = stubbed(service, DR)
            stubber.activate()
            self.stubs[service] = (client, stubber)
        return self.stubs[service][1]

    def replica(self) -> dict[str, Any]:
        (instance,) = self.rds.describe_db_instances(DBInstanceIdentifier=REPLICA)["DBInstances"]
        return dict(instance)

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main(
            [
                "dr", "failover", "--env", "production", "--cdk-json", str(ROOT / "cdk.json"),
                "--state-dir", str(self.tmp / "state"), "--report-dir", str(self.tmp / "reports"),
                "--poll-seconds", "0", "--wait-minutes", "1", *argv,
            ]
        )  # fmt: skip
        out = capsys.readouterr()
        return code, out.out, out.err


@pytest.fixture
def world(server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with moto_aws(DR) as aws:
        requests.post(f"{aws.endpoint}/moto-api/reset", timeout=10).raise_for_status()  # backends are global
        primary_rds = aws.client("rds", PRIMARY)
        primary_rds.create_db_instance(
            DBInstanceIdentifier=SOURCE,
            DBInstanceClass="db.m7g.large",
            Engine="postgres",
            MasterUsername="postgres",
            MasterUserPassword=MASTER_PASSWORD,
            AllocatedStorage=100,
            BackupRetentionPeriod=30,
        )
        aws.client("rds").create_db_instance_read_replica(
            DBInstanceIdentifier=REPLICA,
            SourceDBInstanceIdentifier=f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:{SOURCE}",
            DBInstanceClass="db.m7g.large",
        )
        # ReplicaLag as RDS published it in the DR region until the primary went away.
        aws.client("cloudwatch").put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "ReplicaLag",
                    "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA}],
                    "Timestamp": OUTAGE - timedelta(minutes=minutes),
                    "Value": lag,
                    "Unit": "Seconds",
                }
                for minutes, lag in ((3, 4.0), (2, 5.0), (1, 30.0))
            ],
        )
        s3 = aws.client("s3", DR)
        s3.create_bucket(Bucket=CONFIG_BUCKET, CreateBucketConfiguration={"LocationConstraint": DR})
        backup_id = f"{OUTAGE - timedelta(minutes=40):%Y%m%dT%H%M%SZ}"
        manifest = {"backupId": backup_id, "objects": [{"kind": "ConfigMap"}], "files": {}, "createdAt": ""}
        s3.put_object(
            Bucket=CONFIG_BUCKET,
            Key=f"ecommerce-production/production/{backup_id}/manifest.json",
            Body=json.dumps(manifest).encode(),
        )
        state = World(aws, tmp_path, server, RdsAcceptingItsTokens(aws.client("rds"), server))
        monkeypatch.setattr(cli_db, "aws_client", state.client)
        yield state
        for _, stubber in state.stubs.values():
            stubber.deactivate()
    assert state.primary_requested == [], "a step needed the lost primary region"


def expect_assessment(world: World) -> None:
    world.stub("backup").add_response(
        "list_recovery_points_by_backup_vault",
        {
            "RecoveryPoints": [
                {
                    "RecoveryPointArn": f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-a1",
                    "CreationDate": OUTAGE - timedelta(hours=20),
                    "Status": "COMPLETED",
                },
                {
                    "RecoveryPointArn": f"arn:aws:rds:{DR}:{ACCOUNT}:snapshot:awsbackup:copyjob-a2",
                    "CreationDate": OUTAGE - timedelta(minutes=10),
                    "Status": "CREATING",
                },
            ]
        },
        {"BackupVaultName": DR_VAULT, "ByResourceArn": f"arn:aws:rds:{PRIMARY}:{ACCOUNT}:db:{SOURCE}"},
    )


def expect_secret(world: World, *, fail_the_write: bool) -> None:
    secrets = world.stub("secretsmanager")
    arn = f"arn:aws:secretsmanager:{DR}:{ACCOUNT}:secret:{SECRET}-Ab12Cd"
    secrets.add_response(
        "describe_secret", {"ARN": arn, "Name": SECRET, "PrimaryRegion": PRIMARY}, {"SecretId": SECRET}
    )
    secrets.add_response("stop_replication_to_replica", {"ARN": arn}, {"SecretId": SECRET})
    value = {"username": "postgres", "password": MASTER_PASSWORD, "host": f"{SOURCE}.primary.example", "port": 5432}
    secrets.add_response(
        "get_secret_value", {"ARN": arn, "Name": SECRET, "SecretString": json.dumps(value)}, {"SecretId": SECRET}
    )
    if fail_the_write:
        secrets.add_client_error("put_secret_value", "InternalServiceError", "try again", 500)


def expect_secret_after_resume(world: World, host: str) -> None:
    """The replica secret is standalone already; the resumed step writes the new host and keeps the rest."""
    secrets = world.stub("secretsmanager")
    arn = f"arn:aws:secretsmanager:{DR}:{ACCOUNT}:secret:{SECRET}-Ab12Cd"
    secrets.add_response("describe_secret", {"ARN": arn, "Name": SECRET}, {"SecretId": SECRET})
    value = {"username": "postgres", "password": MASTER_PASSWORD, "host": f"{SOURCE}.primary.example", "port": 5432}
    secrets.add_response(
        "get_secret_value", {"ARN": arn, "Name": SECRET, "SecretString": json.dumps(value)}, {"SecretId": SECRET}
    )
    wanted = json.dumps({**value, "host": host, "port": 5432})
    secrets.add_response("put_secret_value", {"ARN": arn, "Name": SECRET}, {"SecretId": SECRET, "SecretString": wanted})


def expect_configuration_restore(world: World) -> None:
    payload = {"backupId": "20261201T230000Z", "counts": {"applied": 12}, "restarted": ["ecommerce-backend"]}
    body = json.dumps(payload).encode()
    world.stub("lambda").add_response(
        "invoke",
        {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))},
        {"FunctionName": RESTORE_FUNCTION, "Payload": json.dumps({"namespace": "production"}).encode()},
    )


def test_dry_run_assesses_from_the_dr_region_and_changes_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_assessment(world)
    code, out, err = world.run(capsys, "--dry-run", "--json")
    assert code == 0, err
    result = json.loads(out)
    replica = result["assessment"]["replica"]
    assert replica["replicaOf"] and replica["lagSeconds"] == 30.0
    assert replica["lastDataPointAt"] == (OUTAGE - timedelta(minutes=1)).isoformat()
    assert result["assessment"]["newestCopy"]["recoveryPointArn"].endswith("copyjob-a1")  # CREATING is not restorable
    assert result["assessment"]["configuration"]["namespaces"]["production"]["backupId"]
    assert result["plan"][0].startswith(f"promote: promote {REPLICA}")
    assert world.replica().get("ReadReplicaSourceDBInstanceIdentifier")  # still a replica
    assert not (world.tmp / "state").exists()
    world.stub("backup").assert_no_pending_responses()


def test_failover_promotes_repoints_restores_verifies_and_resumes_after_a_failure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_assessment(world)
    expect_secret(world, fail_the_write=True)
    code, out, err = world.run(capsys, "--yes", "--outage-started", OUTAGE.isoformat())
    assert code == 1
    assert "credentials    FAILED   InternalServiceError" in out
    assert "data-loss window 1.5 min" in out  # before the checks: replica lag 30 s at the last point, 1 min before
    assert "--resume" in err
    assert world.rds.promotions == [
        # As on the primary: AWS Backup's continuous rule manages the automated backups (the 7-day PITR
        # window); the daily rule's snapshots keep the guide's 30 days.
        {"DBInstanceIdentifier": REPLICA, "BackupRetentionPeriod": 7, "PreferredBackupWindow": "02:00-04:00"}
    ]
    assert "waiting for ecommerce-production-dr (modifying)" in err
    promoted = world.replica()
    assert not promoted.get("ReadReplicaSourceDBInstanceIdentifier") and promoted["DBInstanceStatus"] == "available"
    assert promoted["BackupRetentionPeriod"] == 7 and promoted["PreferredBackupWindow"] == "02:00-04:00"
    tags = world.aws.client("rds").list_tags_for_resource(ResourceName=promoted["DBInstanceArn"])["TagList"]
    assert {"Key": "backup-failover", "Value": "production"} in tags  # the DR failover plan's selection
    state = json.loads((world.tmp / "state" / "failover-production.json").read_text())
    assert {k: v["status"] for k, v in state["steps"].items()} == {
        "assess": "OK",
        "promote": "OK",
        "credentials": "FAILED",
    }
    assert MASTER_PASSWORD not in json.dumps(state) + out + err

    code, _, err = world.run(capsys, "--yes")
    assert code == 2 and "continue it with --resume" in err

    endpoint = promoted["Endpoint"]["Address"]
    expect_secret_after_resume(world, endpoint)
    expect_configuration_restore(world)
    code, out, err = world.run(
        capsys, "--resume", "--json", "--db-host", world.server.host, "--db-port", str(world.server.port)
    )
    assert code == 0, err
    assert "failover step assess: done earlier" in err and "failover step promote: done earlier" in err
    assert len(world.rds.promotions) == 1  # not promoted twice
    for _, stubber in world.stubs.values():
        stubber.assert_no_pending_responses()
    report = json.loads(out)
    statuses = {s["step"]: s["status"] for s in report["steps"]}
    assert statuses == {"assess": "OK", "promote": "OK", "credentials": "OK", "configuration": "OK", "verify": "OK"}
    assert report["ok"] and report["verified"]
    assert (
        world.rds.tokens and world.rds.tokens[0]["Region"] == DR and world.rds.tokens[0]["DBUsername"] == VALIDATOR_USER
    )
    assert report["dataLoss"]["newestWrite"] == NEWEST_BEAT.isoformat()
    assert report["dataLoss"]["source"] == "newest heartbeat"
    assert report["dataLoss"]["minutes"] == 2.0 and report["dataLoss"]["withinTarget"] is True
    assert report["rto"]["clockStartsAt"] == OUTAGE.isoformat()
    assert 24 <= report["rto"]["minutes"] <= 30 and report["rto"]["targetMinutes"] == 60
    assert any("ecommerce-production-dr-replica describes" in line for line in report["drift"])
    (markdown,) = (world.tmp / "reports").glob("failover-production-*.md")
    text = markdown.read_text()
    assert "| Data-loss window | 2 min of 15 min (within target) |" in text
    assert "## What now differs from the stacks" in text
    # The timeline from the outage, against the region-loss RTO, as a table and a Gantt chart.
    available = report["rto"]["databaseAvailableAt"]
    assert f"| outage started | {OUTAGE.strftime('%Y-%m-%dT%H:%M:%SZ')} | 0 min | 0% |" in text
    assert f"| database available | {available[:19]}Z | {report['rto']['minutes']:g} min |" in text
    assert re.search(r"\| data verified \| \S+Z \| [\d.]+ min \| \d+% \|", text)
    assert f"Service back (database available) {report['rto']['minutes']:g} min after outage started: within" in text
    assert "```mermaid\ngantt" in text and "    RTO 60 min : crit," in text
    assert MASTER_PASSWORD not in text + out + err

    code, _, err = world.run(capsys, "--yes")
    assert code == 2 and "move the state file away" in err  # a finished failover is not run again by accident


def test_failover_without_confirmation_changes_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = world.run(capsys)  # stdin is not a terminal under pytest
    assert code == 2 and "pass --yes" in err
    assert world.replica().get("ReadReplicaSourceDBInstanceIdentifier")
    code, _, err = world.run(capsys, "--resume")
    assert code == 2 and "no failover of production to resume" in err


def test_an_environment_without_a_dr_region_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["dr", "failover", "--env", "staging", "--cdk-json", str(ROOT / "cdk.json"), "--yes",
                 "--state-dir", str(tmp_path)])  # fmt: skip
    assert code == 2
    assert "environment staging has no DR region" in capsys.readouterr().err


def test_a_verification_skipped_without_a_network_path_runs_on_resume_with_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_assessment(world)
    endpoint = world.replica()["Endpoint"]["Address"]
    expect_secret_after_resume(world, endpoint)
    expect_configuration_restore(world)
    code, out, err = world.run(capsys, "--yes", "--json", "--outage-started", OUTAGE.isoformat())
    assert code == 0, err
    first = json.loads(out)
    assert {s["step"]: s["status"] for s in first["steps"]}["verify"] == "SKIPPED"
    assert first["ok"] and not first["verified"] and first["dataLoss"]["source"] == "replica lag"
    code, out, err = world.run(
        capsys, "--resume", "--json", "--db-host", world.server.host, "--db-port", str(world.server.port)
    )
    assert code == 0, err
    second = json.loads(out)
    assert second["verified"] and second["dataLoss"]["source"] == "newest heartbeat"
    assert "failover step verify: OK" in err and "failover step promote: done earlier" in err
    # Each step line: a UTC timestamp, and the time since the RTO clock started against the RTO.
    (verified,) = [line for line in err.splitlines() if "failover step verify: OK" in line]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ backupctl: failover step verify: OK \[", verified), verified
    assert "min elapsed of the 1 h RTO" in verified
