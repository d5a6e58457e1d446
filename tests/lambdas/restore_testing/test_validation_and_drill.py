"""Tests of `lambdas.restore_testing`: S3, CloudWatch, RDS, Secrets Manager and EventBridge (-> SQS) on moto's
server over HTTP; AWS Backup and Lambda through botocore's Stubber on real clients (so every request is checked
against the API model); the database checks through a fake checker."""

from __future__ import annotations

import copy
import dataclasses
import io
import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY

from lambdas import restore_testing as rt
from lambdas.common.postgres import DatabaseConnectionError
from lambdas.contract.checks import DEFAULT_ECOMMERCE_CHECKS
from lambdas.restore_testing import handlers
from lambdas.restore_testing.validation import check_outcome
from tests.conftest import ROOT
from tests.support.moto_aws import MotoAws, create_bucket_like_template, drain_events, moto_aws, stubbed

REGION = "us-east-1"
ACCOUNT = "111111111111"
EVENT_FILE = ROOT / "tests" / "events" / "restore_job_completed.json"
PLAN_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:ecommerce_prod_monthly-7d3a1c"
VAULT_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:ecommerce-prod"
SOURCE_DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
CURRENT_PASSWORD = "Pg-current-S3cret-9911xQ"
PREVIOUS_PASSWORD = "Pg-previous-S3cret-7722zW"
_COUNTER = itertools.count(1)


ValidatorConnectionError = DatabaseConnectionError  # what the real checker raises when no login works


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws(REGION) as moto:
        yield moto


@dataclass
class FakeChecker:
    """Records what it was given; returns canned results or raises."""

    results: list[dict[str, Any]] = field(default_factory=list)
    label: str = "secret:AWSPREVIOUS"
    error: BaseException | None = None
    targets: list[rt.ConnectionTarget] = field(default_factory=list)
    recovery_point_times: list[datetime | None] = field(default_factory=list)

    def __call__(self, target: rt.ConnectionTarget, recovery_point_time: datetime | None) -> tuple[str, list[Any]]:
        self.targets.append(target)
        self.recovery_point_times.append(recovery_point_time)
        if self.error is not None:
            raise self.error
        return self.label, self.results

    def secrets_seen(self) -> list[str]:
        return [c.password for t in self.targets for c in t.candidates]


def passing_checks() -> list[dict[str, Any]]:
    return [
        {
            "name": "orders row count",
            "kind": "row_count",
            "passed": True,
            "expected": ">= 1000",
            "found": "48211",
            "message": "",
            "duration_ms": 12.5,
        },
        {
            "name": "newest order within RPO",
            "kind": "freshness",
            "passed": True,
            "expected": "<= 60 min before recovery point",
            "found": "4 min",
            "message": "",
            "duration_ms": 3.0,
        },
    ]


