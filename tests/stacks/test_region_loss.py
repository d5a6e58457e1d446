"""The region-loss design in the synthesized app: the project-managed, replicated and rotated master
secret, the deploy order of the DR stacks, the cross-Region read replica, S3 Replication Time
Control, the DR region's restore function and the alarms that watch replication where AWS publishes
their metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Synthesized, synth_app

PRIMARY, DR = "us-east-1", "us-west-2"
DATA, BASE, REPLICA = "ecommerce-production-data", "ecommerce-production-backup-dr", "ecommerce-production-dr-replica"
CONFIG, MONITORING = "ecommerce-production-config-backup", "ecommerce-production-monitoring"


def _one(synthesized: Synthesized, stack: str, type_: str) -> dict[str, Any]:
    (resource,) = synthesized.resources(stack, type_).values()
    return resource


def _alarm(synthesized: Synthesized, stack: str, metric: str) -> dict[str, Any]:
    (alarm,) = [
        a["Properties"]
        for a in synthesized.resources(stack, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == metric
    ]
    return dict(alarm)


def test_the_master_secret_is_the_stacks_own_replicated_with_the_dr_key_and_rotated(synthesized: Synthesized) -> None:
    db = _one(synthesized, DATA, "AWS::RDS::DBInstance")["Properties"]
    assert db["ManageMasterUserPassword"] is False  # RDS makes no read replica of an RDS-managed password
    assert "MasterUserSecret" not in db
    assert "resolve:secretsmanager" in json.dumps(db["MasterUserPassword"])
    secret = _one(synthesized, DATA, "AWS::SecretsManager::Secret")["Properties"]
    assert secret["Name"] == "ecommerce-production/database/master"
    (database_key,) = [
        k for k, v in synthesized.resources(DATA, "AWS::KMS::Key").items() if k.startswith("DatabaseKey")
    ]
    assert secret["KmsKeyId"] == {"Fn::GetAtt": [database_key, "Arn"]}
    assert secret["ReplicaRegions"] == [
        {"Region": DR, "KmsKeyId": "arn:aws:kms:us-west-2:111111111111:alias/ecommerce-production-database-dr"}
    ]
    aliases = {a["Properties"]["AliasName"] for a in synthesized.resources(BASE, "AWS::KMS::Alias").values()}
    assert "alias/ecommerce-production-database-dr" in aliases  # the key the replica region uses exists there
    schedule = _one(synthesized, DATA, "AWS::SecretsManager::RotationSchedule")["Properties"]
    assert schedule["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    app = _one(synthesized, DATA, "AWS::Serverless::Application")
    assert "SecretsManagerRDSPostgreSQLRotationSingleUser" in json.dumps(synthesized.templates[DATA]["Mappings"])
    assert "vpcSubnetIds" in app["Properties"]["Parameters"]
    staging = _one(synthesized, "ecommerce-staging-data", "AWS::SecretsManager::Secret")["Properties"]
    assert "ReplicaRegions" not in staging  # no DR region, nothing to replicate to


def test_the_rotation_function_reaches_only_the_database_and_secrets_manager(synthesized: Synthesized) -> None:
    groups = synthesized.resources(DATA, "AWS::EC2::SecurityGroup")
    (rotation,) = [k for k, v in groups.items() if v["Properties"]["GroupDescription"].startswith("Master secret")]
    egress = [e["Properties"] for e in synthesized.resources(DATA, "AWS::EC2::SecurityGroupEgress").values()]
    mine = [e for e in egress if e["GroupId"] == {"Fn::GetAtt": [rotation, "GroupId"]}]
    assert [(e["FromPort"], e["ToPort"]) for e in mine] == [(5432, 5432)]
    assert [(e["FromPort"], e["CidrIp"]) for e in groups[rotation]["Properties"]["SecurityGroupEgress"]] == [
        (443, "0.0.0.0/0")
    ]
    ingress = [i["Properties"] for i in synthesized.resources(DATA, "AWS::EC2::SecurityGroupIngress").values()]
    into_endpoints = [i for i in ingress if i.get("SourceSecurityGroupId") == {"Fn::GetAtt": [rotation, "GroupId"]}]
    assert sorted(i["FromPort"] for i in into_endpoints) == [443, 5432]


def _dependencies(outdir: Path) -> dict[str, set[str]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: {d for d in artifact.get("dependencies", []) if not d.endswith(".assets")}
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_the_dr_base_deploys_before_the_data_stack_and_the_replica_stack_after_it(synthesized: Synthesized) -> None:
    deps = _dependencies(synthesized.outdir)
    assert BASE in deps[DATA]  # the secret replicates with the DR region's key
    assert {DATA, CONFIG} <= deps[REPLICA]  # the replica's source and the digest key's primary
    assert deps[BASE] == set()
    makefile = (ROOT / "Makefile").read_text()
    assert "--all" in makefile  # cdk deploy --all deploys in dependency order


def test_the_replica_is_an_l1_cross_region_replica_with_its_own_key_and_log_groups(synthesized: Synthesized) -> None:
    replica = _one(synthesized, REPLICA, "AWS::RDS::DBInstance")
    props = replica["Properties"]
    assert props["SourceDBInstanceIdentifier"] == "arn:aws:rds:us-east-1:111111111111:db:ecommerce-production"
    assert props["SourceRegion"] == PRIMARY
    assert props["DBInstanceIdentifier"] == "ecommerce-production-dr"
    assert props["DBInstanceClass"] == _one(synthesized, DATA, "AWS::RDS::DBInstance")["Properties"]["DBInstanceClass"]
    assert props["KmsKeyId"]["Fn::GetStackOutput"]["StackName"] == BASE  # the DR region's database key
    assert props["EnableIAMDatabaseAuthentication"] is True and props["DeletionProtection"] is True
    assert props["MultiAZ"] is True and props["PubliclyAccessible"] is False
    assert props["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    # Inherited from the source, refused or ignored by CloudFormation on a replica:
    for absent in ("StorageEncrypted", "Engine", "MasterUsername", "MasterUserPassword", "BackupRetentionPeriod"):
        assert absent not in props, absent
    assert replica["DeletionPolicy"] == "Delete"  # CloudFormation ignores deletion policies on replicas
    groups = {
        g["Properties"]["LogGroupName"]: g["Properties"]
        for g in synthesized.resources(REPLICA, "AWS::Logs::LogGroup").values()
    }
    for kind in ("postgresql", "upgrade"):
        assert groups[f"/aws/rds/instance/ecommerce-production-dr/{kind}"]["RetentionInDays"] == 90
    assert synthesized.resources("ecommerce-staging-data", "AWS::RDS::DBInstance")  # staging: no replica stack
    assert not any("staging-dr" in name for name in synthesized.templates)


def test_configuration_backups_replicate_with_replication_time_control(synthesized: Synthesized) -> None:
    (bucket,) = [
        b["Properties"]
        for b in synthesized.resources(CONFIG, "AWS::S3::Bucket").values()
        if "ReplicationConfiguration" in b["Properties"]
    ]
    (rule,) = bucket["ReplicationConfiguration"]["Rules"]
    destination = rule["Destination"]
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert rule["Id"] == "to-dr-region" and rule["Filter"] == {"Prefix": ""}


def test_the_dr_region_restores_configuration_into_the_dr_cluster(synthesized: Synthesized) -> None:
    functions = synthesized.resources(BASE, "AWS::Lambda::Function")
    restores = {
        f["Properties"]["FunctionName"]: k
        for k, f in functions.items()
        if f["Properties"]["Handler"] == "lambdas.config_backup.handlers.restore_handler"
    }
    # The failover's restore writes the source namespaces; the drill's writes the drill namespace only.
    assert set(restores) == {
        "ecommerce-backup-production-config-restore-dr",
        "ecommerce-backup-production-config-restore-drill",
    }
    restore_id = restores["ecommerce-backup-production-config-restore-dr"]
    drill_id = restores["ecommerce-backup-production-config-restore-drill"]
    env = functions[restore_id]["Properties"]["Environment"]["Variables"]
    assert env["ALLOWED_NAMESPACES"] == "production"
    assert functions[drill_id]["Properties"]["Environment"]["Variables"]["ALLOWED_NAMESPACES"] == "production-drill"
    assert env["CLUSTER_NAME"] == "ecommerce-production"  # whose backups
    assert env["TARGET_CLUSTER_NAME"] == "ecommerce-production-dr"  # where they go
    (bucket_id,) = [
        k
        for k, b in synthesized.resources(BASE, "AWS::S3::Bucket").items()
        if b["Properties"].get("BucketName") == "ecommerce-backup-production-config-111111111111-us-west-2"
    ]
    assert env["BUCKET"] == {"Ref": bucket_id}  # the replica bucket
    assert env["DIGEST_KMS_KEY"] == (
        "arn:aws:kms:us-west-2:111111111111:alias/ecommerce-backup-production-config-digest-mr"
    )
    entries = synthesized.resources(BASE, "AWS::EKS::AccessEntry")
    scopes = {
        entry["Properties"]["PrincipalArn"]["Fn::GetAtt"][0]: entry["Properties"]["AccessPolicies"][0]["AccessScope"]
        for entry in entries.values()
    }
    assert all(e["Properties"]["ClusterName"] == "ecommerce-production-dr" for e in entries.values())
    roles = {fid: functions[fid]["Properties"]["Role"]["Fn::GetAtt"][0] for fid in (restore_id, drill_id)}
    assert scopes[roles[restore_id]] == {"Type": "namespace", "Namespaces": ["production"]}
    assert scopes[roles[drill_id]] == {"Type": "namespace", "Namespaces": ["production-drill"]}
    starter = [f for f in functions.values() if f["Properties"]["Handler"].endswith("drill_start_handler")]
    (drill_env,) = [f["Properties"]["Environment"]["Variables"] for f in starter]
    assert drill_env["CONFIG_RESTORE_FUNCTION_ARN"] == {"Fn::GetAtt": [drill_id, "Arn"]}
    replica_key = _one(synthesized, REPLICA, "AWS::KMS::ReplicaKey")["Properties"]
    assert replica_key["PrimaryKeyArn"]["Fn::GetStackOutput"]["StackName"] == CONFIG
    (alias,) = synthesized.resources(REPLICA, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == "alias/ecommerce-backup-production-config-digest-mr"
    primary = [k for k in synthesized.resources(CONFIG, "AWS::KMS::Key").values() if k["Properties"].get("MultiRegion")]
    assert [k["Properties"]["KeySpec"] for k in primary] == ["HMAC_256"]


def test_replication_is_alarmed_where_aws_publishes_each_metric(synthesized: Synthesized) -> None:
    lag = _alarm(synthesized, REPLICA, "ReplicaLag")
    assert lag["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": "ecommerce-production-dr"}]
    assert (lag["Threshold"], lag["TreatMissingData"]) == (15 * 60, "breaching")
    assert lag["AlarmActions"][0]["Fn::GetStackOutput"]["StackName"] == BASE  # the DR region's topic
    latency = _alarm(synthesized, BASE, "ReplicationLatency")  # destination region
    assert (latency["Threshold"], latency["TreatMissingData"]) == (15 * 60, "ignore")
    failed = _alarm(synthesized, MONITORING, "OperationsFailedReplication")  # source region
    assert {d["Name"] for d in failed["Dimensions"]} == {"SourceBucket", "DestinationBucket", "RuleId"}


def test_production_relaxed_to_copies_refuses_to_synthesize_naming_the_field(tmp_path: Path) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["environment"] = "production"
    context["environments"]["production"]["policy"] = {
        "regionLoss": {"mechanisms": [{"resourceType": "RDS", "mechanism": "copies"}]}
    }
    with pytest.raises(RuntimeError) as err:
        synth_app(tmp_path, context)
    assert "region_loss.mechanisms[0].mechanism: got 'copies'; the region-loss RPO for RDS would be 25 h" in str(
        err.value
    )


def test_an_explicitly_relaxed_region_loss_target_synthesizes_copies_without_a_replica(tmp_path: Path) -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["environment"] = "production"
    context["environments"]["production"]["policy"] = {
        "regionLoss": {"rpoTargetMinutes": 1560, "mechanisms": [{"resourceType": "RDS", "mechanism": "copies"}]}
    }
    out = synth_app(tmp_path, context)
    assert not out.resources(REPLICA, "AWS::RDS::DBInstance")


def _rds_event(detail_type: str, kind: str, name: str, event_id: str, region: str = DR) -> dict[str, Any]:
    arn = f"arn:aws:rds:{region}:111111111111:{kind}:{name}"
    return {
        "version": "0",
        "id": "7f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f",
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": "111111111111",
        "time": "2026-04-01T03:20:00Z",
        "region": region,
        "resources": [arn],
        "detail": {"SourceArn": arn, "SourceIdentifier": name, "EventID": event_id, "SourceType": kind.upper()},
    }


def test_the_drill_continues_on_its_own_snapshot_and_instance_events_only(synthesized: Synthesized) -> None:
    """The DR stack's RDS rules, evaluated by EventBridge's pattern matcher (moto's): the drill's
    snapshot of the replica starts the restore, the restored instance starts the validation, and no
    other snapshot, instance or event kind does."""
    from tests.support.moto_aws import drain_events, moto_aws

    rules = {
        logical_id.split("Drill", 1)[1].rstrip("0123456789ABCDEF"): r["Properties"]
        for logical_id, r in synthesized.resources(BASE, "AWS::Events::Rule").items()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.rds"] and logical_id.startswith("Drill")
    }
    assert set(rules) == {"SnapshotTaken", "InstanceRestored"}
    functions = synthesized.resources(BASE, "AWS::Lambda::Function")
    targets = {name: rule["Targets"][0]["Arn"]["Fn::GetAtt"][0] for name, rule in rules.items()}
    assert targets["SnapshotTaken"].startswith("DrillStarter") and targets["SnapshotTaken"] in functions
    assert targets["InstanceRestored"].startswith("DrillValidationValidator")
    snapshot, instance = "RDS DB Snapshot Event", "RDS DB Instance Event"
    cases = {
        ("SnapshotTaken", snapshot, "snapshot", "production-drill-drill-202604010300", "RDS-EVENT-0042"): True,
        ("SnapshotTaken", snapshot, "snapshot", "production-drill-drill-202604010300", "RDS-EVENT-0040"): False,
        ("SnapshotTaken", snapshot, "snapshot", "nightly-export", "RDS-EVENT-0042"): False,
        ("SnapshotTaken", instance, "db", "production-drill-drill-202604010300", "RDS-EVENT-0042"): False,
        ("InstanceRestored", instance, "db", "production-drill-drill-202604010300", "RDS-EVENT-0005"): True,
        ("InstanceRestored", instance, "db", "ecommerce-production-dr", "RDS-EVENT-0005"): False,
        ("InstanceRestored", instance, "db", "production-drill-drill-202604010300", "RDS-EVENT-0003"): False,
    }
    with moto_aws(DR) as aws:
        events, sqs = aws.client("events"), aws.client("sqs")
        queues = {}
        for name, rule in rules.items():  # each rule delivers to a queue standing in for its function
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventPattern=json.dumps(rule["EventPattern"]))
            events.put_targets(Rule=name, Targets=[{"Id": "function", "Arn": arn}])
            queues[name] = url
        for (rule, detail_type, kind, name, event_id), expected in cases.items():
            event = _rds_event(detail_type, kind, name, event_id)
            entry = {k: event[k] for k in ("source", "resources")}
            entry |= {"DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}
            events.put_events(Entries=[{k[0].upper() + k[1:]: v for k, v in entry.items()}])
            delivered = {queue: drain_events(sqs, url, []) for queue, url in queues.items()}
            assert bool(delivered[rule]) is expected, (rule, detail_type, name, event_id)
            assert not any(v for k, v in delivered.items() if k != rule), (rule, detail_type, name, event_id)


def test_the_drills_data_loss_is_alarmed_against_the_region_loss_rpo(synthesized: Synthesized) -> None:
    alarm = _alarm(synthesized, BASE, "DataLossMinutes")
    assert alarm["Threshold"] == 15 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {"Environment": "production", "Kind": "drill"}
    time_alarm = _alarm(synthesized, BASE, "RestoreTimeMinutes")
    assert time_alarm["Threshold"] == 60  # the drill's RTO clock is the region-loss RTO


def test_the_dr_region_backs_up_a_promoted_instance_by_the_failover_tag(synthesized: Synthesized) -> None:
    plan = _one(synthesized, BASE, "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    assert plan["BackupPlanName"] == "ecommerce-backup-production-failover"
    rules = {r["RuleName"]: r for r in plan["BackupPlanRule"]}
    (primary,) = [
        p["Properties"]["BackupPlan"]
        for p in synthesized.resources("ecommerce-production-backup", "AWS::Backup::BackupPlan").values()
        if p["Properties"]["BackupPlan"]["BackupPlanName"] == "ecommerce-backup-production"
    ]
    assert set(rules) == {r["RuleName"] for r in primary["BackupPlanRule"]}  # the same rules as the primary's
    assert all("CopyActions" not in r for r in rules.values())  # nowhere to copy to with the primary gone
    assert any(r.get("EnableContinuousBackup") for r in rules.values())
    (vault_id,) = synthesized.resources(BASE, "AWS::Backup::BackupVault")
    assert {r["TargetBackupVault"]["Fn::GetAtt"][0] for r in rules.values()} == {vault_id}
    selection = _one(synthesized, BASE, "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
    assert selection["ListOfTags"] == [
        {"ConditionKey": "backup-failover", "ConditionType": "STRINGEQUALS", "ConditionValue": "production"}
    ]
    assert "Resources" not in selection  # nothing is backed up here until a failover tags it
    assert "AWS::Backup::BackupPlan" not in json.dumps(synthesized.templates.get("ecommerce-staging-backup-dr", {}))


def test_the_dashboard_shows_region_loss_exposure_from_the_dr_region(synthesized: Synthesized) -> None:
    dashboard = _one(synthesized, MONITORING, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"]
    body = json.dumps(dashboard)
    assert "in-region and on region loss" in body
    assert '\\"ReplicaLag\\",\\"DBInstanceIdentifier\\",\\"ecommerce-production-dr\\",{\\"id\\":\\"lag\\"' in body
    assert '\\"region\\":\\"us-west-2\\"' in body and '\\"expression\\":\\"lag / 60\\"' in body
