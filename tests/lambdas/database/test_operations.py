"""Tests of `lambdas.database.operations`: RDS on moto's server over HTTP where moto models it (instances, subnet
groups, point-in-time restore; moto has no automated-backup restore window and no instance status changes),
otherwise botocore's Stubber on real clients; AWS Backup always through the Stubber, so every request is checked
against the API model."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdas.database import operations as ops
from tests.support.moto_aws import MotoAws, moto_aws, stubbed

REGION = "us-east-1"
ACCOUNT = "111111111111"
VAULT = "ecommerce-prod"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/backup-restore"
NOW = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
_COUNTER = itertools.count(1)


# --------------------------------------------------------------------------
# Fixtures and fakes
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoAws]:
    with moto_aws(REGION) as moto:
        yield moto


@dataclass
class Network:
    subnet_group: str
    security_group: str


@pytest.fixture(scope="module")
def network(aws: MotoAws) -> Network:
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    group = ec2.create_security_group(GroupName="db", Description="database", VpcId=vpc)["GroupId"]
    name = f"db-private-{next(_COUNTER)}"
    rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="private", SubnetIds=subnets)
    return Network(name, group)


@dataclass
class World:
    aws: MotoAws
    network: Network
    source: str
    source_arn: str

    @property
    def rds(self) -> Any:
        return self.aws.client("rds")

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(_COUNTER)}"

    def create_instance(self, identifier: str) -> dict[str, Any]:
        instance: dict[str, Any] = self.rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t4g.medium",
            Engine="postgres",
            MasterUsername="postgres",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=20,
            BackupRetentionPeriod=7,
            MultiAZ=True,
            EnableIAMDatabaseAuthentication=True,
            DBSubnetGroupName=self.network.subnet_group,
            VpcSecurityGroupIds=[self.network.security_group],
        )["DBInstance"]
        return instance

    def describe(self, identifier: str) -> dict[str, Any]:
        found: dict[str, Any] = self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        return found


@pytest.fixture
def world(aws: MotoAws, network: Network) -> World:
    """A fresh source instance (names are unique: moto's backends outlive the server)."""
    w = World(aws, network, "", "")
    w.source = w.unique("orders")
    w.source_arn = str(w.create_instance(w.source)["DBInstanceArn"])
    return w


@dataclass
class FakeClock:
    """A wall clock that only moves when slept on."""

    now: datetime = NOW
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class Progress:
    messages: list[str] = field(default_factory=list)

    def __call__(self, message: str) -> None:
        self.messages.append(message)


def rds_instance(identifier: str, **overrides: Any) -> dict[str, Any]:
    """A DescribeDBInstances entry for stubbed RDS clients."""
    instance: dict[str, Any] = {
        "DBInstanceIdentifier": identifier,
        "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}",
        "DBInstanceStatus": "available",
        "DbiResourceId": "db-SOURCE",
        "BackupRetentionPeriod": 7,
        "LatestRestorableTime": NOW - timedelta(minutes=4),
        "MultiAZ": False,
        "IAMDatabaseAuthenticationEnabled": True,
        "DBSubnetGroup": {"DBSubnetGroupName": "db-private"},
        "VpcSecurityGroups": [
            {"VpcSecurityGroupId": "sg-0aaa", "Status": "active"},
            {"VpcSecurityGroupId": "sg-0old", "Status": "removing"},
        ],
        "Endpoint": {"Address": f"{identifier}.abc.{REGION}.rds.amazonaws.com", "Port": 5432},
    }
    instance.update(overrides)
    return {k: v for k, v in instance.items() if v is not None}


WINDOW_START = datetime(2026, 3, 7, 9, 30, 0, tzinfo=UTC)


def stub_source(stub: Stubber, source: str = "orders", target: str = "orders-restored", **overrides: Any) -> None:
    """The reads of plan_restore in PITR modes: source, target (absent), automated backups."""
    stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance(source, **overrides)]},
        {"DBInstanceIdentifier": source},
    )
    stub.add_client_error(
        "describe_db_instances",
        service_error_code="DBInstanceNotFound",
        service_message=f"DBInstance {target} not found.",
        http_status_code=404,
        expected_params={"DBInstanceIdentifier": target},
    )
    stub.add_response(
        "describe_db_instance_automated_backups",
        {
            "DBInstanceAutomatedBackups": [
                {
                    "DBInstanceIdentifier": source,
                    "DbiResourceId": "db-SOURCE",
                    "Status": "active",
                    "RestoreWindow": {"EarliestTime": WINDOW_START, "LatestTime": NOW - timedelta(minutes=4)},
                },
                {  # retained backups of an earlier, deleted instance of the same name: not restorable from source
                    "DBInstanceIdentifier": source,
                    "DbiResourceId": "db-OLDER",
                    "Status": "retained",
                    "RestoreWindow": {"EarliestTime": WINDOW_START - timedelta(days=20)},
                },
            ]
        },
        {"DBInstanceIdentifier": source},
    )