@dataclass
class World:
    aws: MotoAws
    n: int
    bucket: str
    queue_url: str
    namespace: str
    secret_arn: str
    instance_id: str
    now: datetime
    reports_key: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def settings(self, **overrides: Any) -> rt.ValidatorSettings:
        values: dict[str, Any] = {
            "environment": "prod",
            "kind": "monthly",
            "reports_bucket": self.bucket,
            "validator_user": "backup_validator",
            "database": "orders",
            "rto_minutes": 60.0,
            "rpo_minutes": 60.0,
            "plan_arn": PLAN_ARN,
            "source_secret_arn": self.secret_arn,
            "metric_namespace": self.namespace,
            "event_bus_name": f"rt-bus-{self.n}",
            "identifier_prefix": "orders",
            "checks_json": "[]",
        }
        values.update(overrides)
        return rt.ValidatorSettings(**values)

    def drill_settings(self, **overrides: Any) -> rt.ValidatorSettings:
        """As the DR stack configures the drill's validator: no restore testing plan, no master secret
        (the validator logs in with IAM authentication)."""
        return self.settings(kind="drill", plan_arn=None, source_secret_arn=None, **overrides)

    def create_instance(self, identifier: str) -> str:
        self.aws.client("rds").create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.medium",
            Engine="postgres",
            MasterUsername="postgres",
            MasterUserPassword=PREVIOUS_PASSWORD,
            AllocatedStorage=20,
        )
        return f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}"

    def instance_exists(self, identifier: str) -> bool:
        found = self.aws.client("rds").describe_db_instances()["DBInstances"]
        return any(i["DBInstanceIdentifier"] == identifier and i["DBInstanceStatus"] != "deleted" for i in found)

    def events(self) -> list[dict[str, Any]]:
        return drain_events(self.aws.client("sqs"), self.queue_url, self.received)

    def stored_keys(self) -> list[str]:
        return sorted(o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents") or [])

    def read(self, key: str) -> str:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body.decode()

    def metric(self, name: str, kind: str = "monthly") -> float | None:
        stats = self.aws.client("cloudwatch").get_metric_statistics(
            Namespace=self.namespace,
            MetricName=name,
            Dimensions=[{"Name": "Environment", "Value": "prod"}, {"Name": "Kind", "Value": kind}],
            StartTime=self.now - timedelta(minutes=5),
            EndTime=self.now + timedelta(minutes=5),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return None if not stats else float(stats[0]["Maximum"])

    def metric_names(self) -> list[str]:
        listed = self.aws.client("cloudwatch").list_metrics(Namespace=self.namespace)["Metrics"]
        return sorted({m["MetricName"] for m in listed})


@pytest.fixture
def world(aws: MotoAws) -> World:
    n = next(_COUNTER)
    bucket = f"rt-reports-{n}"
    reports_key = create_bucket_like_template(aws.client("s3"), aws.client("kms"), bucket)
    events, sqs = aws.client("events"), aws.client("sqs")
    bus = f"rt-bus-{n}"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"rt-events-{n}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"rt-all-{n}", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule=f"rt-all-{n}", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    secrets = aws.client("secretsmanager")
    secret_arn = secrets.create_secret(
        Name=f"rt-orders-master-{n}",
        SecretString=json.dumps({"username": "postgres", "password": PREVIOUS_PASSWORD}),
    )["ARN"]
    secrets.put_secret_value(
        SecretId=secret_arn, SecretString=json.dumps({"username": "postgres", "password": CURRENT_PASSWORD})
    )
    world = World(
        aws=aws,
        n=n,
        bucket=bucket,
        queue_url=queue_url,
        namespace=f"Test/Backup{n}",
        secret_arn=secret_arn,
        instance_id=f"awsbackup-restore-test-{n}",
        now=datetime.now(UTC).replace(microsecond=0),
        reports_key=reports_key,
    )
    world.create_instance(world.instance_id)
    return world


def sample_event(job_id: str, created_resource_arn: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT_FILE.read_text())
    event = copy.deepcopy(event)
    event["detail"]["restoreJobId"] = job_id
    event["detail"]["createdResourceArn"] = created_resource_arn
    return event


def job_description(
    world: World,
    job_id: str,
    *,
    instance_id: str | None = None,
    plan_arn: str | None = PLAN_ARN,
    restore_minutes: float = 42.0,
    point_age_minutes: float = 180.0,
    with_point_date: bool = True,
) -> dict[str, Any]:
    completed = world.now - timedelta(minutes=8)
    created = completed - timedelta(minutes=restore_minutes)
    job: dict[str, Any] = {
        "AccountId": ACCOUNT,
        "RestoreJobId": job_id,
        "RecoveryPointArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-{job_id.lower()}",
        "BackupVaultArn": VAULT_ARN,
        "SourceResourceArn": SOURCE_DB_ARN,
        "CreationDate": created,
        "CompletionDate": completed,
        "Status": "COMPLETED",
        "PercentDone": "100.00%",
        "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup-restore",
        "CreatedResourceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{instance_id or world.instance_id}",
        "ResourceType": "RDS",
    }
    if with_point_date:
        job["RecoveryPointCreationDate"] = created - timedelta(minutes=point_age_minutes)
    if plan_arn:
        job["CreatedBy"] = {"RestoreTestingPlanArn": plan_arn}
    return job


def run(
    world: World,
    backup: Any,
    checker: FakeChecker,
    job_id: str,
    *,
    instance_id: str | None = None,
    settings: rt.ValidatorSettings | None = None,
    **kwargs: Any,
) -> rt.ValidationReport:
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{instance_id or world.instance_id}"
    return rt.validate_restore_job(
        event=sample_event(job_id, arn),
        backup=backup,
        rds=world.aws.client("rds"),
        secrets=world.aws.client("secretsmanager"),
        s3=world.s3,
        cloudwatch=world.aws.client("cloudwatch"),
        events=world.aws.client("events"),
        settings=settings or world.settings(),
        checker=checker,
        now=world.now,
        **kwargs,
    )


def assert_no_secret_leaks(world: World, checker: FakeChecker, caplog: pytest.LogCaptureFixture, *extra: Any) -> None:
    secrets = [*checker.secrets_seen(), CURRENT_PASSWORD, PREVIOUS_PASSWORD]
    assert any("X-Amz-Signature" in s for s in checker.secrets_seen()), "an IAM token reached the checker"
    texts = [caplog.text, json.dumps(world.events())] + [world.read(k) for k in world.stored_keys()]
    texts += [json.dumps(x, default=str) for x in extra]
    for text in texts:
        for secret in secrets:
            assert secret not in text


# --------------------------------------------------------------------------
# A. validate_restore_job
# --------------------------------------------------------------------------


def test_good_restore_is_successful_and_fully_recorded(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="lambdas")
    backup, stub = stubbed("backup")
    job_id = f"JOB-GOOD-{world.n}"
    stub.add_response("describe_restore_job", job_description(world, job_id), {"RestoreJobId": job_id})
    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": job_id, "ValidationStatus": "SUCCESSFUL", "ValidationStatusMessage": ANY},
    )
    checker = FakeChecker(results=passing_checks())
    with stub:
        report = run(world, backup, checker, job_id)
        stub.assert_no_pending_responses()

    assert report.status == "SUCCESSFUL", report.message
    assert report.restore_minutes == 42.0 and report.recovery_point_age_minutes == 180.0
    assert report.credentials == "secret:AWSPREVIOUS"
    assert report.steps["validationResult"] == "put"
    assert "cleanup" not in report.steps  # restore testing cleans up itself

    # The checker got the restored instance's endpoint and the candidates in order.
    target = checker.targets[0]
    described = world.aws.client("rds").describe_db_instances(DBInstanceIdentifier=world.instance_id)
    endpoint = described["DBInstances"][0]["Endpoint"]
    assert (target.host, target.port, target.database) == (endpoint["Address"], endpoint["Port"], "orders")
    assert [c.label for c in target.candidates] == ["iam", "secret:AWSCURRENT", "secret:AWSPREVIOUS"]
    assert [c.password for c in target.candidates[1:]] == [CURRENT_PASSWORD, PREVIOUS_PASSWORD]
    assert target.candidates[0].username == "backup_validator"
    assert CURRENT_PASSWORD not in repr(target)
    assert checker.recovery_point_times == [report.recovery_point_created]

    # Report in S3, JSON and Markdown, under the monthly prefix.
    base = f"restore-tests/monthly/{world.now:%Y}/{world.now:%m}/{job_id}"
    assert world.stored_keys() == [f"{base}.json", f"{base}.md"]
    head = world.s3.head_object(Bucket=world.bucket, Key=f"{base}.json")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", world.reports_key)  # the bucket's key
    stored = json.loads(world.read(f"{base}.json"))
    assert stored["status"] == "SUCCESSFUL" and stored["restoreMinutes"] == 42.0
    assert stored["rtoMinutes"] == 60.0 and stored["withinRto"] is True
    assert [c["name"] for c in stored["checks"]] == ["orders row count", "newest order within RPO"]
    assert stored["credentials"] == "secret:AWSPREVIOUS"
    markdown = world.read(f"{base}.md")
    assert "| Check | Result | Expected | Found | Message |" in markdown
    assert "| orders row count | PASS | >= 1000 | 48211 |  |" in markdown
    assert report.report_key == f"{base}.json"

    # Metrics.
    assert world.metric("RestoreTimeMinutes") == 42.0
    assert world.metric("RecoveryPointAgeMinutes") == 180.0
    assert world.metric("ValidationFailures") == 0.0
    assert "DrillSucceeded" not in world.metric_names()

    # Event.
    [event] = world.events()
    assert event["source"] == "ecommerce.restore-testing" and event["detail-type"] == "Restore Test Completed"
    assert event["detail"] == {
        "environment": "prod",
        "kind": "monthly",
        "restoreJobId": job_id,
        "status": "SUCCESSFUL",
        "restoreMinutes": 42.0,
        "rtoMinutes": 60.0,
        "recoveryPointAgeMinutes": 180.0,
        "failedChecks": 0,
        "reportKey": f"{base}.json",
    }
    assert_no_secret_leaks(world, checker, caplog, report.to_dict(), report.to_markdown())


def test_the_monthly_validator_as_deployed_signs_in_with_iam_only(world: World) -> None:
    """The app gives the monthly validator no master secret: IAM authentication is the one
    candidate, and the whole validation (here with the recovery point's date looked up) works."""
    backup, stub = stubbed("backup")
    job_id = f"JOB-IAMONLY-{world.n}"
    job = job_description(world, job_id, with_point_date=False)
    stub.add_response("describe_restore_job", job, {"RestoreJobId": job_id})
    stub.add_response(
        "describe_recovery_point",
        {"RecoveryPointArn": job["RecoveryPointArn"], "CreationDate": job["CreationDate"], "Status": "COMPLETED"},
        {"BackupVaultName": "ecommerce-prod", "RecoveryPointArn": job["RecoveryPointArn"]},
    )
    stub.add_response("put_restore_validation_result", {}, None)
    checker = FakeChecker(results=passing_checks(), label="iam")
    with stub:
        report = run(world, backup, checker, job_id, settings=world.settings(source_secret_arn=None))
        stub.assert_no_pending_responses()
    assert report.status == "SUCCESSFUL", report.message
    (target,) = checker.targets
    assert [c.label for c in target.candidates] == ["iam"]
    assert target.candidates[0].username == "backup_validator" and "X-Amz-Signature" in target.candidates[0].password
    assert report.credentials == "iam" and world.metric("ValidationFailures") == 0.0


def test_failed_check_fails_with_its_message(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"JOB-BADCHECK-{world.n}"
    checks = passing_checks()
    checks[1].update(passed=False, found="1440 min", message="newest order is 1440 min older than the recovery point")
    stub.add_response("describe_restore_job", job_description(world, job_id), {"RestoreJobId": job_id})
    sent: dict[str, Any] = {}

    def capture(params: dict[str, Any]) -> None:
        sent.update(params)

    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": job_id, "ValidationStatus": "FAILED", "ValidationStatusMessage": ANY},
    )
    backup.meta.events.register(
        "provide-client-params.backup.PutRestoreValidationResult", lambda params, **_: capture(params)
    )
    with stub:
        report = run(world, backup, FakeChecker(results=checks), job_id)
        stub.assert_no_pending_responses()
    assert report.status == "FAILED"
    assert "newest order is 1440 min older than the recovery point" in sent["ValidationStatusMessage"]
    assert len(sent["ValidationStatusMessage"]) <= rt.MAX_STATUS_MESSAGE
    assert world.metric("ValidationFailures") == 1.0
    [event] = world.events()
    assert event["detail"]["status"] == "FAILED" and event["detail"]["failedChecks"] == 1
    markdown = world.read((report.report_key or "")[: -len("json")] + "md")
    assert "| newest order within RPO | FAIL | <= 60 min before recovery point | 1440 min |" in markdown


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ValidatorConnectionError(
                f"no candidate could log in: secret:AWSPREVIOUS: bad password {PREVIOUS_PASSWORD}"
            ),
            "cannot connect to",
        ),
        (RuntimeError("driver exploded"), "checks could not run: RuntimeError: driver exploded"),
    ],
)
def test_connection_failure_is_reported_not_raised(
    world: World, caplog: pytest.LogCaptureFixture, error: Exception, expected: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="lambdas")
    backup, stub = stubbed("backup")
    job_id = f"JOB-NOCONN-{world.n}"
    stub.add_response("describe_restore_job", job_description(world, job_id), {"RestoreJobId": job_id})
    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": job_id, "ValidationStatus": "FAILED", "ValidationStatusMessage": ANY},
    )
    checker = FakeChecker(error=error)
    with stub:
        report = run(world, backup, checker, job_id)
        stub.assert_no_pending_responses()
    assert report.status == "FAILED" and expected in report.message
    if isinstance(error, ValidatorConnectionError):
        assert "iam, secret:AWSCURRENT, secret:AWSPREVIOUS" in report.message and "***" in report.message
    assert report.checks == [] and report.failed_checks == 1
    assert world.metric("ValidationFailures") == 1.0
    assert len(world.stored_keys()) == 2 and len(world.events()) == 1
    assert_no_secret_leaks(world, checker, caplog, report.to_dict())


