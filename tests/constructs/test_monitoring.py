"""BackupMonitoring, AlertTopic and key protection: template assertions, thresholds from the policy."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aws_cdk import App, CliCredentialsStackSynthesizer, Environment, Stack
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Capture, Match, Template

from backup_constructs.core.bundling import BUNDLING_CONTEXT
from backup_constructs.core.keys import protect_keys
from backup_constructs.monitoring.alerts import AlertTopic
from backup_constructs.monitoring.construct import BackupMonitoring
from backup_constructs.monitoring.vault_metrics import BACKUP_FAILURE_METRICS
from backup_constructs.policy import BackupPolicy, ResourceType
from backup_constructs.policy.rpo import recovery_point_age_allowance_minutes
from lambdas.contract.functions import FUNCTIONS, RPO_MONITOR

PRODUCTION = BackupPolicy.production()
# Figures unlike the presets': thresholds that match them were read from the policy.
CHANGED = dataclasses.replace(
    PRODUCTION,
    rpo_target_minutes=20,
    rto_target_minutes=45,
    config_backup=dataclasses.replace(
        PRODUCTION.config_backup, refresh_interval_days=3, schedule="cron(0 */4 * * ? *)"
    ),
    rules=tuple(
        dataclasses.replace(r, start_window_minutes=90, completion_window_minutes=240) for r in PRODUCTION.rules
    ),
)
DB_ARN = "arn:aws:rds:us-east-1:111111111111:db:ecommerce-production"


def monitoring_stack() -> Stack:
    app = App(context={BUNDLING_CONTEXT: "source-only"})
    return Stack(app, "M", env=Environment(account="111111111111", region="us-east-1"))


def build(policy: BackupPolicy = PRODUCTION, **kwargs: Any) -> Template:
    stack = monitoring_stack()
    props: dict[str, Any] = {
        "database_identifiers": ["ecommerce-production"],
        "protected_resource_arns": [DB_ARN],
        "config_bucket_name": "cfg-bucket",
        "config_cluster": "shop",
        "config_namespaces": ["production"],
        "alert_emails": ["ops@example.com"],
        "exempt_principal_arns": ["arn:aws:iam::111111111111:role/break-glass"],
    }
    BackupMonitoring(stack, "Mon", policy=policy, **{**props, **kwargs})
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def production() -> Template:
    return build()


def _alarm(template: Template, description_part: str) -> dict[str, Any]:
    matches = [
        a["Properties"]
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if description_part in a["Properties"]["AlarmDescription"]
    ]
    assert len(matches) == 1, [m["AlarmDescription"] for m in matches]
    return dict(matches[0])


def test_alert_topic_is_kms_encrypted_tls_only_and_subscribed(production: Template) -> None:
    production.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    policy = Capture()
    production.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": policy})
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy.as_object()["Statement"]
    )
    production.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


@pytest.mark.parametrize(
    ("detail_type", "detail", "words"),
    [
        ("Backup Job State Change", {"state": ["FAILED", "ABORTED", "EXPIRED"]}, "AWS Backup job"),
        ("Copy Job State Change", {"state": ["FAILED"]}, "Copy job"),
        ("Restore Job State Change", {"status": ["FAILED", "ABORTED"]}, "Restore job"),
        ("Restore Test Completed", {"status": ["FAILED"]}, "Restore test"),
        ("DR Drill Completed", {"status": ["FAILED"]}, "DR drill"),
        ("Config Backup Failed", None, "Kubernetes config backup"),
    ],
)
def test_every_failure_reaches_the_topic_as_one_human_line(
    production: Template, detail_type: str, detail: Any, words: str
) -> None:
    rules = production.find_resources(
        "AWS::Events::Rule", {"Properties": {"EventPattern": {"detail-type": [detail_type]}}}
    )
    (rule,) = rules.values()
    assert rule["Properties"]["EventPattern"].get("detail") == detail
    (target,) = rule["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    assert words in transformer["InputTemplate"] and "[production]" in transformer["InputTemplate"]
    assert all(path.startswith("$.detail.") for path in transformer["InputPathsMap"].values())


def test_key_destruction_attempts_are_alerted_from_cloudtrail(production: Template) -> None:
    production.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.kms"],
                "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": ["ScheduleKeyDeletion", "DisableKey", "PutKeyPolicy"],
                },
            }
        },
    )


@pytest.mark.parametrize("metric", BACKUP_FAILURE_METRICS)
def test_aws_backup_failure_metrics_are_alarmed_per_vault(production: Template, metric: str) -> None:
    production.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Backup",
            "MetricName": metric,
            "Dimensions": [{"Name": "BackupVaultName", "Value": "ecommerce-backup-production"}],
            "Threshold": 1,
            "AlarmActions": [Match.any_value()],
        },
    )


def test_rpo_exposure_alarm_uses_the_policy_target_and_fires_when_unmeasured() -> None:
    alarm = _alarm(build(CHANGED), "data-loss exposure above the RPO")
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "RpoExposureMinutes",
        20,
        "breaching",
    )
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_changing_the_rpo_in_the_policy_changes_the_alarm() -> None:
    alarm = _alarm(build(dataclasses.replace(PRODUCTION, rpo_target_minutes=10)), "data-loss exposure above the RPO")
    assert alarm["Threshold"] == 10


def test_recovery_point_age_and_config_freshness_thresholds_come_from_the_policy() -> None:
    changed = build(CHANGED)
    # RDS under continuous backup: one snapshot a day, plus the (changed) start and completion windows.
    assert _alarm(changed, "newest recovery point older")["Threshold"] == 1440 + 90 + 240
    # Refreshed every 3 days, at the next 4-hourly run; not running for two 4-hour periods.
    assert _alarm(changed, "newest complete configuration backup is older")["Threshold"] == 3 * 1440 + 240
    assert _alarm(changed, "has not run for two scheduled periods")["Threshold"] == 480


def test_each_protected_resource_gets_its_own_types_recovery_point_allowance() -> None:
    """An EBS volume (hourly snapshots) must not inherit the RDS allowance (daily under continuous backup)."""
    volume = "arn:aws:ec2:us-east-1:111111111111:volume/vol-0123456789abcdef0"
    policy = dataclasses.replace(CHANGED, protected_resource_types=(ResourceType.RDS, ResourceType.EBS))
    template = build(policy, protected_resource_arns=[DB_ARN, volume])
    rds_allowance = recovery_point_age_allowance_minutes(policy, ResourceType.RDS)
    ebs_allowance = recovery_point_age_allowance_minutes(policy, ResourceType.EBS)
    assert rds_allowance != ebs_allowance
    assert _alarm(template, "ecommerce-production: newest recovery point")["Threshold"] == rds_allowance
    assert _alarm(template, "vol-0123456789abcdef0: newest recovery point")["Threshold"] == ebs_allowance


def test_config_export_errors_and_dead_letters_raise_alerts() -> None:
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_sqs as sqs

    stack = Stack(
        App(context={BUNDLING_CONTEXT: "source-only"}), "M", env=Environment(account="1" * 12, region="us-east-1")
    )
    BackupMonitoring(
        stack,
        "Mon",
        policy=PRODUCTION,
        config_export_function=lambda_.Function.from_function_name(stack, "F", "cfg-export"),
        config_dead_letter_queue=sqs.Queue.from_queue_arn(stack, "Q", "arn:aws:sqs:us-east-1:111111111111:cfg-dlq"),
    )
    template = Template.from_stack(stack)
    assert _alarm(template, "export function failed")["MetricName"] == "Errors"
    dead = _alarm(template, "gave up after its retries")
    assert dead["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": "cfg-dlq"}]


def test_restore_time_alarm_uses_the_rto_and_the_drills_alarms_are_not_here(production: Template) -> None:
    alarm = _alarm(build(CHANGED), "monthly restore took longer than the RTO")
    assert alarm["Threshold"] == 45 and alarm["MetricName"] == "RestoreTimeMinutes"
    # The drill's validator publishes in the DR region: its alarms live there, with the drill.
    descriptions = [
        a["Properties"]["AlarmDescription"] for a in production.find_resources("AWS::CloudWatch::Alarm").values()
    ]
    assert not [d for d in descriptions if "drill" in d]


def test_rpo_monitor_runs_every_five_minutes_with_the_resources_to_watch(production: Template) -> None:
    production.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(5 minutes)"})
    env = Capture()
    production.has_resource_properties(
        "AWS::Lambda::Function", {"Handler": FUNCTIONS[RPO_MONITOR].handler, "Environment": {"Variables": env}}
    )
    assert env.as_object() == {
        "ENVIRONMENT": "production",
        "DATABASES": "ecommerce-production",
        "PROTECTED_RESOURCE_ARNS": DB_ARN,
        "METRIC_NAMESPACE": "Ecommerce/Backup",
        "CONFIG_BUCKET": "cfg-bucket",
        "CONFIG_CLUSTER": "shop",
        "CONFIG_NAMESPACES": "production",
    }


def test_report_plans_deliver_job_and_compliance_reports_to_the_encrypted_bucket(production: Template) -> None:
    plans = production.find_resources("AWS::Backup::ReportPlan")
    templates = {p["Properties"]["ReportSetting"]["ReportTemplate"] for p in plans.values()}
    assert templates == {"BACKUP_JOB_REPORT", "COPY_JOB_REPORT", "RESTORE_JOB_REPORT", "CONTROL_COMPLIANCE_REPORT"}
    for plan in plans.values():
        assert plan["Properties"]["ReportDeliveryChannel"]["S3KeyPrefix"] == "backup-reports"
    production.has_resource_properties("AWS::Backup::Framework", {"FrameworkControls": Match.any_value()})
    production.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Sid": "BackupReportsDelivery"})])}},
    )


def test_dashboard_shows_rpo_recovery_points_failures_and_restore_times(production: Template) -> None:
    (dashboard,) = production.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for title in ("RPO exposure per database", "Newest recovery point age", "AWS Backup job failures", "restore time"):
        assert title in body


def test_opt_ins_add_config_recording_and_the_metric_archive() -> None:
    plain = build()
    plain.resource_count_is("AWS::Config::ConfigurationRecorder", 0)
    plain.resource_count_is("AWS::CloudWatch::MetricStream", 0)
    full = build(enable_config_recording=True, metric_archive=True)
    full.has_resource_properties(
        "AWS::Config::ConfigurationRecorder",
        {"RecordingGroup": Match.object_like({"ResourceTypes": Match.array_with(["AWS::Backup::RecoveryPoint"])})},
    )
    full.has_resource_properties(
        "AWS::CloudWatch::MetricStream",
        {"IncludeFilters": [{"Namespace": "AWS/Backup"}, {"Namespace": "Ecommerce/Backup"}]},
    )


def test_protect_keys_denies_destruction_and_policy_changes_to_all_but_break_glass_and_the_deploy_role() -> None:
    stack = Stack(App(), "K", env=Environment(account="111111111111", region="us-east-1"))
    kms.Key(stack, "A")
    kms.Key(stack, "B")
    assert len(protect_keys(stack, exempt_principal_arns=["arn:aws:iam::1:role/bg"])) == 2
    deployer = stack.resolve(
        "arn:${AWS::Partition}:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1".replace(
            "${AWS::Partition}", stack.partition
        )
    )
    for key in Template.from_stack(stack).find_resources("AWS::KMS::Key").values():
        deny = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
        assert deny == [
            {
                "Sid": "DenyKeyDestructionExceptBreakGlass",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy"],
                "Resource": "*",
                # The deploy role keeps PutKeyPolicy: KMS's lockout safety check requires it.
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": [deployer, "arn:aws:iam::1:role/bg"]}},
            }
        ]


def test_protect_keys_leaves_key_policy_changes_alone_without_a_known_deploy_role() -> None:
    stack = Stack(App(), "K", synthesizer=CliCredentialsStackSynthesizer())
    kms.Key(stack, "A")
    protect_keys(stack, exempt_principal_arns=["arn:aws:iam::1:role/bg"])
    (key,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    (deny,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::1:role/bg"]}}


def test_dr_region_alert_topic_can_carry_a_subset_of_the_rules() -> None:
    stack = Stack(App(), "Dr", env=Environment(account="111111111111", region="us-west-2"))
    AlertTopic(stack, "A", policy=PRODUCTION, rule_ids=["DrillFailed", "CopyJobFailed"])
    Template.from_stack(stack).resource_count_is("AWS::Events::Rule", 2)


def test_reports_service_role_is_made_to_exist_before_the_policies_that_name_it(production: Template) -> None:
    role = ":iam::111111111111:role/aws-service-role/reports.backup.amazonaws.com/AWSServiceRoleForBackupReports"
    (ensure_id,) = production.find_resources(
        "Custom::ServiceLinkedRole",
        {"Properties": {"ServiceName": "reports.backup.amazonaws.com", "RoleName": "AWSServiceRoleForBackupReports"}},
    )
    (policy_id, policy), *_ = [
        (k, v)
        for k, v in production.find_resources("AWS::S3::BucketPolicy").items()
        if "BackupReportsDelivery" in json.dumps(v)
    ]
    delivery = next(
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "BackupReportsDelivery"
    )
    assert role in json.dumps(delivery["Principal"]["AWS"]) and delivery["Action"] == "s3:PutObject"
    assert delivery["Condition"] == {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    assert ensure_id in policy["DependsOn"]
    (_, key), *_ = [
        (k, v)
        for k, v in production.find_resources("AWS::KMS::Key").items()
        if "BackupReportsWriteEncrypted" in json.dumps(v)
    ]
    statement = next(
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "BackupReportsWriteEncrypted"
    )
    assert role in json.dumps(statement["Principal"]["AWS"]) and statement["Action"] == "kms:GenerateDataKey"
    assert ensure_id in key["DependsOn"]
    for plan in production.find_resources("AWS::Backup::ReportPlan").values():
        assert policy_id in plan["DependsOn"]


def test_only_the_alert_rules_of_this_account_may_publish_to_the_alert_topic() -> None:
    stack = Stack(App(), "Dr", env=Environment(account="111111111111", region="us-west-2"))
    alerts = AlertTopic(stack, "A", policy=PRODUCTION, rule_ids=["DrillFailed", "CopyJobFailed"])
    template = Template.from_stack(stack)
    (policy,) = template.find_resources("AWS::SNS::TopicPolicy").values()
    grants = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    rule_ids = sorted(stack.get_logical_id(r.node.default_child) for r in alerts.rules.values())  # type: ignore[arg-type]
    assert len(grants) == 1  # no unconditional grant besides it
    (grant,) = grants
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    assert sorted(a["Fn::GetAtt"][0] for a in grant["Condition"]["ArnEquals"]["aws:SourceArn"]) == rule_ids
    for rule in template.find_resources("AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Ref": stack.get_logical_id(alerts.topic.node.default_child)}  # type: ignore[arg-type]
        assert "InputTransformer" in target  # the one-line message