def recovery_point(arn: str, resource_arn: str, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "RecoveryPointArn": arn,
        "BackupVaultName": VAULT,
        "ResourceArn": resource_arn,
        "ResourceType": "RDS",
        "Status": status,
        "CreationDate": datetime(2026, 3, 13, 5, 0, tzinfo=UTC),
    }


def point_arn(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:job-{name}"


# --------------------------------------------------------------------------
# On-demand backup
# --------------------------------------------------------------------------

RESOURCE_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:orders"


def test_start_on_demand_backup_sends_lifecycle_tags_and_a_per_minute_token() -> None:
    backup, stub = stubbed("backup")
    token = ops.backup_idempotency_token(VAULT, RESOURCE_ARN, NOW)
    assert token.endswith("-20260314T0926Z")
    assert token == ops.backup_idempotency_token(VAULT, RESOURCE_ARN, NOW.replace(second=1))
    assert token != ops.backup_idempotency_token(VAULT, RESOURCE_ARN + "-other", NOW)
    stub.add_response(
        "start_backup_job",
        {"BackupJobId": "JOB-1", "RecoveryPointArn": point_arn("job-1"), "CreationDate": NOW},
        {
            "BackupVaultName": VAULT,
            "ResourceArn": RESOURCE_ARN,
            "IamRoleArn": ROLE_ARN,
            "IdempotencyToken": token,
            "Lifecycle": {"DeleteAfterDays": 35},
            "RecoveryPointTags": {"backup-trigger": "manual"},
        },
    )
    with stub:
        ref = ops.start_on_demand_backup(
            backup=backup,
            vault_name=VAULT,
            resource_arn=RESOURCE_ARN,
            iam_role_arn=ROLE_ARN,
            retention_days=35,
            now=NOW,
        )
    stub.assert_no_pending_responses()
    assert ref == ops.BackupJobRef("JOB-1", VAULT, RESOURCE_ARN, point_arn("job-1"), token, NOW)


def test_start_on_demand_backup_refuses_a_retention_below_one_day() -> None:
    backup, stub = stubbed("backup")
    with stub, pytest.raises(ops.DbOperationError, match="retention_days"):
        ops.start_on_demand_backup(
            backup=backup, vault_name=VAULT, resource_arn=RESOURCE_ARN, iam_role_arn=ROLE_ARN, retention_days=0, now=NOW
        )


def backup_job(state: str, **extra: Any) -> dict[str, Any]:
    return {"BackupJobId": "JOB-1", "BackupVaultName": VAULT, "ResourceArn": RESOURCE_ARN, "State": state, **extra}


def test_wait_for_backup_reports_progress_until_completed() -> None:
    backup, stub = stubbed("backup")
    for job in (
        backup_job("CREATED"),
        backup_job("RUNNING", PercentDone="10.0"),
        backup_job("RUNNING", PercentDone="10.0"),
        backup_job("RUNNING", PercentDone="65.5"),
        backup_job(
            "COMPLETED",
            PercentDone="100.0",
            RecoveryPointArn=point_arn("job-1"),
            CompletionDate=NOW + timedelta(minutes=4),
            BackupSizeInBytes=1234,
        ),
    ):
        stub.add_response("describe_backup_job", job, {"BackupJobId": "JOB-1"})
    clock, progress = FakeClock(), Progress()
    with stub:
        result = ops.wait_for_backup(
            backup=backup, job_id="JOB-1", progress=progress, timeout_s=3600, poll_s=60, sleep=clock.sleep, clock=clock
        )
    stub.assert_no_pending_responses()
    assert result == ops.BackupJobResult(
        "JOB-1", "COMPLETED", point_arn("job-1"), NOW + timedelta(minutes=4), 1234, 240.0
    )
    assert progress.messages == [
        "backup job JOB-1: CREATED",
        "backup job JOB-1: RUNNING (10.0% done)",
        "backup job JOB-1: RUNNING (65.5% done)",
        "backup job JOB-1: COMPLETED (100.0% done)",
    ]
    assert clock.sleeps == [60, 60, 60, 60]


@pytest.mark.parametrize("state", ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"])
def test_wait_for_backup_fails_with_the_status_message(state: str) -> None:
    backup, stub = stubbed("backup")
    stub.add_response("describe_backup_job", backup_job("RUNNING"), {"BackupJobId": "JOB-1"})
    stub.add_response(
        "describe_backup_job",
        backup_job(state, StatusMessage="Insufficient privileges to perform this action."),
        {"BackupJobId": "JOB-1"},
    )
    clock = FakeClock()
    with stub, pytest.raises(ops.DbOperationError) as raised:
        ops.wait_for_backup(
            backup=backup, job_id="JOB-1", progress=Progress(), timeout_s=600, poll_s=30, sleep=clock.sleep, clock=clock
        )
    assert str(raised.value) == (
        f"backup job JOB-1 ended in state {state}: Insufficient privileges to perform this action."
    )


def test_wait_for_backup_times_out_and_says_the_job_keeps_running() -> None:
    backup, stub = stubbed("backup")
    for _ in range(4):  # t = 0, 40, 80, 100 (the last sleep is cut to the remaining 20 s)
        stub.add_response("describe_backup_job", backup_job("RUNNING"), {"BackupJobId": "JOB-1"})
    clock = FakeClock()
    with stub, pytest.raises(ops.DbOperationError) as raised:
        ops.wait_for_backup(
            backup=backup, job_id="JOB-1", progress=Progress(), timeout_s=100, poll_s=40, sleep=clock.sleep, clock=clock
        )
    stub.assert_no_pending_responses()
    assert clock.sleeps == [40, 40, 20]
    assert "JOB-1" in str(raised.value)
    assert "keeps running in AWS" in str(raised.value)


# --------------------------------------------------------------------------
# Restore planning: refusals
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    ["", "1orders", "orders-", "orders--copy", "orders_copy", "orders.copy", "a" * 64, "ördërs"],
)
def test_plan_refuses_an_invalid_target_identifier_before_any_call(target: str) -> None:
    rds, rds_stub = stubbed("rds")
    backup, backup_stub = stubbed("backup")
    with rds_stub, backup_stub, pytest.raises(ops.RestoreRefused, match="not a valid DB instance identifier"):
        ops.plan_restore(rds=rds, backup=backup, source_instance_id="orders", target_instance_id=target, mode="latest")


def test_identifier_rules() -> None:
    assert ops.valid_instance_identifier("a")
    assert ops.valid_instance_identifier("Orders-restore-2")
    assert ops.valid_instance_identifier("a" * 63)


@pytest.mark.parametrize("target", ["orders", "ORDERS"])
def test_plan_refuses_the_source_as_target(target: str) -> None:
    rds, rds_stub = stubbed("rds")
    with rds_stub, pytest.raises(ops.RestoreRefused, match="is the source instance"):
        ops.plan_restore(rds=rds, backup=None, source_instance_id="orders", target_instance_id=target, mode="latest")


def test_plan_refuses_an_existing_target_and_names_it(world: World) -> None:
    existing = world.unique("orders-copy")
    world.create_instance(existing)
    with pytest.raises(ops.RestoreRefused) as raised:
        ops.plan_restore(
            rds=world.rds, backup=None, source_instance_id=world.source, target_instance_id=existing, mode="latest"
        )
    assert f"'{existing}' already exists" in str(raised.value)


def test_plan_refuses_a_missing_source(world: World) -> None:
    with pytest.raises(ops.RestoreRefused, match="source DB instance 'no-such-db' not found"):
        ops.plan_restore(
            rds=world.rds, backup=None, source_instance_id="no-such-db", target_instance_id="orders-r", mode="latest"
        )


def test_plan_refuses_mode_arguments_that_do_not_fit() -> None:
    rds, rds_stub = stubbed("rds")
    common: dict[str, Any] = {"rds": rds, "backup": None, "source_instance_id": "orders", "target_instance_id": "r"}
    with rds_stub:
        with pytest.raises(ops.RestoreRefused, match="needs the point in time"):
            ops.plan_restore(**common, mode="time")
        with pytest.raises(ops.RestoreRefused, match="only used by mode 'time'"):
            ops.plan_restore(**common, mode="latest", to_time=NOW)
        with pytest.raises(ops.RestoreRefused, match="needs the recovery point ARN, restore IAM role ARN"):
            ops.plan_restore(**common, mode="recovery_point", vault_name=VAULT)
        with pytest.raises(ops.RestoreRefused, match="unknown restore mode"):
            ops.plan_restore(**common, mode="snapshot")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "to_time",
    [WINDOW_START - timedelta(seconds=1), NOW - timedelta(minutes=3)],
    ids=["before-window", "after-window"],
)
def test_plan_refuses_a_time_outside_the_window_and_shows_it(to_time: datetime) -> None:
    rds, stub = stubbed("rds")
    stub_source(stub)
    with stub, pytest.raises(ops.RestoreRefused) as raised:
        ops.plan_restore(
            rds=rds,
            backup=None,
            source_instance_id="orders",
            target_instance_id="orders-restored",
            mode="time",
            to_time=to_time,
        )
    stub.assert_no_pending_responses()
    message = str(raised.value)
    assert "2026-03-07T09:30:00Z" in message  # earliest: the active automated backup's window, not the retained one
    assert "2026-03-14T09:22:53Z" in message  # latest: LatestRestorableTime
    assert to_time.strftime("%Y-%m-%dT%H:%M:%SZ") in message