def test_unexpected_error_before_the_checks_is_a_failed_result(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"JOB-GONE-{world.n}"
    stub.add_response(
        "describe_restore_job", job_description(world, job_id, instance_id="no-such-instance"), {"RestoreJobId": job_id}
    )
    stub.add_response(
        "put_restore_validation_result",
        {},
        {"RestoreJobId": job_id, "ValidationStatus": "FAILED", "ValidationStatusMessage": ANY},
    )
    checker = FakeChecker(results=passing_checks())
    with stub:
        report = run(world, backup, checker, job_id, instance_id="no-such-instance")
        stub.assert_no_pending_responses()
    assert report.status == "FAILED"
    assert report.message == "validation failed unexpectedly: DBInstanceNotFoundFault (DBInstanceNotFound)"
    assert checker.targets == []
    assert report.steps["metrics"].startswith("put") and report.steps["event"] == "put"


def test_job_of_another_plan_is_skipped_and_nothing_is_put(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"JOB-OTHER-{world.n}"
    other = f"arn:aws:backup:{REGION}:{ACCOUNT}:restore-testing-plan:someone_else-1a2b3c"
    stub.add_response("describe_restore_job", job_description(world, job_id, plan_arn=other), {"RestoreJobId": job_id})
    checker = FakeChecker(results=passing_checks())
    with stub:
        report = run(world, backup, checker, job_id)
        stub.assert_no_pending_responses()
    assert report.skipped and other in report.message
    assert checker.targets == [] and report.steps == {}
    assert world.stored_keys() == [] and world.events() == [] and world.metric_names() == []


def test_manual_restore_without_plan_is_skipped_for_monthly(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"JOB-MANUAL-{world.n}"
    stub.add_response("describe_restore_job", job_description(world, job_id, plan_arn=None), {"RestoreJobId": job_id})
    with stub:
        report = run(world, backup, FakeChecker(results=passing_checks()), job_id)
    assert report.skipped and "not started by a restore testing plan" in report.message
    assert world.stored_keys() == []


def test_recovery_point_date_falls_back_to_describe_recovery_point(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"JOB-NODATE-{world.n}"
    job = job_description(world, job_id, with_point_date=False)
    point_created = job["CreationDate"] - timedelta(minutes=30)
    stub.add_response("describe_restore_job", job, {"RestoreJobId": job_id})
    stub.add_response(
        "describe_recovery_point",
        {"RecoveryPointArn": job["RecoveryPointArn"], "CreationDate": point_created, "Status": "COMPLETED"},
        {"BackupVaultName": "ecommerce-prod", "RecoveryPointArn": job["RecoveryPointArn"]},
    )
    stub.add_response("put_restore_validation_result", {}, None)
    with stub:
        report = run(world, backup, FakeChecker(results=passing_checks()), job_id)
        stub.assert_no_pending_responses()
    assert report.recovery_point_age_minutes == 30.0 and report.status == "SUCCESSFUL"


@pytest.mark.parametrize(
    "point_arn",
    [
        f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:copyjob-5e1d2f30-8c1b-4f7a-9d2e-7a1b3c4d5e6f",
        f"arn:aws:backup:us-west-2:{ACCOUNT}:recovery-point:continuous:db-ABCDEFGHIJKLMNOPQRSTUVWXY0-1a2b3c4d",
    ],
    ids=["snapshot-copy", "continuous"],
)
def test_drill_falls_back_to_describe_recovery_point_for_every_arn_shape(world: World, point_arn: str) -> None:
    instance = f"orders-drill-nodate-{world.n}"
    world.create_instance(instance)
    job_id = f"DRILL-NODATE-{world.n}"
    put_marker(world, job_id, instance)
    job = job_description(world, job_id, instance_id=instance, plan_arn=None, with_point_date=False)
    job |= {
        "RecoveryPointArn": point_arn,
        "BackupVaultArn": f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:orders-dr",
    }
    point_created = job["CreationDate"] - timedelta(minutes=45)
    backup, stub = stubbed("backup")
    stub.add_response("describe_restore_job", job, {"RestoreJobId": job_id})
    stub.add_response(
        "describe_recovery_point",
        {"RecoveryPointArn": point_arn, "CreationDate": point_created, "Status": "COMPLETED"},
        {"BackupVaultName": "orders-dr", "RecoveryPointArn": point_arn},
    )
    with stub:
        report = run(
            world,
            backup,
            FakeChecker(results=passing_checks()),
            job_id,
            instance_id=instance,
            settings=world.drill_settings(),
        )
        stub.assert_no_pending_responses()
    assert report.recovery_point_age_minutes == 45.0 and report.status == "SUCCESSFUL", report.message


# --------------------------------------------------------------------------
# Drills
# --------------------------------------------------------------------------


def drill_settings(world: World) -> rt.DrillSettings:
    return rt.DrillSettings(
        environment="prod",
        dr_vault_name="ecommerce-prod-dr",
        source_db_arn=SOURCE_DB_ARN,
        restore_role_arn=f"arn:aws:iam::{ACCOUNT}:role/backup-restore",
        instance_class="db.t4g.medium",
        db_subnet_group="orders-dr-private",
        security_group_ids=("sg-0a1b2c3d", "sg-4e5f6a7b"),
        reports_bucket=world.bucket,
        identifier_prefix="orders",
    )


def point(arn_suffix: str, created: datetime, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "RecoveryPointArn": f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:copyjob-{arn_suffix}",
        "BackupVaultName": "ecommerce-prod-dr",
        "ResourceArn": SOURCE_DB_ARN,
        "ResourceType": "RDS",
        "Status": status,
        "CreationDate": created,
    }


def test_start_drill_picks_newest_completed_point_across_pages(world: World) -> None:
    backup, stub = stubbed("backup")
    settings = drill_settings(world)
    now = datetime(2026, 4, 1, 3, 7, tzinfo=UTC)
    base = {"BackupVaultName": "ecommerce-prod-dr", "ByResourceArn": SOURCE_DB_ARN}
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {
            "RecoveryPoints": [point("a", now - timedelta(hours=30)), point("b", now - timedelta(hours=2))],
            "NextToken": "p2",
        },
        base,
    )
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {
            "RecoveryPoints": [
                point("c", now - timedelta(minutes=20), status="CREATING"),
                point("d", now - timedelta(hours=5)),
            ]
        },
        {**base, "NextToken": "p2"},
    )
    expected_metadata = {
        "DBInstanceIdentifier": "orders-drill-202604010307",
        "DBInstanceClass": "db.t4g.medium",
        "MultiAZ": "false",
        "DBSubnetGroupName": "orders-dr-private",
        "VpcSecurityGroupIds": '["sg-0a1b2c3d", "sg-4e5f6a7b"]',
        "PubliclyAccessible": "false",
        "CopyTagsToSnapshot": "true",
        "DeletionProtection": "false",
        "EnableIAMDatabaseAuthentication": "true",
    }
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": "DRILL-JOB-1"},
        {
            "RecoveryPointArn": point("b", now)["RecoveryPointArn"],
            "IamRoleArn": settings.restore_role_arn,
            "ResourceType": "RDS",
            "IdempotencyToken": "orders-drill-202604010307",
            "Metadata": expected_metadata,
        },
    )
    with stub:
        config = {"ok": True, "backupId": "20260401T000000Z", "counts": {"created": 7}, "failures": []}
        started = rt.start_drill(backup=backup, s3=world.s3, settings=settings, now=now, config_drill=lambda: config)
        stub.assert_no_pending_responses()
    assert started == rt.DrillStart(
        "DRILL-JOB-1",
        point("b", now)["RecoveryPointArn"],
        now - timedelta(hours=2),
        "orders-drill-202604010307",
        "restore-tests/drill/pending/DRILL-JOB-1.json",
    )
    marker = json.loads(world.read(started.marker_key))
    assert marker["instanceId"] == "orders-drill-202604010307" and marker["restoreJobId"] == "DRILL-JOB-1"
    assert marker["recoveryPointCreated"] == "2026-04-01T01:07:00Z"
    assert marker["configDrill"] == config  # the starter runs the configuration part; the validator reports it


@pytest.mark.parametrize(
    "point_arn",
    [
        f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:copyjob-0f3c2b1a-7d6e-4c5b-8a9f-1e2d3c4b5a69",
        f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:job-8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586",
        f"arn:aws:backup:us-west-2:{ACCOUNT}:recovery-point:continuous:db-ABCDEFGHIJKLMNOPQRSTUVWXY0-1a2b3c4d",
    ],
    ids=["snapshot-copy", "snapshot", "continuous"],
)
def test_start_drill_restores_a_recovery_point_of_any_arn_shape(world: World, point_arn: str) -> None:
    backup, stub = stubbed("backup")
    settings = drill_settings(world)
    now = datetime(2026, 7, 15, 6, 0, tzinfo=UTC)
    newest = point("x", now - timedelta(hours=3)) | {"RecoveryPointArn": point_arn}
    stub.add_response("list_recovery_points_by_backup_vault", {"RecoveryPoints": [newest]})
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": f"DRILL-SHAPE-{world.n}"},
        {
            "RecoveryPointArn": point_arn,
            "IamRoleArn": settings.restore_role_arn,
            "ResourceType": "RDS",
            "IdempotencyToken": ANY,
            "Metadata": ANY,
        },
    )
    with stub:
        started = rt.start_drill(backup=backup, s3=world.s3, settings=settings, now=now)
        stub.assert_no_pending_responses()
    assert started.recovery_point_arn == point_arn
    head = world.s3.head_object(Bucket=world.bucket, Key=started.marker_key)
    assert head["SSEKMSKeyId"] == world.reports_key  # the marker is written with the bucket's own key


