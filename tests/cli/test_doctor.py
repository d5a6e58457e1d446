"""backupctl doctor: each prerequisite check with both outcomes, against moto's server (AWS Config,
CloudTrail, CloudFormation, SSM, S3) and botocore's Stubber where moto lacks the API (Lambda account
settings, the EKS cluster's access configuration)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from backup_constructs.cli import doctor
from backup_constructs.cli.main import main
from tests.conftest import ROOT
from tests.support.moto_aws import MotoAws, moto_aws, stubbed

REGION, DR = "us-east-1", "us-west-2"
AUDIT_TYPES = list(doctor.AUDIT_RESOURCE_TYPES)


@pytest.fixture
def aws() -> Iterator[MotoAws]:
    """A fresh moto world per test: the checks look for what is absent, and moto's backends are
    process-global (this module's tests run one after the other; nothing else runs meanwhile)."""
    with moto_aws(REGION) as moto:
        requests.post(f"{moto.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        yield moto


def recorder(aws: MotoAws, region: str = REGION, *, types: list[str] | None = None, start: bool = True) -> None:
    config = aws.client("config", region)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": False, "resourceTypes": types or AUDIT_TYPES},
        }
    )
    if start:
        aws.client("s3", region).create_bucket(Bucket=f"config-history-{region}")
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": f"config-history-{region}"})
        config.start_configuration_recorder(ConfigurationRecorderName="default")


def trail(aws: MotoAws, *, logging: bool = True, management: bool = True, multi_region: bool = True) -> None:
    aws.client("s3").create_bucket(Bucket="org-trail")
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name="org", S3BucketName="org-trail", IsMultiRegionTrail=multi_region)
    cloudtrail.put_event_selectors(
        TrailName="org", EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": management}]
    )
    if logging:
        cloudtrail.start_logging(Name="org")


def bootstrap(aws: MotoAws, region: str, version: int, *, output: bool = True) -> None:
    """A CDKToolkit stack holding the bootstrap version parameter (and, as cdk bootstrap writes it, the
    BootstrapVersion output)."""
    parameter = {"Name": doctor.BOOTSTRAP_VERSION_PARAMETER, "Type": "String", "Value": str(version)}
    template: dict[str, Any] = {
        "Resources": {"CdkBootstrapVersion": {"Type": "AWS::SSM::Parameter", "Properties": parameter}}
    }
    if output:
        template["Outputs"] = {"BootstrapVersion": {"Value": str(version)}}
    aws.client("cloudformation", region).create_stack(StackName="CDKToolkit", TemplateBody=json.dumps(template))


def account_settings(unreserved: int, region: str = REGION) -> Any:
    client, stub = stubbed("lambda", region)
    stub.add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": unreserved}},
        {},
    )
    stub.activate()
    return client


def cluster(mode: str | None) -> Any:
    client, stub = stubbed("eks")
    described: dict[str, Any] = {"name": "ecommerce-production", "status": "ACTIVE"}
    if mode:
        described["accessConfig"] = {"authenticationMode": mode}
    stub.add_response("describe_cluster", {"cluster": described}, {"name": "ecommerce-production"})
    stub.activate()
    return client


# Each check, both outcomes ---------------------------------------------------------------------------


def test_config_recorder_ok_missing_not_recording_and_incomplete(aws: MotoAws) -> None:
    config = aws.client("config")
    missing = doctor.check_config_recorder(config, REGION, app_creates_recorder=False)
    assert missing.status == "MISSING" and "enableConfigRecording" in missing.fix
    recorder(aws, types=AUDIT_TYPES[:2], start=False)
    assert "not recording" in doctor.check_config_recorder(config, REGION, app_creates_recorder=False).detail
    recorder(aws, types=AUDIT_TYPES[:2])
    incomplete = doctor.check_config_recorder(config, REGION, app_creates_recorder=False)
    assert incomplete.status == "MISSING" and "AWS::Backup::RecoveryPoint" in incomplete.detail
    recorder(aws)
    assert doctor.check_config_recorder(config, REGION, app_creates_recorder=False).status == "OK"
    # The app's own recorder would be a second one: refused.
    assert doctor.check_config_recorder(config, REGION, app_creates_recorder=True).status == "MISSING"