def test_plan_refuses_a_source_without_automated_backups() -> None:
    rds, stub = stubbed("rds")
    stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance("orders", BackupRetentionPeriod=0, LatestRestorableTime=None)]},
    )
    stub.add_client_error("describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404)
    with stub, pytest.raises(ops.RestoreRefused, match="no point-in-time recovery window"):
        ops.plan_restore(rds=rds, backup=None, source_instance_id="orders", target_instance_id="x", mode="latest")


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        (
            recovery_point(point_arn("other"), f"arn:aws:rds:{REGION}:{ACCOUNT}:db:billing"),
            "is a backup of arn:aws:rds:us-east-1:111111111111:db:billing, not of the source",
        ),
        (recovery_point(point_arn("partial"), "SOURCE", status="PARTIAL"), "is PARTIAL, not COMPLETED"),
        (recovery_point(point_arn("creating"), "SOURCE", status="CREATING"), "is CREATING, not COMPLETED"),
    ],
    ids=["other-resource", "partial", "creating"],
)
def test_plan_refuses_an_unusable_recovery_point(world: World, point: dict[str, Any], expected: str) -> None:
    point = {**point, "ResourceArn": world.source_arn} if point["ResourceArn"] == "SOURCE" else point
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_recovery_point", point, {"BackupVaultName": VAULT, "RecoveryPointArn": point["RecoveryPointArn"]}
    )
    with stub, pytest.raises(ops.RestoreRefused, match=expected):
        ops.plan_restore(
            rds=world.rds,
            backup=backup,
            source_instance_id=world.source,
            target_instance_id=world.unique("r"),
            mode="recovery_point",
            recovery_point_arn=point["RecoveryPointArn"],
            vault_name=VAULT,
            iam_role_arn=ROLE_ARN,
        )
    stub.assert_no_pending_responses()