def test_start_drill_without_recovery_point_fails_clearly(world: World) -> None:
    backup, stub = stubbed("backup")
    stub.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": [point("x", datetime(2026, 1, 1, tzinfo=UTC), status="EXPIRED")]},
    )
    with stub, pytest.raises(rt.RestoreTestingError) as raised:
        rt.start_drill(backup=backup, s3=world.s3, settings=drill_settings(world), now=datetime.now(UTC))
    assert "ecommerce-prod-dr" in str(raised.value) and SOURCE_DB_ARN in str(raised.value)
    assert world.stored_keys() == []


def test_drill_identifier_rejects_bad_prefixes() -> None:
    now = datetime(2026, 4, 1, 3, 7, tzinfo=UTC)
    assert rt.drill_identifier("orders-db", now) == "orders-db-drill-202604010307"
    for bad in ("Orders", "1orders", "orders--db", "orders-", "x" * 60):
        with pytest.raises(rt.RestoreTestingError):
            rt.drill_identifier(bad, now)


def put_marker(world: World, job_id: str, instance_id: str, config_drill: dict[str, Any] | None = None) -> None:
    marker: dict[str, Any] = {"restoreJobId": job_id, "instanceId": instance_id}
    if config_drill is not None:
        marker["configDrill"] = config_drill
    world.s3.put_object(Bucket=world.bucket, Key=rt.pending_marker_key(job_id), Body=json.dumps(marker).encode())


