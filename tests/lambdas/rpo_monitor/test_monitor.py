"""Tests of `lambdas.rpo_monitor` (the monitor and its handler): RDS, S3 and CloudWatch on moto's server over HTTP;
AWS Backup (and the RDS fields moto cannot produce: an exact LatestRestorableTime, none at all) through
botocore's Stubber on real clients, so every request is checked against the API model."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import ANY

from lambdas.contract.settings import MonitorSettings, SettingsError
from lambdas.rpo_monitor import handler as rh
from lambdas.rpo_monitor import monitor as rm
from tests.support.moto_aws import MotoAws, moto_aws, stubbed

REGION = "us-east-1"
ACCOUNT = "111111111111"
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
DB_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"
VAULT = "ecommerce-prod"
_COUNTER = itertools.count(1)


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws(REGION) as moto:
        yield moto


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_COUNTER)}"


def settings(**overrides: Any) -> MonitorSettings:
    values: dict[str, Any] = {"environment": "prod", "metric_namespace": unique("Test/Rpo")}
    values.update(overrides)
    return MonitorSettings(**values)


def metric_value(aws: MotoAws, namespace: str, name: str, dims: dict[str, str], at: datetime = NOW) -> list[float]:
    """Every datum of one metric (exact name + dimensions) around ``at``."""
    response = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=at - timedelta(minutes=5),
        EndTime=at + timedelta(minutes=5),
    )
    return [float(v) for v in response["MetricDataResults"][0]["Values"]]


def listed(aws: MotoAws, namespace: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    metrics = aws.client("cloudwatch").list_metrics(Namespace=namespace)["Metrics"]
    return {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in metrics}


def rds_instance(identifier: str, status: str = "available", restorable: datetime | None = None) -> dict[str, Any]:
    instance: dict[str, Any] = {"DBInstanceIdentifier": identifier, "DBInstanceStatus": status}
    if restorable is not None:
        instance["LatestRestorableTime"] = restorable
    return instance


def point(created: datetime, status: str, n: int) -> dict[str, Any]:
    return {
        "RecoveryPointArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-{n}",
        "CreationDate": created,
        "Status": status,
        "BackupVaultName": VAULT,
    }


def create_db(aws: MotoAws, identifier: str) -> None:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier,
        DBInstanceClass="db.t4g.medium",
        Engine="postgres",
        MasterUsername="postgres",
        MasterUserPassword="Pg-test-password-1234",
        AllocatedStorage=20,
    )


def put(aws: MotoAws, bucket: str, key: str, body: str = "x") -> None:
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())


# --------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------


def test_exposure_is_computed_exactly_from_a_fixed_now() -> None:
    rds, stub = stubbed("rds")
    stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance("orders", restorable=NOW - timedelta(minutes=4, seconds=30))]},
        {"DBInstanceIdentifier": "orders"},
    )
    stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance("catalog", restorable=NOW - timedelta(seconds=20))]},  # rounds to 0.3
        {"DBInstanceIdentifier": "catalog"},
    )
    with stub:
        report = rm.collect(rds=rds, backup=None, s3=None, settings=settings(databases=("orders", "catalog")), now=NOW)
    stub.assert_no_pending_responses()
    orders, catalog = report.databases
    assert (orders.exposure_minutes, orders.status, orders.unprotected) == (4.5, "available", False)
    assert orders.latest_restorable_time == NOW - timedelta(minutes=4, seconds=30)
    assert catalog.exposure_minutes == 0.3
    assert report.problems == ()
    assert [(m.name, m.value, m.unit, m.dimensions) for m in report.metrics()] == [
        ("RpoExposureMinutes", 4.5, "None", (("Environment", "prod"), ("DBInstanceIdentifier", "orders"))),
        ("DatabaseUnprotected", 0.0, "Count", (("Environment", "prod"), ("DBInstanceIdentifier", "orders"))),
        ("RpoExposureMinutes", 0.3, "None", (("Environment", "prod"), ("DBInstanceIdentifier", "catalog"))),
        ("DatabaseUnprotected", 0.0, "Count", (("Environment", "prod"), ("DBInstanceIdentifier", "catalog"))),
        ("CheckErrors", 0.0, "Count", (("Environment", "prod"),)),
    ]


def test_missing_and_stopped_databases_are_reported_and_flagged_unprotected_in_cloudwatch(aws: MotoAws) -> None:
    live, stopped, missing = unique("live"), unique("stopped"), unique("missing")
    create_db(aws, live)
    create_db(aws, stopped)
    aws.client("rds").stop_db_instance(DBInstanceIdentifier=stopped)
    # moto reports LatestRestorableTime = the time of the request, so "now" is real time plus 7 minutes.
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=7)
    config = settings(databases=(live, stopped, missing))

    report = rm.collect(rds=aws.client("rds"), backup=None, s3=None, settings=config, now=now)
    assert rm.publish(aws.client("cloudwatch"), report, config) == 5

    by_id = {d.identifier: d for d in report.databases}
    exposure = by_id[live].exposure_minutes
    assert exposure is not None and 6.8 <= exposure <= 7.1
    assert by_id[stopped].status == "stopped" and by_id[stopped].exposure_minutes is None
    assert by_id[missing].status is None and by_id[missing].exposure_minutes is None
    assert [(p.kind, p.resource, p.check_error) for p in report.problems] == [
        ("database", stopped, False),
        ("database", missing, False),
    ]
    assert "stopped" in report.problems[0].message and "not found" in report.problems[1].message
    assert report.check_errors == 0

    ns = config.metric_namespace
    for identifier, flag in ((live, 0.0), (stopped, 1.0), (missing, 1.0)):
        dims = {"Environment": "prod", "DBInstanceIdentifier": identifier}
        assert metric_value(aws, ns, "DatabaseUnprotected", dims, now) == [flag]
    live_dims = {"Environment": "prod", "DBInstanceIdentifier": live}
    assert metric_value(aws, ns, "RpoExposureMinutes", live_dims, now) == [exposure]
    exposure_metrics = {dims for name, dims in listed(aws, ns) if name == "RpoExposureMinutes"}
    assert exposure_metrics == {(("DBInstanceIdentifier", live), ("Environment", "prod"))}
    assert metric_value(aws, ns, "CheckErrors", {"Environment": "prod"}, now) == [0.0]


def test_a_database_without_restorable_time_is_unprotected_and_a_failed_check_is_a_check_error() -> None:
    rds, stub = stubbed("rds")
    stub.add_response(
        "describe_db_instances", {"DBInstances": [rds_instance("fresh", "creating")]}, {"DBInstanceIdentifier": "fresh"}
    )
    stub.add_client_error(
        "describe_db_instances",
        "AccessDenied",
        "not authorized",
        403,
        expected_params={"DBInstanceIdentifier": "locked"},
    )
    with stub:
        report = rm.collect(rds=rds, backup=None, s3=None, settings=settings(databases=("fresh", "locked")), now=NOW)
    fresh, locked = report.databases
    assert fresh.unprotected is True and fresh.problem is not None and "LatestRestorableTime" in fresh.problem.message
    assert locked.unprotected is None and locked.problem is not None and locked.problem.check_error
    assert "AccessDenied" in locked.problem.message
    assert [(m.name, m.value, dict(m.dimensions).get("DBInstanceIdentifier")) for m in report.metrics()] == [
        ("DatabaseUnprotected", 1.0, "fresh"),
        ("CheckErrors", 1.0, None),
    ]


# --------------------------------------------------------------------------
# AWS Backup recovery points
# --------------------------------------------------------------------------


def test_recovery_point_age_is_the_newest_completed_point_across_pages() -> None:
    backup, stub = stubbed("backup")
    stub.add_response(
        "list_recovery_points_by_resource",
        {
            "RecoveryPoints": [
                point(NOW - timedelta(minutes=10), "PARTIAL", 1),
                point(NOW - timedelta(hours=25), "COMPLETED", 2),
            ],
            "NextToken": "page-2",
        },
        {"ResourceArn": DB_ARN, "MaxResults": 100},
    )
    stub.add_response(
        "list_recovery_points_by_resource",
        {
            "RecoveryPoints": [
                point(NOW - timedelta(minutes=5), "CREATING", 3),
                point(NOW - timedelta(hours=1, minutes=15), "COMPLETED", 4),
                point(NOW - timedelta(minutes=30), "EXPIRED", 5),
                point(NOW - timedelta(hours=49), "COMPLETED", 6),
            ]
        },
        {"ResourceArn": DB_ARN, "MaxResults": 100, "NextToken": "page-2"},
    )
    with stub:
        report = rm.collect(
            rds=None, backup=backup, s3=None, settings=settings(protected_resource_arns=(DB_ARN,)), now=NOW
        )
    stub.assert_no_pending_responses()
    (rp,) = report.recovery_points
    assert rp.age_minutes == 75.0 and rp.missing is False
    assert rp.recovery_point_arn is not None and rp.recovery_point_arn.endswith(":job-4")
    assert rp.created_at == NOW - timedelta(hours=1, minutes=15)
    assert [(m.name, m.value, m.dimensions) for m in report.metrics()][:2] == [
        ("RecoveryPointAgeMinutes", 75.0, (("Environment", "prod"), ("ResourceArn", DB_ARN))),
        ("RecoveryPointMissing", 0.0, (("Environment", "prod"), ("ResourceArn", DB_ARN))),
    ]


def test_no_completed_recovery_point_publishes_recovery_point_missing(aws: MotoAws) -> None:
    backup, stub = stubbed("backup")
    other = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:catalog"
    stub.add_response(
        "list_recovery_points_by_resource",
        {"RecoveryPoints": [point(NOW - timedelta(minutes=3), "PARTIAL", 7)]},
        {"ResourceArn": DB_ARN, "MaxResults": 100},
    )
    stub.add_response(
        "list_recovery_points_by_resource", {"RecoveryPoints": []}, {"ResourceArn": other, "MaxResults": 100}
    )
    config = settings(protected_resource_arns=(DB_ARN, other))
    with stub:
        report = rm.collect(rds=None, backup=backup, s3=None, settings=config, now=NOW)
    assert [(p.kind, p.resource, p.message) for p in report.problems] == [
        ("recovery_point", DB_ARN, "no COMPLETED recovery point"),
        ("recovery_point", other, "no COMPLETED recovery point"),
    ]
    rm.publish(aws.client("cloudwatch"), report, config)
    ns = config.metric_namespace
    for arn in (DB_ARN, other):
        assert metric_value(aws, ns, "RecoveryPointMissing", {"Environment": "prod", "ResourceArn": arn}) == [1.0]
    assert {name for name, _ in listed(aws, ns)} == {"RecoveryPointMissing", "CheckErrors"}


def test_a_failing_backup_api_is_a_check_error_not_a_missing_point() -> None:
    backup, stub = stubbed("backup")
    stub.add_client_error("list_recovery_points_by_resource", "ThrottlingException", "slow down", 400)
    with stub:
        report = rm.collect(
            rds=None, backup=backup, s3=None, settings=settings(protected_resource_arns=(DB_ARN,)), now=NOW
        )
    (rp,) = report.recovery_points
    assert rp.missing is None and rp.problem is not None and rp.problem.check_error
    assert [m.name for m in report.metrics()] == ["CheckErrors"]
    assert report.to_dict()["checkErrors"] == 1


# --------------------------------------------------------------------------
# Config backups
# --------------------------------------------------------------------------


def seed_config(aws: MotoAws, bucket: str, cluster: str) -> None:
    aws.client("s3").create_bucket(Bucket=bucket)
    shop = f"{cluster}/shop"
    complete_old, complete, incomplete = "20250531T000000Z", "20250601T093000Z", "20250601T113000Z"
    for backup_id in (complete_old, complete):
        put(aws, bucket, f"{shop}/{backup_id}/configmaps.yaml")
        put(aws, bucket, f"{shop}/{backup_id}/manifest.json", json.dumps({"backupId": backup_id}))
    put(aws, bucket, f"{shop}/{incomplete}/configmaps.yaml")  # newer, but no manifest.json yet
    put(aws, bucket, f"{shop}/not-a-backup/manifest.json")  # ignored: not a backup id
    marker = {
        "checkedAt": "2025-06-01T11:45:00Z",
        "result": "unchanged",
        "backupId": None,
        "latestCompleteBackupId": complete,
    }
    put(aws, bucket, f"{shop}/last-run.json", json.dumps(marker))
    # "payments": only an incomplete backup and no marker (the export never finished)
    put(aws, bucket, f"{cluster}/payments/20250601T110000Z/secrets.sops.yaml")


def test_config_backup_age_from_the_newest_complete_backup_and_check_age_from_the_marker(aws: MotoAws) -> None:
    bucket, cluster = unique("rpo-config"), "prod-eks"
    seed_config(aws, bucket, cluster)
    config = settings(config_bucket=bucket, config_cluster=cluster, config_namespaces=("shop", "payments"))

    report = rm.collect(rds=None, backup=None, s3=aws.client("s3"), settings=config, now=NOW)
    shop, payments = report.config_backups
    assert (shop.backup_id, shop.age_minutes, shop.missing) == ("20250601T093000Z", 150.0, False)
    assert (shop.checked_at, shop.check_age_minutes, shop.last_result) == (
        NOW - timedelta(minutes=15),
        15.0,
        "unchanged",
    )
    assert shop.backup_problem is None and shop.marker_problem is None
    assert (payments.backup_id, payments.age_minutes, payments.missing, payments.check_age_minutes) == (
        None,
        None,
        True,
        None,
    )
    assert [(p.resource, p.check_error) for p in report.problems] == [
        (f"s3://{bucket}/{cluster}/payments/", False),
        (f"s3://{bucket}/{cluster}/payments/last-run.json", False),
    ]

    assert rm.publish(aws.client("cloudwatch"), report, config) == 5
    ns = config.metric_namespace
    shop_dims = {"Environment": "prod", "Namespace": "shop"}
    payments_dims = {"Environment": "prod", "Namespace": "payments"}
    assert metric_value(aws, ns, "ConfigBackupAgeMinutes", shop_dims) == [150.0]
    assert metric_value(aws, ns, "ConfigBackupCheckAgeMinutes", shop_dims) == [15.0]
    assert metric_value(aws, ns, "ConfigBackupMissing", shop_dims) == [0.0]
    assert metric_value(aws, ns, "ConfigBackupMissing", payments_dims) == [1.0]
    assert listed(aws, ns) == {
        ("ConfigBackupAgeMinutes", (("Environment", "prod"), ("Namespace", "shop"))),
        ("ConfigBackupCheckAgeMinutes", (("Environment", "prod"), ("Namespace", "shop"))),
        ("ConfigBackupMissing", (("Environment", "prod"), ("Namespace", "shop"))),
        ("ConfigBackupMissing", (("Environment", "prod"), ("Namespace", "payments"))),
        ("CheckErrors", (("Environment", "prod"),)),
    }


def test_a_missing_bucket_is_a_check_error(aws: MotoAws) -> None:
    config = settings(config_bucket=unique("rpo-absent"), config_cluster="prod-eks", config_namespaces=("shop",))
    report = rm.collect(rds=None, backup=None, s3=aws.client("s3"), settings=config, now=NOW)
    (shop,) = report.config_backups
    assert shop.missing is None and report.check_errors == 2
    assert all("NoSuchBucket" in p.message for p in report.problems)


# --------------------------------------------------------------------------
# Publishing
# --------------------------------------------------------------------------


@dataclass
class Recording:
    """Forwards to a real client and records each put_metric_data batch size."""

    client: Any
    batches: list[int] = field(default_factory=list)

    def put_metric_data(self, **kwargs: Any) -> Any:
        self.batches.append(len(kwargs["MetricData"]))
        return self.client.put_metric_data(**kwargs)


def healthy_report(count: int) -> rm.MonitorReport:
    dbs = tuple(
        rm.DatabaseExposure(f"db-{i:02d}", "available", NOW - timedelta(minutes=i), float(i)) for i in range(count)
    )
    return rm.MonitorReport("prod", NOW, databases=dbs)


def test_metrics_are_published_in_batches_of_twenty(aws: MotoAws) -> None:
    report = healthy_report(22)  # 2 metrics per database + CheckErrors = 45
    config = settings(databases=tuple(d.identifier for d in report.databases))
    cloudwatch = Recording(aws.client("cloudwatch"))
    assert rm.publish(cloudwatch, report, config) == 45
    assert cloudwatch.batches == [20, 20, 5]
    assert len(listed(aws, config.metric_namespace)) == 45
    dims = {"Environment": "prod", "DBInstanceIdentifier": "db-21"}
    assert metric_value(aws, config.metric_namespace, "RpoExposureMinutes", dims) == [21.0]


def test_a_failed_batch_raises_after_the_others_were_sent() -> None:
    cloudwatch, stub = stubbed("cloudwatch")
    config = settings()
    stub.add_client_error("put_metric_data", "Throttling", "rate exceeded", 400)
    stub.add_response("put_metric_data", {}, {"Namespace": config.metric_namespace, "MetricData": ANY})
    with stub, pytest.raises(rm.PublishError, match=r"1 put_metric_data call\(s\) failed; 5 of 25 metrics sent"):
        rm.publish(cloudwatch, healthy_report(12), config)
    stub.assert_no_pending_responses()


# --------------------------------------------------------------------------
# Settings and handler
# --------------------------------------------------------------------------


def test_settings_validation_and_env_parsing() -> None:
    with pytest.raises(SettingsError, match="config_bucket"):
        MonitorSettings("prod", config_namespaces=("shop",))
    with pytest.raises(SettingsError, match="duplicates"):
        MonitorSettings("prod", databases=("a", "a"))
    with pytest.raises(SettingsError, match="not an ARN"):
        MonitorSettings("prod", protected_resource_arns=("orders",))
    with pytest.raises(SettingsError, match="ENVIRONMENT"):
        MonitorSettings.from_env({})
    with pytest.raises(rm.MonitorError, match="timezone-aware"):
        rm.collect(rds=None, backup=None, s3=None, settings=settings(), now=datetime(2025, 1, 1))
    parsed = MonitorSettings.from_env(
        {"ENVIRONMENT": "staging", "DATABASES": " orders , catalog,", "METRIC_NAMESPACE": ""}
    )
    assert parsed == MonitorSettings("staging", databases=("orders", "catalog"))
    assert parsed.metric_namespace == "Ecommerce/Backup"


def test_handler_reads_env_uses_the_client_seam_and_returns_the_report(
    aws: MotoAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = unique("handler-db")
    create_db(aws, db)
    bucket = unique("rpo-handler")
    seed_config(aws, bucket, "prod-eks")
    namespace = unique("Test/RpoHandler")
    backup, stub = stubbed("backup")
    stub.add_response(
        "list_recovery_points_by_resource",
        {"RecoveryPoints": [point(datetime.now(UTC) - timedelta(minutes=30), "COMPLETED", 9)]},
        {"ResourceArn": DB_ARN, "MaxResults": 100},
    )
    clients = {
        "rds": aws.client("rds"),
        "s3": aws.client("s3"),
        "cloudwatch": aws.client("cloudwatch"),
        "backup": backup,
    }
    asked: list[str] = []

    def fake_client(service: str) -> Any:
        asked.append(service)
        return clients[service]

    monkeypatch.setattr(rh, "aws_client", fake_client)
    for name, value in {
        "ENVIRONMENT": "prod",
        "DATABASES": db,
        "PROTECTED_RESOURCE_ARNS": DB_ARN,
        "CONFIG_BUCKET": bucket,
        "CONFIG_CLUSTER": "prod-eks",
        "CONFIG_NAMESPACES": "shop",
        "METRIC_NAMESPACE": namespace,
    }.items():
        monkeypatch.setenv(name, value)

    with stub:
        result = rh.handler({"source": "aws.events"}, None)
    stub.assert_no_pending_responses()
    assert sorted(asked) == ["backup", "cloudwatch", "rds", "s3"]
    assert json.loads(json.dumps(result)) == result
    assert result["environment"] == "prod" and result["problems"] == [] and result["metricsPublished"] == 8
    assert result["databases"][0]["identifier"] == db and result["databases"][0]["exposureMinutes"] <= 0.2
    assert 29.9 <= result["recoveryPoints"][0]["ageMinutes"] <= 30.1
    assert result["configBackups"][0]["backupId"] == "20250601T093000Z"
    assert {name for name, _ in listed(aws, namespace)} == {
        "RpoExposureMinutes",
        "DatabaseUnprotected",
        "RecoveryPointAgeMinutes",
        "RecoveryPointMissing",
        "ConfigBackupAgeMinutes",
        "ConfigBackupCheckAgeMinutes",
        "ConfigBackupMissing",
        "CheckErrors",
    }


def test_handler_raises_when_publishing_fails_but_not_for_resource_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    rds, rds_stub = stubbed("rds")
    rds_stub.add_client_error("describe_db_instances", "DBInstanceNotFound", "gone", 404)
    cloudwatch, cw_stub = stubbed("cloudwatch")
    cw_stub.add_client_error("put_metric_data", "AccessDenied", "no", 403)
    monkeypatch.setattr(rh, "aws_client", {"rds": rds, "cloudwatch": cloudwatch}.__getitem__)
    monkeypatch.setenv("ENVIRONMENT", "prod")
    monkeypatch.setenv("DATABASES", "orders")
    for name in ("PROTECTED_RESOURCE_ARNS", "CONFIG_BUCKET", "CONFIG_CLUSTER", "CONFIG_NAMESPACES", "METRIC_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    with rds_stub, cw_stub, pytest.raises(rm.PublishError, match="AccessDenied"):
        rh.handler({}, None)