def test_plan_refuses_a_recovery_point_missing_from_the_vault(world: World) -> None:
    backup, stub = stubbed("backup")
    stub.add_client_error("describe_recovery_point", service_error_code="ResourceNotFoundException")
    with stub, pytest.raises(ops.RestoreRefused, match=f"not found in backup vault '{VAULT}'"):
        ops.plan_restore(
            rds=world.rds,
            backup=backup,
            source_instance_id=world.source,
            target_instance_id=world.unique("r"),
            mode="recovery_point",
            recovery_point_arn=point_arn("gone"),
            vault_name=VAULT,
            iam_role_arn=ROLE_ARN,
        )


# --------------------------------------------------------------------------
# Restore planning and execution
# --------------------------------------------------------------------------


def test_restorable_window_falls_back_to_the_retention_period_on_moto(world: World) -> None:
    now = datetime.now(UTC)
    earliest, latest = ops.restorable_window(world.rds, world.source, now=now)
    assert earliest == now - timedelta(days=7)
    # moto answers LatestRestorableTime with the time of each request
    assert abs(latest - world.describe(world.source)["LatestRestorableTime"]) < timedelta(seconds=10)
    assert latest.tzinfo is UTC


def test_restorable_window_uses_the_automated_backup_window() -> None:
    rds, stub = stubbed("rds")
    stub.add_response("describe_db_instances", {"DBInstances": [rds_instance("orders")]})
    stub.add_response(
        "describe_db_instance_automated_backups",
        {
            "DBInstanceAutomatedBackups": [
                {"DbiResourceId": "db-SOURCE", "RestoreWindow": {"EarliestTime": WINDOW_START}}
            ]
        },
        {"DBInstanceIdentifier": "orders"},
    )
    with stub:
        assert ops.restorable_window(rds, "orders") == (WINDOW_START, NOW - timedelta(minutes=4))