def test_drill_within_rto_succeeds_and_deletes_only_the_marked_instance(world: World) -> None:
    instance = f"orders-drill-2026040103{world.n:02d}"
    bystander = f"orders-drill-bystander-{world.n}"
    world.create_instance(instance)
    world.create_instance(bystander)
    job_id, other_job = f"DRILL-OK-{world.n}", f"DRILL-WRONG-{world.n}"
    config = {"ok": True, "backupId": "20260401T000000Z", "counts": {"created": 7}, "failures": []}
    put_marker(world, job_id, instance, config)
    put_marker(world, other_job, instance)  # a marker naming another instance than the job created
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_restore_job",
        job_description(world, job_id, instance_id=instance, plan_arn=None),
        {"RestoreJobId": job_id},
    )
    stub.add_response(
        "describe_restore_job",
        job_description(world, other_job, instance_id=bystander, plan_arn=None),
        {"RestoreJobId": other_job},
    )
    settings = world.drill_settings()
    with stub:
        report = run(
            world,
            backup,
            FakeChecker(results=passing_checks()),
            job_id,
            instance_id=instance,
            settings=settings,
        )
        second = run(
            world, backup, FakeChecker(results=passing_checks()), other_job, instance_id=bystander, settings=settings
        )
        stub.assert_no_pending_responses()  # no put_restore_validation_result for drills

    assert report.status == "SUCCESSFUL", report.message
    assert report.steps["cleanup"] == f"deleted {instance}"
    assert not world.instance_exists(instance)
    assert rt.pending_marker_key(job_id) not in world.stored_keys()
    assert second.steps["cleanup"].startswith("skipped: the marker names")
    assert world.instance_exists(bystander)
    assert report.config_drill == config
    drill_md = world.read((report.report_key or "")[: -len("json")] + "md")
    assert "## Configuration drill" in drill_md and "20260401T000000Z" in drill_md
    assert world.metric("DrillSucceeded", "drill") == 1.0
    events = world.events()
    assert {e["detail-type"] for e in events} == {"DR Drill Completed"}
    assert report.report_key and report.report_key.startswith(f"restore-tests/drill/{world.now:%Y}/")


def test_drill_over_rto_fails_even_though_checks_passed(world: World) -> None:
    instance = f"orders-drill-slow-{world.n}"
    world.create_instance(instance)
    job_id = f"DRILL-SLOW-{world.n}"
    put_marker(world, job_id, instance)
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_restore_job",
        job_description(world, job_id, instance_id=instance, plan_arn=None, restore_minutes=95.0),
        {"RestoreJobId": job_id},
    )
    with stub:
        report = run(
            world,
            backup,
            FakeChecker(results=passing_checks()),
            job_id,
            instance_id=instance,
            settings=world.drill_settings(rto_minutes=60.0),
        )
    assert report.status == "FAILED" and "over the RTO of 60 min" in report.message
    assert all(c.passed for c in report.checks)
    assert world.metric("DrillSucceeded", "drill") == 0.0
    assert world.metric("ValidationFailures", "drill") == 0.0
    assert world.metric("RestoreTimeMinutes", "drill") == 95.0
    assert report.steps["cleanup"] == f"deleted {instance}"  # a failed drill is cleaned up too
    [event] = world.events()
    assert event["detail"]["status"] == "FAILED" and event["detail"]["restoreMinutes"] == 95.0


def test_failed_config_drill_fails_the_drill(world: World) -> None:
    instance = f"orders-drill-cfg-{world.n}"
    world.create_instance(instance)
    job_id = f"DRILL-CFG-{world.n}"
    config = {"ok": False, "backupId": "b1", "counts": {"failed": 1}, "failures": ["Secret/api-token: forbidden"]}
    put_marker(world, job_id, instance, config)
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_restore_job",
        job_description(world, job_id, instance_id=instance, plan_arn=None),
        {"RestoreJobId": job_id},
    )
    with stub:
        report = run(
            world,
            backup,
            FakeChecker(results=passing_checks()),
            job_id,
            instance_id=instance,
            settings=world.drill_settings(),
        )
    assert report.status == "FAILED" and "configuration drill failed: Secret/api-token: forbidden" in report.message


def test_drill_job_without_marker_is_skipped(world: World) -> None:
    backup, stub = stubbed("backup")
    job_id = f"DRILL-FOREIGN-{world.n}"
    stub.add_response("describe_restore_job", job_description(world, job_id, plan_arn=None), {"RestoreJobId": job_id})
    with stub:
        report = run(
            world,
            backup,
            FakeChecker(results=passing_checks()),
            job_id,
            settings=world.drill_settings(),
        )
    assert report.skipped and "no drill marker" in report.message
    assert world.instance_exists(world.instance_id) and world.stored_keys() == []


# --------------------------------------------------------------------------
# Drill from the cross-Region read replica: snapshot, restore on the snapshot event, validate on the
# instance event (RDS on moto's server; the events as EventBridge delivers them)
# --------------------------------------------------------------------------