def test_config_recorder_the_app_creates_is_ok_where_none_exists(aws: MotoAws) -> None:
    assert doctor.check_config_recorder(aws.client("config"), REGION, app_creates_recorder=True).status == "OK"


@pytest.mark.parametrize(
    ("mode", "status"), [("API_AND_CONFIG_MAP", "OK"), ("API", "OK"), ("CONFIG_MAP", "MISSING"), (None, "MISSING")]
)
def test_eks_authentication_mode(mode: str | None, status: str) -> None:
    found = doctor.check_eks_authentication(cluster(mode), REGION, "ecommerce-production")
    assert found.status == status
    if status == "MISSING":
        assert "authenticationMode=API_AND_CONFIG_MAP" in found.fix


def test_cloudtrail_needs_a_logging_trail_with_management_events(aws: MotoAws) -> None:
    def cloudtrail(region: str) -> Any:
        return aws.client("cloudtrail", region)

    assert doctor.check_cloudtrail(cloudtrail, REGION).status == "MISSING"
    trail(aws, logging=False)
    assert doctor.check_cloudtrail(cloudtrail, REGION).status == "MISSING"
    cloudtrail(REGION).start_logging(Name="org")
    assert doctor.check_cloudtrail(cloudtrail, REGION).status == "OK"
    # A multi-region trail covers the DR region too (read in its home region).
    assert doctor.check_cloudtrail(cloudtrail, DR).status == "OK"


def test_cloudtrail_without_management_events_does_not_count(aws: MotoAws) -> None:
    trail(aws, management=False)
    assert doctor.check_cloudtrail(lambda r: aws.client("cloudtrail", r), REGION).status == "MISSING"


def test_cdk_bootstrap_present_old_and_missing(aws: MotoAws) -> None:
    assert doctor.check_bootstrap(aws.client("cloudformation"), aws.client("ssm"), REGION).status == "MISSING"
    bootstrap(aws, REGION, 29)
    assert (
        doctor.check_bootstrap(aws.client("cloudformation"), aws.client("ssm"), REGION).detail == "bootstrap version 29"
    )
    bootstrap(aws, DR, 5, output=False)  # the version read from the SSM parameter instead
    old = doctor.check_bootstrap(aws.client("cloudformation", DR), aws.client("ssm", DR), DR)
    assert old.status == "MISSING" and "5 < 6" in old.detail


def test_lambda_concurrency_must_leave_100_unreserved() -> None:
    assert doctor.check_concurrency(account_settings(1000), REGION, 6).status == "OK"
    tight = doctor.check_concurrency(account_settings(104), REGION, 6)
    assert tight.status == "MISSING" and "98 would be left" in tight.detail
    assert doctor.check_concurrency(account_settings(1000), REGION, None).status == "UNKNOWN"


def test_a_check_that_cannot_run_is_unknown_not_ok() -> None:
    client, stub = stubbed("cloudtrail")
    stub.add_client_error("describe_trails", "AccessDeniedException", http_status_code=400)
    with stub:
        found = doctor.check_cloudtrail(lambda _: client, REGION)
    assert (found.status, found.detail) == ("UNKNOWN", "could not check (AccessDeniedException)")


def global_settings(enabled: str) -> Any:
    client, stub = stubbed("backup")
    stub.add_response("describe_global_settings", {"GlobalSettings": {"isCrossAccountBackupEnabled": enabled}}, {})
    stub.activate()
    return client


@pytest.mark.parametrize(("enabled", "status"), [("true", "OK"), ("false", "MISSING")])
def test_cross_account_backup_must_be_on_in_the_organization(enabled: str, status: str) -> None:
    found = doctor.check_cross_account_backup(global_settings(enabled), REGION)
    assert found.status == status
    if status == "MISSING":
        assert "isCrossAccountBackupEnabled=true" in found.fix and "management account" in found.fix
    client, stub = stubbed("backup")
    # A member account outside an organization gets an error: the check cannot tell, it does not say OK.
    stub.add_client_error("describe_global_settings", "InvalidRequestException", http_status_code=400)
    with stub:
        assert doctor.check_cross_account_backup(client, REGION).status == "UNKNOWN"


BACKUP_ACCOUNT = "222222222222"