def test_restorable_window_without_automated_backups_falls_back_to_the_retention_period() -> None:
    rds, stub = stubbed("rds")
    stub.add_response("describe_db_instances", {"DBInstances": [rds_instance("orders", BackupRetentionPeriod=3)]})
    stub.add_client_error("describe_db_instance_automated_backups", "DBInstanceAutomatedBackupNotFound")
    with stub:
        assert ops.restorable_window(rds, "orders", now=NOW) == (NOW - timedelta(days=3), NOW - timedelta(minutes=4))


def test_plan_and_restore_latest_on_moto(world: World) -> None:
    target = world.unique("orders-restored")
    plan = ops.plan_restore(
        rds=world.rds,
        backup=None,
        source_instance_id=world.source,
        target_instance_id=target.upper(),  # RDS identifiers are case-insensitive and stored in lower case
        mode="latest",
        instance_class="db.t4g.large",
    )
    assert plan.operation == "restore_db_instance_to_point_in_time"
    assert plan.request() == {
        "SourceDBInstanceIdentifier": world.source,
        "TargetDBInstanceIdentifier": target,
        "UseLatestRestorableTime": True,
        "DBSubnetGroupName": world.network.subnet_group,
        "VpcSecurityGroupIds": [world.network.security_group],
        "MultiAZ": True,
        "PubliclyAccessible": False,
        "CopyTagsToSnapshot": True,
        "DeletionProtection": True,
        "EnableIAMDatabaseAuthentication": True,
        "Tags": [{"Key": "restored-from", "Value": world.source}],
        "DBInstanceClass": "db.t4g.large",
    }
    clock, progress = FakeClock(), Progress()
    started = ops.execute_restore(plan, rds=world.rds, backup=None, now=clock())
    assert started == ops.RestoreStarted("latest", world.source, target, NOW, None)
    clock.now += timedelta(minutes=12)
    finished = ops.wait_for_restore(
        rds=world.rds,
        backup=None,
        started=started,
        progress=progress,
        rto_minutes=60,
        sleep=clock.sleep,
        clock=clock,
    )
    assert finished.status == "available"
    assert (finished.elapsed_minutes, finished.within_rto) == (12.0, True)
    assert finished.endpoint_address and finished.endpoint_port == 5432
    assert progress.messages == [f"{target}: available"]

    restored = world.describe(target)
    assert restored["DBInstanceClass"] == "db.t4g.large"
    assert restored["MultiAZ"] is True
    assert restored["DeletionProtection"] is True
    assert restored["DBSubnetGroup"]["DBSubnetGroupName"] == world.network.subnet_group
    assert [g["VpcSecurityGroupId"] for g in restored["VpcSecurityGroups"]] == [world.network.security_group]
    assert {"Key": "restored-from", "Value": world.source} in restored["TagList"]
    source = world.describe(world.source)
    assert source["DBInstanceStatus"] == "available"
    assert source.get("DeletionProtection") in (None, False)  # untouched