REPLICA = "replica-of-orders"  # not a prefix of a drill name: the contract maps settings values by text


def replica_drill_settings(world: World) -> rt.DrillSettings:
    """The replica and the drill's subnet group exist (RDS refuses a restore into a missing group)."""
    if not world.instance_exists(REPLICA):
        world.create_instance(REPLICA)
    rds, ec2 = world.aws.client("rds"), world.aws.client("ec2")
    if not any(
        g["DBSubnetGroupName"] == "orders-dr-private" for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
    ):
        vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]
            for i, az in enumerate("ab")
        ]
        rds.create_db_subnet_group(
            DBSubnetGroupName="orders-dr-private",
            DBSubnetGroupDescription="drill",
            SubnetIds=[s["SubnetId"] for s in subnets],
        )
    return dataclasses.replace(drill_settings(world), replica_identifier=REPLICA)


def rds_event(detail_type: str, kind: str, name: str, event_id: str, message: str) -> dict[str, Any]:
    """An RDS event as EventBridge delivers it (the shape of the RDS User Guide's examples)."""
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"
    return {
        "version": "0",
        "id": "0b3e4f2a-7c1d-4e5f-9a8b-1c2d3e4f5a6b",
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": ACCOUNT,
        "time": "2026-04-01T03:20:00Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "EventCategories": ["creation"],
            "SourceType": "SNAPSHOT" if kind == "snapshot" else "DB_INSTANCE",
            "SourceArn": arn,
            "Date": "2026-04-01T03:20:00.000Z",
            "Message": message,
            "SourceIdentifier": name,
            "EventID": event_id,
        },
    }


def snapshot_created(name: str) -> dict[str, Any]:
    return rds_event("RDS DB Snapshot Event", "snapshot", name, "RDS-EVENT-0042", "Manual snapshot created")


def instance_created(name: str) -> dict[str, Any]:
    return rds_event("RDS DB Instance Event", "db", name, "RDS-EVENT-0005", "DB instance created")


def heartbeat_checks(newest: datetime) -> list[dict[str, Any]]:
    return [
        *passing_checks(),
        {
            "name": "heartbeat-fresh",
            "kind": "fresh_writes",
            "passed": True,
            "expected": ">= ...",
            "found": newest.isoformat(),
            "message": "",
            "duration_ms": 1.0,
        },
    ]


def validate_drill(world: World, name: str, checker: FakeChecker, **overrides: Any) -> rt.ValidationReport:
    backup, stub = stubbed("backup")
    with stub:  # no AWS Backup call: the drill's times come from its marker and the snapshot
        report = rt.validate_drill_instance(
            event=instance_created(name),
            backup=backup,
            rds=world.aws.client("rds"),
            secrets=world.aws.client("secretsmanager"),
            s3=world.s3,
            cloudwatch=world.aws.client("cloudwatch"),
            events=world.aws.client("events"),
            settings=world.drill_settings(identifier_prefix="orders", **overrides),
            checker=checker,
            now=world.now,
        )
        stub.assert_no_pending_responses()
    return report


def snapshot_ids(world: World) -> set[str]:
    return {s["DBSnapshotIdentifier"] for s in world.aws.client("rds").describe_db_snapshots()["DBSnapshots"]}


def test_replica_drill_snapshots_restores_isolated_validates_and_cleans_up(world: World) -> None:
    settings = replica_drill_settings(world)
    started = world.now - timedelta(minutes=35)
    start = rt.start_replica_drill(rds=world.aws.client("rds"), s3=world.s3, settings=settings, now=started)
    drill = start.restore_job_id
    assert drill == f"orders-drill-{started:%Y%m%d%H%M}" and start.instance_id == drill
    assert drill in snapshot_ids(world)
    marker = json.loads(world.read(rt.pending_marker_key(drill)))
    assert marker["snapshotId"] == drill and marker["source"] == f"snapshot of the read replica {REPLICA}"
    assert marker["recoveryPointArn"].endswith(f":snapshot:{drill}")
    assert not world.instance_exists(drill)  # nothing is restored before the snapshot is ready

    rds = world.aws.client("rds")
    sent: list[dict[str, Any]] = []
    hook = "provide-client-params.rds.RestoreDBInstanceFromDBSnapshot"
    record = lambda params, **_: sent.append(dict(params))  # noqa: E731
    rds.meta.events.register(hook, record)
    try:
        outcome = rt.continue_replica_drill(event=snapshot_created(drill), rds=rds, s3=world.s3, settings=settings)
    finally:
        rds.meta.events.unregister(hook, record)
    assert outcome["instanceId"] == drill
    (request,) = sent
    assert request["DBSnapshotIdentifier"] == drill and request["DBInstanceIdentifier"] == drill
    assert (request["MultiAZ"], request["PubliclyAccessible"], request["DeletionProtection"]) == (False, False, False)
    assert request["EnableIAMDatabaseAuthentication"] is True and request["BackupRetentionPeriod"] == 0
    (instance,) = rds.describe_db_instances(DBInstanceIdentifier=drill)["DBInstances"]
    assert instance["DBSubnetGroup"]["DBSubnetGroupName"] == "orders-dr-private"
    assert {g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]} == {"sg-0a1b2c3d", "sg-4e5f6a7b"}
    point_in_time = datetime.fromisoformat(json.loads(world.read(rt.pending_marker_key(drill)))["recoveryPointCreated"])
    again = rt.continue_replica_drill(
        event=snapshot_created(drill), rds=world.aws.client("rds"), s3=world.s3, settings=settings
    )
    assert again["instanceId"] == drill  # a redelivered event restores nothing twice and does not fail

    checker = FakeChecker(results=heartbeat_checks(point_in_time - timedelta(minutes=3)))
    report = validate_drill(world, drill, checker)
    assert report.status == "SUCCESSFUL", report.message
    assert report.restore_minutes == 35.0  # the RTO clock runs from the drill's start: snapshot, restore, checks
    assert report.data_loss_minutes == 3.0
    assert report.recovery_point_created == point_in_time
    assert checker.targets[0].host == instance["Endpoint"]["Address"]  # the drill instance, not the replica
    assert report.source == f"snapshot of the read replica {REPLICA}"
    assert report.promotion and report.promotion.startswith("not exercised")
    assert world.metric("DataLossMinutes", "drill") == 3.0 and world.metric("DrillSucceeded", "drill") == 1.0
    assert report.steps["cleanup"] == f"deleted {drill} and snapshot {drill}"
    assert not world.instance_exists(drill) and drill not in snapshot_ids(world)
    assert world.instance_exists(REPLICA)  # the live replica is never touched
    markdown = world.read((report.report_key or "")[: -len("json")] + "md")
    assert "| Data loss (point in time minus newest heartbeat) | 3 min |" in markdown
    assert f"| Restored from | snapshot of the read replica {REPLICA} |" in markdown
    assert rt.pending_marker_key(drill) not in world.stored_keys()