def database(aws: MotoAws, *, shared: bool) -> None:
    """The database, encrypted with a customer managed key whose policy does or does not name the
    backup account (as the data stack's does)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if shared:
        statements.append(
            {
                "Sid": "BackupAccountCopiesSnapshots",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{BACKUP_ACCOUNT}:root"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
            }
        )
    key = aws.client("kms").create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier="ecommerce-production",
        DBInstanceClass="db.m7g.large",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-secret-1",
        AllocatedStorage=100,
        StorageEncrypted=True,
        KmsKeyId=key["KeyMetadata"]["Arn"],
    )


@pytest.mark.parametrize(("shared", "status"), [(True, "OK"), (False, "MISSING")])
def test_the_database_key_must_be_usable_by_the_backup_account(aws: MotoAws, shared: bool, status: str) -> None:
    database(aws, shared=shared)
    found = doctor.check_key_shared(
        aws.client("rds"), aws.client("kms"), REGION, "ecommerce-production", BACKUP_ACCOUNT
    )
    assert found.status == status, found
    assert BACKUP_ACCOUNT in found.detail


# The command ----------------------------------------------------------------------------------------


def _wire(monkeypatch: pytest.MonkeyPatch, aws: MotoAws, *, unreserved: int, mode: str, cross: str = "true") -> None:
    def client(service: str, region: str) -> Any:
        if service == "lambda":
            return account_settings(unreserved, region)
        if service == "eks":
            return cluster(mode)
        if service == "backup":
            return global_settings(cross)
        return aws.client(service, region)

    monkeypatch.setattr(doctor, "aws_client", client)


def test_doctor_reports_every_check_in_both_regions_and_exits_1_when_something_is_missing(
    aws: MotoAws, monkeypatch: pytest.MonkeyPatch, synthesized: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _wire(monkeypatch, aws, unreserved=1000, mode="CONFIG_MAP", cross="false")
    database(aws, shared=False)
    code = main(
        ["doctor", "--env", "production", "--cdk-json", str(ROOT / "cdk.json"), "--assembly", str(synthesized.outdir)]
    )
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 1 and "prerequisite(s) missing" in err
    assert [line.split()[:3] for line in lines] == [
        ["MISSING", REGION, "config-recorder"],
        ["MISSING", REGION, "eks-access-entries"],
        ["MISSING", REGION, "cross-account-backup"],
        ["MISSING", REGION, "key-shared"],
        ["MISSING", REGION, "cloudtrail"],
        ["MISSING", REGION, "cdk-bootstrap"],
        ["OK", REGION, "lambda-concurrency"],
        ["MISSING", DR, "cloudtrail"],
        ["MISSING", DR, "cdk-bootstrap"],
        ["OK", DR, "lambda-concurrency"],
    ]
    assert all("fix:" in line for line in lines if line.startswith("MISSING"))


def test_doctor_exits_0_when_every_prerequisite_is_met(
    aws: MotoAws, monkeypatch: pytest.MonkeyPatch, synthesized: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder(aws)
    trail(aws)
    bootstrap(aws, REGION, 29)
    bootstrap(aws, DR, 29)
    _wire(monkeypatch, aws, unreserved=1000, mode="API_AND_CONFIG_MAP")
    database(aws, shared=True)
    code = main(
        [
            "doctor",
            "--env",
            "production",
            "--cdk-json",
            str(ROOT / "cdk.json"),
            "--assembly",
            str(synthesized.outdir),
            "--json",
        ]
    )
    checks = json.loads(capsys.readouterr().out)
    assert code == 0 and {c["status"] for c in checks} == {"OK"} and len(checks) == 10


def test_reserved_concurrency_is_counted_per_region_from_the_assembly(synthesized: Any) -> None:
    stacks = [name for name in synthesized.templates if name.startswith("ecommerce-production-")]
    totals = doctor.reserved_concurrency(Path(synthesized.outdir), stacks)
    expected: dict[str, int] = {}
    for name in stacks:
        for fn in synthesized.resources(name, "AWS::Lambda::Function").values():
            region = synthesized.regions[name]
            expected[region] = expected.get(region, 0) + int(fn["Properties"].get("ReservedConcurrentExecutions", 0))
    assert totals == expected and totals[REGION] >= 4 and totals[DR] >= 2