def test_plan_time_on_moto_within_the_window(world: World) -> None:
    latest = world.describe(world.source)["LatestRestorableTime"]
    to_time = (latest - timedelta(hours=3)).astimezone(UTC)
    target = world.unique("orders-pitr")
    plan = ops.plan_restore(
        rds=world.rds,
        backup=None,
        source_instance_id=world.source,
        target_instance_id=target,
        mode="time",
        to_time=to_time,
        subnet_group=world.network.subnet_group,
        security_group_ids=[world.network.security_group],
    )
    assert plan.request()["RestoreTime"] == to_time
    assert "UseLatestRestorableTime" not in plan.request()
    ops.execute_restore(plan, rds=world.rds, backup=None)
    assert world.describe(target)["DBInstanceStatus"] == "available"


def test_plan_time_sends_exactly_these_parameters() -> None:
    rds, stub = stubbed("rds")
    to_time = datetime(2026, 3, 13, 23, 59, 0, tzinfo=UTC)
    stub_source(stub)
    stub.add_response(
        "restore_db_instance_to_point_in_time",
        {"DBInstance": rds_instance("orders-restored", DBInstanceStatus="creating")},
        {
            "SourceDBInstanceIdentifier": "orders",
            "TargetDBInstanceIdentifier": "orders-restored",
            "RestoreTime": to_time,
            "DBSubnetGroupName": "db-private",
            "VpcSecurityGroupIds": ["sg-0aaa"],  # the source's active groups only
            "MultiAZ": False,
            "PubliclyAccessible": False,
            "CopyTagsToSnapshot": True,
            "DeletionProtection": True,
            "EnableIAMDatabaseAuthentication": True,
            "Tags": [{"Key": "restored-from", "Value": "orders"}],
        },
    )
    with stub:
        plan = ops.plan_restore(
            rds=rds,
            backup=None,
            source_instance_id="orders",
            target_instance_id="orders-restored",
            mode="time",
            to_time=to_time,
        )
        started = ops.execute_restore(plan, rds=rds, backup=None, now=NOW)
    stub.assert_no_pending_responses()
    assert started.restore_job_id is None
    assert plan.window == (WINDOW_START, NOW - timedelta(minutes=4))

    lines = plan.describe()
    text = "\n".join(lines)
    assert lines[0].startswith("source: orders (arn:aws:rds:us-east-1:111111111111:db:orders)")
    assert lines[1] == "target: orders-restored (new instance)"
    assert lines[2] == "mode: time - point in time 2026-03-13T23:59:00Z (RDS point-in-time recovery)"
    assert "restorable window: 2026-03-07T09:30:00Z .. 2026-03-14T09:22:53Z" in lines
    assert "deletion protection: true" in text
    assert lines[-1] == "starts: restore_db_instance_to_point_in_time"

    as_dict = plan.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["restoreTime"] == "2026-03-13T23:59:00Z"
    assert as_dict["window"] == ["2026-03-07T09:30:00Z", "2026-03-14T09:22:53Z"]