def test_replica_drill_start_retried_in_the_same_minute_reuses_its_snapshot(world: World) -> None:
    settings = replica_drill_settings(world)
    started = world.now + timedelta(minutes=100 + world.n)  # a minute no other test uses
    first = rt.start_replica_drill(rds=world.aws.client("rds"), s3=world.s3, settings=settings, now=started)
    second = rt.start_replica_drill(rds=world.aws.client("rds"), s3=world.s3, settings=settings, now=started)
    assert second.recovery_point_arn == first.recovery_point_arn
    assert [s for s in snapshot_ids(world) if s == first.restore_job_id] == [first.restore_job_id]


def test_replica_drill_without_the_replica_fails_clearly_and_writes_nothing(world: World) -> None:
    settings = dataclasses.replace(drill_settings(world), replica_identifier="orders-no-such-replica")
    with pytest.raises(rt.RestoreTestingError, match="cannot snapshot the read replica orders-no-such-replica"):
        rt.start_replica_drill(rds=world.aws.client("rds"), s3=world.s3, settings=settings, now=world.now)
    assert world.stored_keys() == []
    with pytest.raises(rt.RestoreTestingError, match="REPLICA_IDENTIFIER"):
        rt.start_replica_drill(rds=world.aws.client("rds"), s3=world.s3, settings=drill_settings(world), now=world.now)


def test_snapshot_events_the_drill_did_not_start_restore_nothing(world: World) -> None:
    settings = replica_drill_settings(world)
    rds = world.aws.client("rds")
    foreign = rt.continue_replica_drill(
        event=snapshot_created("nightly-export"), rds=rds, s3=world.s3, settings=settings
    )
    assert foreign["skipped"] == "snapshot nightly-export is not a drill snapshot"
    unmarked = rt.continue_replica_drill(
        event=snapshot_created("orders-drill-209901010000"), rds=rds, s3=world.s3, settings=settings
    )
    assert unmarked["skipped"] == "no pending drill for snapshot orders-drill-209901010000"
    assert not world.instance_exists("orders-drill-209901010000")


def test_drill_instance_events_without_a_pending_snapshot_drill_are_skipped(world: World) -> None:
    name = f"orders-drill-foreign-{world.n}"
    world.create_instance(name)
    report = validate_drill(world, name, FakeChecker(results=passing_checks()))
    assert report.skipped and "no pending snapshot drill" in report.message
    assert world.instance_exists(name) and world.stored_keys() == []
    other = validate_drill(world, world.instance_id, FakeChecker(results=passing_checks()))
    assert other.skipped and "is not a drill instance" in other.message


def test_a_stale_heartbeat_fails_the_drill_and_still_measures_the_data_loss(world: World) -> None:
    name = f"orders-drill-stale-{world.n}"
    world.create_instance(name)
    point_in_time = world.now - timedelta(minutes=10)
    marker = {
        "restoreJobId": name,
        "instanceId": name,
        "snapshotId": name,
        "source": f"snapshot of the read replica {REPLICA}",
        "recoveryPointArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:{name}",
        "startedAt": (world.now - timedelta(minutes=40)).isoformat(),
        "recoveryPointCreated": point_in_time.isoformat(),
    }
    world.s3.put_object(Bucket=world.bucket, Key=rt.pending_marker_key(name), Body=json.dumps(marker).encode())
    checks = heartbeat_checks(point_in_time - timedelta(minutes=42))
    checks[-1].update(passed=False, message="backup_heartbeat.beats.beat_at is stale")
    report = validate_drill(world, name, FakeChecker(results=checks), rpo_minutes=15.0)
    assert report.status == "FAILED" and "heartbeat-fresh" in report.message
    assert report.data_loss_minutes == 42.0
    assert world.metric("DataLossMinutes", "drill") == 42.0 and world.metric("DrillSucceeded", "drill") == 0.0
    assert not world.instance_exists(name)  # cleaned up; the drill's own (already deleted) snapshot is tolerated
    assert report.steps["cleanup"] == f"deleted {name} and snapshot {name}"


