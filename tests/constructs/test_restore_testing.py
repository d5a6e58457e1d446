"""RestoreTesting and DisasterRecoveryDrill: template assertions, one concern per test."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Capture, Match, Template

from backup_constructs.core.bundling import BUNDLING_CONTEXT
from backup_constructs.policy import BackupPolicy, IntegrityCheck, PolicyError
from backup_constructs.restore_testing import DisasterRecoveryDrill, RestoreTesting
from lambdas.contract.functions import DRILL_STARTER, FUNCTIONS, VALIDATOR

PRODUCTION = BackupPolicy.production()
VALIDATOR_HANDLER = FUNCTIONS[VALIDATOR].handler
STARTER_HANDLER = FUNCTIONS[DRILL_STARTER].handler
DB_ARN = "arn:aws:rds:us-east-1:111111111111:db:ecommerce-production"
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def _stack(region: str = "us-east-1") -> tuple[Stack, ec2.Vpc]:
    app = App(context={BUNDLING_CONTEXT: "source-only"})
    stack = Stack(app, "Rt", env=Environment(account="111111111111", region=region))
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        availability_zones=[f"{region}a", f"{region}b"],
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    return stack, vpc


def monthly(policy: BackupPolicy = PRODUCTION, **kwargs: Any) -> Template:
    stack, vpc = _stack()
    vault = backup.BackupVault.from_backup_vault_name(stack, "Vault", "ecommerce-backup")
    RestoreTesting(
        stack,
        "Rt",
        policy=policy,
        vault=vault,
        database=rds.DatabaseInstance.from_database_instance_attributes(
            stack,
            "Db",
            instance_identifier=DB_ARN.rsplit(":", 1)[-1],
            instance_endpoint_address="orders.abcdefghijkl.us-east-1.rds.amazonaws.com",
            port=5432,
            security_groups=[],
        ),
        vpc=vpc,
        vpc_subnets=ISOLATED,
        **kwargs,
    )
    return Template.from_stack(stack)


def drill(policy: BackupPolicy = PRODUCTION, **kwargs: Any) -> Template:
    stack, vpc = _stack("us-west-2")
    DisasterRecoveryDrill(
        stack, "Drill", policy=policy, source_database_arn=DB_ARN, vpc=vpc, vpc_subnets=ISOLATED, **kwargs
    )
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def production_monthly() -> Template:
    stack, _ = _stack()
    secret_arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:rds-master-AbCdEf"
    return monthly(database_secret=secretsmanager.Secret.from_secret_complete_arn(stack, "S", secret_arn))


def _validator_env(template: Template) -> dict[str, Any]:
    env = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": VALIDATOR_HANDLER, "Environment": {"Variables": env}},
    )
    return dict(env.as_object())


def test_plan_restores_the_latest_snapshot_or_continuous_point_of_the_vault_monthly(
    production_monthly: Template,
) -> None:
    production_monthly.has_resource_properties(
        "AWS::Backup::RestoreTestingPlan",
        {
            "ScheduleExpression": "cron(0 6 1 * ? *)",
            "StartWindowHours": 2,
            "RecoveryPointSelection": {
                "Algorithm": "LATEST_WITHIN_WINDOW",
                "IncludeVaults": [Match.any_value()],
                "RecoveryPointTypes": ["SNAPSHOT", "CONTINUOUS"],
                "SelectionWindowDays": 7,
            },
        },
    )


def test_selection_makes_the_copy_small_single_az_private_and_isolated(production_monthly: Template) -> None:
    overrides, protected = Capture(), Capture()
    production_monthly.has_resource_properties(
        "AWS::Backup::RestoreTestingSelection",
        {
            "ProtectedResourceType": "RDS",
            "ProtectedResourceArns": [protected],
            "ValidationWindowHours": 4,
            "RestoreMetadataOverrides": overrides,
        },
    )
    assert ":db:" + DB_ARN.rsplit(":", 1)[-1] in json.dumps(protected.as_object())  # the database's ARN
    values = overrides.as_object()
    assert values["dbInstanceClass"] == "db.t4g.medium"
    assert (values["multiAz"], values["publiclyAccessible"]) == ("false", "false")
    assert "Ref" in values["dbSubnetGroupName"]
    assert json.dumps(values["vpcSecurityGroupIds"]).count("RestoredSecurityGroup") == 1
    # A restored copy comes up with IAM authentication, so validation never needs the master secret.
    assert values["enableIamDatabaseAuthentication"] == "true"


def test_only_the_validator_can_reach_the_restored_copy(production_monthly: Template) -> None:
    groups = production_monthly.find_resources("AWS::EC2::SecurityGroup")
    restored = next(k for k, v in groups.items() if "reachable by the validator" in v["Properties"]["GroupDescription"])
    validator = next(k for k, v in groups.items() if v["Properties"]["GroupDescription"] == "Restore validator")
    assert "SecurityGroupIngress" not in groups[restored]["Properties"]
    ingress = production_monthly.find_resources(
        "AWS::EC2::SecurityGroupIngress", {"Properties": {"GroupId": {"Fn::GetAtt": [restored, "GroupId"]}}}
    )
    (rule,) = ingress.values()
    assert rule["Properties"]["SourceSecurityGroupId"] == {"Fn::GetAtt": [validator, "GroupId"]}
    assert (rule["Properties"]["FromPort"], rule["Properties"]["ToPort"]) == (5432, 5432)


def test_validator_gets_the_policy_checks_targets_and_plan(production_monthly: Template) -> None:
    env = _validator_env(production_monthly)
    assert json.loads(env["CHECKS"]) == [c.to_json() for c in PRODUCTION.restore_testing.checks]
    assert (env["RTO_MINUTES"], env["RPO_MINUTES"], env["KIND"]) == ("60", "15", "monthly")
    assert "Fn::GetAtt" in env["PLAN_ARN"]
    assert env["SOURCE_SECRET_ARN"].startswith("arn:aws:secretsmanager")


def test_changing_the_policy_changes_the_validator(production_monthly: Template) -> None:
    checks = (IntegrityCheck("orders-floor", "min_rows", table="orders", min_rows=1000),)
    policy = dataclasses.replace(
        PRODUCTION,
        rto_target_minutes=45,
        restore_testing=dataclasses.replace(PRODUCTION.restore_testing, checks=checks),
    )
    env = _validator_env(monthly(policy))
    assert env["RTO_MINUTES"] == "45"
    assert json.loads(env["CHECKS"]) == [
        {"name": "orders-floor", "kind": "min_rows", "table": "orders", "minRows": 1000}
    ]


def test_validator_runs_in_the_vpc_on_completed_rds_restore_jobs(production_monthly: Template) -> None:
    production_monthly.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": VALIDATOR_HANDLER, "VpcConfig": Match.object_like({})},
    )
    production_monthly.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.backup"],
                "detail-type": ["Restore Job State Change"],
                "detail": {"status": ["COMPLETED"], "resourceType": ["RDS"]},
            }
        },
    )


def test_validator_may_read_only_the_source_secret_and_connect_only_as_the_validator_user(
    production_monthly: Template,
) -> None:
    statements = [
        s
        for p in production_monthly.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["SourceSecretVersions"]["Resource"].startswith("arn:aws:secretsmanager")
    assert "dbuser:*/backup_validator" in json.dumps(by_sid["ConnectAsValidator"]["Resource"])
    assert by_sid["PublishMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Ecommerce/Backup"}}
    production_monthly.resource_count_is("AWS::IAM::Policy", 0)


def test_reports_bucket_is_encrypted_and_locked_for_the_report_retention(production_monthly: Template) -> None:
    production_monthly.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
            },
            "BucketEncryption": Match.any_value(),
        },
    )


def test_interface_endpoints_admit_only_the_validator(production_monthly: Template) -> None:
    endpoints = production_monthly.find_resources("AWS::EC2::VPCEndpoint")
    assert len(endpoints) == 7  # six interface endpoints and the S3 gateway
    groups = production_monthly.find_resources("AWS::EC2::SecurityGroup")
    endpoint_group = next(k for k, v in groups.items() if "VPC endpoints" in v["Properties"]["GroupDescription"])
    assert "SecurityGroupIngress" not in groups[endpoint_group]["Properties"]


def test_no_endpoints_when_the_vpc_already_has_them() -> None:
    monthly(create_vpc_endpoints=False).resource_count_is("AWS::EC2::VPCEndpoint", 0)


def test_drill_starts_quarterly_and_can_delete_only_its_own_copies() -> None:
    template = drill()
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(0 6 15 1,4,7,10 ? *)"})
    env = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": STARTER_HANDLER, "Environment": {"Variables": env}},
    )
    assert env.as_object()["DR_VAULT_NAME"] == "ecommerce-backup-production-dr"
    assert env.as_object()["SOURCE_DB_ARN"] == DB_ARN
    statements = [
        s
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (delete,) = [s for s in statements if s["Sid"] == "DeleteOwnDrillCopies"]
    assert json.dumps(delete["Resource"]).endswith(':db:production-drill-*"]]}')
    assert _validator_env(template)["KIND"] == "drill"


def test_drill_with_configuration_part_invokes_the_restore_function() -> None:
    arn = "arn:aws:lambda:us-east-1:111111111111:function:ecommerce-backup-production-config-restore"
    template = drill(config_restore_function_arn=arn, source_namespace="production", drill_namespace="production-drill")
    env = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": STARTER_HANDLER, "Environment": {"Variables": env}},
    )
    assert (env.as_object()["CONFIG_RESTORE_FUNCTION_ARN"], env.as_object()["DRILL_NAMESPACE"]) == (
        arn,
        "production-drill",
    )
    assert "CONFIG_RESTORE_FUNCTION_ARN" not in _validator_env(template)  # the validator has no path to it
    invoke = [
        s
        for p in template.find_resources("AWS::IAM::ManagedPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "ConfigurationDrill"
    ]
    assert [s["Resource"] for s in invoke] == [arn]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drill_namespace": "production-drill"}, "set all three for the configuration drill"),
        ({"config_restore_function_arn": "arn:aws:lambda:us-east-1:1:function:x"}, "set all three"),
    ],
)
def test_drill_configuration_settings_come_together(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        drill(**kwargs)


def test_drill_needs_a_drill_schedule() -> None:
    with pytest.raises(PolicyError, match=r"restore_testing\.drill_schedule: got None"):
        drill(BackupPolicy.staging())


def test_drill_alarms_notify_the_given_topic_in_the_drills_own_region() -> None:
    stack, vpc = _stack("us-west-2")
    topic = sns.Topic(stack, "DrAlerts")
    drill_ = DisasterRecoveryDrill(
        stack, "Drill", policy=PRODUCTION, source_database_arn=DB_ARN, vpc=vpc, vpc_subnets=ISOLATED, alert_topic=topic
    )
    template = Template.from_stack(stack)
    assert set(drill_.alarms) == {
        "RestoreTimeOverRto-drill",
        "ValidationFailures-drill",
        "DataLossOverRpo-drill",
        "DrillStarterErrors",
        "DrillValidatorErrors",
        "DrillDeadLetters",
    }
    topic_id = stack.get_logical_id(topic.node.default_child)  # type: ignore[arg-type]
    starter_id = stack.get_logical_id(drill_.starter_function.node.default_child)  # type: ignore[arg-type]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": starter_id}}],
            "AlarmActions": [{"Ref": topic_id}],
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "RestoreTimeMinutes",
            "Threshold": PRODUCTION.rto_target_minutes,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_a_drill_without_a_topic_has_no_alarms() -> None:
    template = drill()
    template.resource_count_is("AWS::CloudWatch::Alarm", 0)


def _literal(value: Any) -> Any:
    """An ARN joined with the partition (no feature flags in these apps) as its text in aws."""
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict) and "Fn::Join" in value:
        parts = value["Fn::Join"][1]
        if all(isinstance(p, str) or p == {"Ref": "AWS::Partition"} for p in parts):
            return "".join(p if isinstance(p, str) else "aws" for p in parts)
    return value


def _statements(template: Template, sid: str) -> list[dict[str, Any]]:
    found = []
    for resource in template.to_json()["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [st for st in resource["Properties"]["PolicyDocument"]["Statement"] if st.get("Sid") == sid]
    return found


def test_a_drill_with_a_replica_snapshots_it_and_restores_only_its_own_snapshots() -> None:
    stack, vpc = _stack("us-west-2")
    key = kms.Key(stack, "ReplicaKey", enable_key_rotation=True)
    DisasterRecoveryDrill(
        stack,
        "Drill",
        policy=PRODUCTION,
        source_database_arn=DB_ARN,
        vpc=vpc,
        vpc_subnets=ISOLATED,
        replica_identifier="shop-dr",
        replica_key_arn=key.key_arn,
    )
    template = Template.from_stack(stack)
    (snapshot,) = _statements(template, "SnapshotTheReplica")
    assert snapshot["Action"] == "rds:CreateDBSnapshot"
    assert _literal(snapshot["Resource"]) == [
        "arn:aws:rds:us-west-2:111111111111:db:shop-dr",
        "arn:aws:rds:us-west-2:111111111111:snapshot:production-drill-*",
    ]
    (restore,) = _statements(template, "RestoreDrillSnapshot")
    assert _literal(restore["Resource"])[:2] == [
        "arn:aws:rds:us-west-2:111111111111:db:production-drill-*",
        "arn:aws:rds:us-west-2:111111111111:snapshot:production-drill-*",
    ]
    (grant,) = _statements(template, "RestoreEncryptedSnapshot")
    assert grant["Condition"] == {"StringEquals": {"kms:ViaService": "rds.us-west-2.amazonaws.com"}}
    (delete,) = _statements(template, "DeleteOwnDrillSnapshots")
    assert _literal(delete["Resource"]) == "arn:aws:rds:us-west-2:111111111111:snapshot:production-drill-*"
    patterns = [r["Properties"].get("EventPattern", {}) for r in template.find_resources("AWS::Events::Rule").values()]
    rds_patterns = [p for p in patterns if p.get("source") == ["aws.rds"]]
    assert sorted(p["detail"]["EventID"][0] for p in rds_patterns) == ["RDS-EVENT-0005", "RDS-EVENT-0042"]
    env = next(
        f["Properties"]["Environment"]["Variables"]
        for f in template.find_resources("AWS::Lambda::Function").values()
        if "REPLICA_IDENTIFIER" in f["Properties"].get("Environment", {}).get("Variables", {})
    )
    assert env["REPLICA_IDENTIFIER"] == "shop-dr"


def test_a_drill_without_a_replica_has_no_snapshot_grants_or_rds_rules() -> None:
    stack, vpc = _stack("us-west-2")
    DisasterRecoveryDrill(stack, "Drill", policy=PRODUCTION, source_database_arn=DB_ARN, vpc=vpc, vpc_subnets=ISOLATED)
    template = Template.from_stack(stack)
    assert not _statements(template, "SnapshotTheReplica") and not _statements(template, "DeleteOwnDrillSnapshots")
    patterns = [r["Properties"].get("EventPattern", {}) for r in template.find_resources("AWS::Events::Rule").values()]
    assert not [p for p in patterns if p.get("source") == ["aws.rds"]]