def test_plan_and_start_recovery_point_restore(world: World) -> None:
    target = world.unique("orders-from-point")
    arn = point_arn(target)
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_recovery_point",
        recovery_point(arn, world.source_arn),
        {"BackupVaultName": VAULT, "RecoveryPointArn": arn},
    )
    metadata = {
        "DBInstanceIdentifier": target,
        "DBSubnetGroupName": world.network.subnet_group,
        "VpcSecurityGroupIds": json.dumps([world.network.security_group]),
        "MultiAZ": "true",
        "PubliclyAccessible": "false",
        "CopyTagsToSnapshot": "true",
        "DeletionProtection": "true",
        "EnableIAMDatabaseAuthentication": "true",
        "DBInstanceClass": "db.r6g.large",
    }
    stub.add_response(
        "start_restore_job",
        {"RestoreJobId": "RESTORE-1"},
        {"RecoveryPointArn": arn, "IamRoleArn": ROLE_ARN, "ResourceType": "RDS", "Metadata": metadata},
    )
    with stub:
        plan = ops.plan_restore(
            rds=world.rds,
            backup=backup,
            source_instance_id=world.source,
            target_instance_id=target,
            mode="recovery_point",
            recovery_point_arn=arn,
            vault_name=VAULT,
            iam_role_arn=ROLE_ARN,
            instance_class="db.r6g.large",
        )
        assert plan.operation == "start_restore_job"
        assert plan.window is None
        lines = plan.describe()
        assert lines[2] == (
            f"mode: recovery_point - recovery point {arn} of vault {VAULT}, created 2026-03-13T05:00:00Z (AWS Backup)"
        )
        assert f"restore role: {ROLE_ARN}" in lines
        started = ops.execute_restore(plan, rds=world.rds, backup=backup, now=NOW)
    stub.assert_no_pending_responses()
    assert started == ops.RestoreStarted("recovery_point", world.source, target, NOW, "RESTORE-1")


# --------------------------------------------------------------------------
# Waiting for a restore
# --------------------------------------------------------------------------


def restore_job(status: str, **extra: Any) -> dict[str, Any]:
    return {"RestoreJobId": "RESTORE-1", "Status": status, **extra}


def started_restore(job_id: str | None = "RESTORE-1") -> ops.RestoreStarted:
    mode: ops.RestoreMode = "recovery_point" if job_id else "latest"
    return ops.RestoreStarted(mode, "orders", "orders-restored", NOW, job_id)


@pytest.mark.parametrize(("rto", "within"), [(60.0, True), (30.0, False)])
def test_wait_for_restore_job_then_instance_measures_against_the_rto(rto: float, within: bool) -> None:
    backup, backup_stub = stubbed("backup")
    rds, rds_stub = stubbed("rds")
    backup_stub.add_response("describe_restore_job", restore_job("PENDING"), {"RestoreJobId": "RESTORE-1"})
    backup_stub.add_response(
        "describe_restore_job", restore_job("RUNNING", PercentDone="40"), {"RestoreJobId": "RESTORE-1"}
    )
    backup_stub.add_response("describe_restore_job", restore_job("COMPLETED"), {"RestoreJobId": "RESTORE-1"})
    rds_stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus="backing-up")]},
        {"DBInstanceIdentifier": "orders-restored"},
    )
    rds_stub.add_response(
        "describe_db_instances",
        {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus="available")]},
        {"DBInstanceIdentifier": "orders-restored"},
    )
    clock, progress = FakeClock(NOW + timedelta(minutes=2)), Progress()
    with backup_stub, rds_stub:
        finished = ops.wait_for_restore(
            rds=rds,
            backup=backup,
            started=started_restore(),
            progress=progress,
            rto_minutes=rto,
            poll_s=600,
            sleep=clock.sleep,
            clock=clock,
        )
    assert progress.messages == [
        "restore job RESTORE-1: PENDING",
        "restore job RESTORE-1: RUNNING (40% done)",
        "restore job RESTORE-1: COMPLETED",
        "orders-restored: backing-up",
        "orders-restored: available",
    ]
    assert finished == ops.RestoreFinished(
        target_instance_id="orders-restored",
        status="available",
        elapsed_minutes=32.0,  # 2 min before the wait + 3 polls of 10 min
        rto_minutes=rto,
        within_rto=within,
        restore_job_id="RESTORE-1",
        endpoint_address=f"orders-restored.abc.{REGION}.rds.amazonaws.com",
        endpoint_port=5432,
    )