def test_handlers_dispatch_the_replica_drill_by_event(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    replica_drill_settings(world)
    monkeypatch.setattr(handlers, "aws_client", lambda s, r=None: world.aws.client(s, r))
    env = {
        "ENVIRONMENT": "prod",
        "DR_VAULT_NAME": "ecommerce-prod-dr",
        "SOURCE_DB_ARN": SOURCE_DB_ARN,
        "RESTORE_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/backup-restore",
        "INSTANCE_CLASS": "db.t4g.medium",
        "DB_SUBNET_GROUP": "orders-dr-private",
        "SECURITY_GROUP_IDS": "sg-0a1b2c3d",
        "REPORTS_BUCKET": world.bucket,
        "IDENTIFIER_PREFIX": "orders",
        "REPLICA_IDENTIFIER": REPLICA,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    started = handlers.drill_start_handler({}, None)  # the schedule's event: snapshot the replica
    drill = started["restoreJobId"]
    assert drill in snapshot_ids(world) and not world.instance_exists(drill)
    continued = handlers.drill_start_handler(snapshot_created(drill), None)
    assert continued["instanceId"] == drill and world.instance_exists(drill)


# --------------------------------------------------------------------------
# Config drill
# --------------------------------------------------------------------------


def invoke_response(payload: dict[str, Any], function_error: str | None = None) -> dict[str, Any]:
    raw = json.dumps(payload).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}
    if function_error:
        response["FunctionError"] = function_error
    return response


def test_run_config_drill_parses_success_and_function_error() -> None:
    client, stub = stubbed("lambda")
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:config-restore"
    expected = {
        "FunctionName": arn,
        "InvocationType": "RequestResponse",
        "Payload": json.dumps({"namespace": "orders", "toNamespace": "orders-drill"}).encode(),
    }
    report = {
        "backupId": "20260401T000000Z",
        "ok": True,
        "counts": {"created": 5, "unchanged": 1},
        "objects": [{"kind": "ConfigMap", "name": "app-config", "outcome": "created", "reason": ""}],
        "restarts": [],
    }
    stub.add_response("invoke", invoke_response(report), expected)
    stub.add_response(
        "invoke",
        invoke_response(
            {"errorMessage": "restore of backup b failed: Secret/x: forbidden", "errorType": "RestoreFailedError"},
            "Unhandled",
        ),
        expected,
    )
    failed_report = {
        **report,
        "ok": False,
        "objects": [{"kind": "Secret", "name": "x", "outcome": "failed", "reason": "403"}],
    }
    stub.add_response("invoke", invoke_response(failed_report), expected)
    with stub:
        call = {"lambda_client": client, "function_arn": arn, "namespace": "orders", "drill_namespace": "orders-drill"}
        ok = rt.run_config_drill(**call)
        error = rt.run_config_drill(**call)
        not_ok = rt.run_config_drill(**call)
    assert ok == {"ok": True, "backupId": "20260401T000000Z", "counts": {"created": 5, "unchanged": 1}, "failures": []}
    assert error == {
        "ok": False,
        "backupId": None,
        "counts": {},
        "failures": ["RestoreFailedError: restore of backup b failed: Secret/x: forbidden"],
    }
    assert not_ok["ok"] is False and not_ok["failures"] == ["Secret/x: 403"]


# --------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------


def test_validator_handler_wires_env_and_runs_the_real_checker(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler end to end with the real integrity checker: the restored copy (a moto instance) has no
    reachable endpoint, so the result is a recorded FAILED "cannot connect", not a crash."""
    backup, stub = stubbed("backup")
    job_id = f"JOB-HANDLER-{world.n}"
    stub.add_response("describe_restore_job", job_description(world, job_id), {"RestoreJobId": job_id})
    stub.add_response("put_restore_validation_result", {}, None)

    def client(service: str, region: str | None = None) -> Any:
        return backup if service == "backup" else world.aws.client(service, region)

    monkeypatch.setattr(handlers, "aws_client", client)
    checks = [c.to_json() for c in DEFAULT_ECOMMERCE_CHECKS]
    env = {
        "ENVIRONMENT": "prod",
        "KIND": "monthly",
        "PLAN_ARN": PLAN_ARN,
        "REPORTS_BUCKET": world.bucket,
        "VALIDATOR_USER": "backup_validator",
        "DATABASE_NAME": "orders",
        "SOURCE_SECRET_ARN": world.secret_arn,
        "RTO_MINUTES": "60",
        "RPO_MINUTES": "15",
        "CHECKS": json.dumps(checks),
        "METRIC_NAMESPACE": world.namespace,
        "EVENT_BUS_NAME": f"rt-bus-{world.n}",
        "CONNECT_TIMEOUT_SECONDS": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with stub:
        result = handlers.validator_handler(sample_event(job_id, ""), None)
        stub.assert_no_pending_responses()
    assert result["status"] == "FAILED" and result["rpoMinutes"] == 15.0
    assert result["error"].startswith(f"cannot connect to {world.instance_id} (tried iam, secret:AWSCURRENT")
    assert CURRENT_PASSWORD not in json.dumps(result) and PREVIOUS_PASSWORD not in json.dumps(result)
    assert result["steps"]["report"].startswith("written")


def test_drill_start_handler(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    backup, stub = stubbed("backup")
    stub.add_response(
        "list_recovery_points_by_backup_vault", {"RecoveryPoints": [point("z", datetime.now(UTC) - timedelta(hours=1))]}
    )
    stub.add_response("start_restore_job", {"RestoreJobId": "DRILL-HANDLER"})
    monkeypatch.setattr(handlers, "aws_client", lambda s, r=None: backup if s == "backup" else world.aws.client(s, r))
    env = {
        "ENVIRONMENT": "prod",
        "DR_VAULT_NAME": "ecommerce-prod-dr",
        "SOURCE_DB_ARN": SOURCE_DB_ARN,
        "RESTORE_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/backup-restore",
        "INSTANCE_CLASS": "db.t4g.medium",
        "DB_SUBNET_GROUP": "orders-dr-private",
        "SECURITY_GROUP_IDS": "sg-0a1b2c3d, sg-4e5f6a7b",
        "REPORTS_BUCKET": world.bucket,
        "IDENTIFIER_PREFIX": "orders",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with stub:
        result = handlers.drill_start_handler({}, None)
    assert result["restoreJobId"] == "DRILL-HANDLER" and result["instanceId"].startswith("orders-drill-")
    assert world.stored_keys() == ["restore-tests/drill/pending/DRILL-HANDLER.json"]


def test_ssl_context_with_a_ca_bundle_verifies(tmp_path: Path) -> None:
    import certifi

    context = rt.make_ssl_context(certifi.where())
    assert context.check_hostname is True
    assert rt.make_ssl_context(None).verify_mode.name == "CERT_NONE"


def test_default_checker_adapts_to_the_integrity_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default wiring through `lambdas.restore_testing.integrity`'s public functions (connection and queries
    faked)."""
    from lambdas.restore_testing import integrity

    seen: dict[str, Any] = {}

    class FakeConnection:
        closed = False

        def close(self) -> None:
            FakeConnection.closed = True

    def connect_first(candidates: Any, **kwargs: Any) -> tuple[Any, str]:
        seen.update(candidates=list(candidates), **kwargs)
        return FakeConnection(), candidates[1].label

    def run_checks(conn: Any, checks: Any, **kwargs: Any) -> list[Any]:
        seen.update(checks=checks, **kwargs)
        return [integrity.CheckResult(checks[0].name, checks[0].kind, True, "exists", "exists", "", 3)]

    monkeypatch.setattr(integrity, "connect_first", connect_first)
    monkeypatch.setattr(integrity, "run_checks", run_checks)
    checker = rt.integrity_checker('[{"name": "orders", "kind": "table_exists", "table": "public.orders"}]', 15.0)
    target = rt.ConnectionTarget(
        host="db.example.internal",
        port=5432,
        database="orders",
        candidates=(rt.Credentials("iam", "validator", "token"), rt.Credentials("secret:AWSCURRENT", "pg", "pw")),
        ssl_context=rt.make_ssl_context(None),
        timeout_s=7.0,
    )
    point_time = datetime(2026, 4, 1, tzinfo=UTC)
    label, results = checker(target, point_time)
    assert label == "secret:AWSCURRENT" and FakeConnection.closed
    assert [type(c).__name__ for c in seen["candidates"]] == ["Credentials", "Credentials"]
    assert [c.label for c in seen["candidates"]] == ["iam", "secret:AWSCURRENT"]
    assert (seen["host"], seen["port"], seen["database"], seen["timeout_s"]) == (
        "db.example.internal",
        5432,
        "orders",
        7.0,
    )
    assert seen["recovery_point_time"] == point_time and seen["rpo_minutes"] == 15.0
    outcome = check_outcome(results[0])
    assert outcome == rt.CheckOutcome("orders", True, "table_exists", "exists", "exists", "", 3.0)
    with pytest.raises(ValueError):
        rt.integrity_checker('[{"name": "x", "kind": "bogus"}]', 15.0)(target, point_time)