def test_wait_for_pitr_reports_status_changes_and_tolerates_a_not_yet_visible_instance() -> None:
    rds, stub = stubbed("rds")
    stub.add_client_error("describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404)
    for status in ("creating", "creating", "modifying", "available"):
        stub.add_response(
            "describe_db_instances", {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus=status)]}
        )
    clock, progress = FakeClock(), Progress()
    with stub:
        finished = ops.wait_for_restore(
            rds=rds,
            backup=None,
            started=started_restore(None),
            progress=progress,
            rto_minutes=15,
            poll_s=240,
            sleep=clock.sleep,
            clock=clock,
        )
    assert progress.messages == [
        "orders-restored: not visible yet",
        "orders-restored: creating",
        "orders-restored: modifying",
        "orders-restored: available",
    ]
    assert (finished.elapsed_minutes, finished.within_rto, finished.restore_job_id) == (16.0, False, None)


@pytest.mark.parametrize("status", ["failed", "incompatible-restore", "incompatible-parameters", "storage-full"])
def test_wait_for_restore_fails_on_a_failed_instance_state(status: str) -> None:
    rds, stub = stubbed("rds")
    stub.add_response(
        "describe_db_instances", {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus="creating")]}
    )
    stub.add_response(
        "describe_db_instances", {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus=status)]}
    )
    clock = FakeClock()
    with stub, pytest.raises(ops.DbOperationError, match=f"'orders-restored' is in state '{status}'"):
        ops.wait_for_restore(
            rds=rds,
            backup=None,
            started=started_restore(None),
            progress=Progress(),
            rto_minutes=60,
            sleep=clock.sleep,
            clock=clock,
        )


def test_wait_for_restore_fails_with_the_restore_job_status_message() -> None:
    backup, stub = stubbed("backup")
    stub.add_response(
        "describe_restore_job",
        restore_job("FAILED", StatusMessage="DB subnet group db-private does not exist"),
        {"RestoreJobId": "RESTORE-1"},
    )
    clock = FakeClock()
    with stub, pytest.raises(ops.DbOperationError) as raised:
        ops.wait_for_restore(
            rds=None,
            backup=backup,
            started=started_restore(),
            progress=Progress(),
            rto_minutes=60,
            sleep=clock.sleep,
            clock=clock,
        )
    assert str(raised.value) == (
        "restore job RESTORE-1 into 'orders-restored' ended FAILED: DB subnet group db-private does not exist"
    )


def test_wait_for_restore_times_out_and_says_the_restore_continues() -> None:
    rds, stub = stubbed("rds")
    for _ in range(3):
        stub.add_response(
            "describe_db_instances", {"DBInstances": [rds_instance("orders-restored", DBInstanceStatus="creating")]}
        )
    clock = FakeClock()
    with stub, pytest.raises(ops.DbOperationError) as raised:
        ops.wait_for_restore(
            rds=rds,
            backup=None,
            started=started_restore(None),
            progress=Progress(),
            rto_minutes=60,
            timeout_s=120,
            poll_s=60,
            sleep=clock.sleep,
            clock=clock,
        )
    stub.assert_no_pending_responses()
    assert "still creating" in str(raised.value)
    assert "the restore continues in AWS" in str(raised.value)
