"""BackupComplianceFramework: every control parameterised from the policy."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Annotations, Match, Template

from backup_constructs.monitoring.evidence import BackupComplianceFramework
from backup_constructs.policy import BackupPolicy, ResourceType
from backup_constructs.policy.rpo import recovery_point_age_allowance_minutes


def controls(policy: BackupPolicy, **kwargs: Any) -> dict[str, dict[str, str]]:
    stack = Stack(App(), "C", env=Environment(account="111111111111", region="us-east-1"))
    BackupComplianceFramework(stack, "F", policy=policy, **kwargs)
    (framework,) = Template.from_stack(stack).find_resources("AWS::Backup::Framework").values()
    return {
        c["ControlName"]: {p["ParameterName"]: p["ParameterValue"] for p in c.get("ControlInputParameters", [])}
        for c in framework["Properties"]["FrameworkControls"]
    }


def test_production_controls_follow_the_policy() -> None:
    found = controls(BackupPolicy.production(), exempt_principal_arns=["arn:aws:iam::111111111111:role/bg"])
    assert found["BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"] == {
        "requiredFrequencyUnit": "hours",
        "requiredFrequencyValue": "1",
        "requiredRetentionDays": "7",
    }
    # Exactly the vault policy's exemptions: the deploy role by its exact ARN, then the break-glass role.
    principals: object = found["BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED"]["principalArnList"]
    assert principals == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1,"
                "arn:aws:iam::111111111111:role/bg",
            ],
        ]
    }
    # RDS under continuous backup gets one snapshot a day: the same 28 h the live age alarm allows,
    # not the hourly rule's 1 h (which could never comply).
    assert found["BACKUP_LAST_RECOVERY_POINT_CREATED"] == {
        "recoveryPointAgeUnit": "hours",
        "recoveryPointAgeValue": "28",
    }
    assert found["RESTORE_TIME_FOR_RESOURCES_MEET_TARGET"] == {"maxRestoreTime": "60"}
    assert found["BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION"] == {"crossRegionList": "us-west-2"}
    assert found["BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK"] == {
        "minRetentionDays": "7",
        "maxRetentionDays": "365",
    }
    assert "BACKUP_RECOVERY_POINT_ENCRYPTED" in found and "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN" in found


def test_staging_controls_are_daily_30_days_without_cross_region_or_lock() -> None:
    found = controls(BackupPolicy.staging())
    assert found["BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK"] == {
        "requiredFrequencyUnit": "days",
        "requiredFrequencyValue": "1",
        "requiredRetentionDays": "30",
    }
    assert found["BACKUP_LAST_RECOVERY_POINT_CREATED"] == {
        "recoveryPointAgeUnit": "hours",
        "recoveryPointAgeValue": "27",
    }
    assert "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION" not in found
    assert "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK" not in found


def test_changing_the_rto_changes_the_restore_time_control() -> None:
    policy = dataclasses.replace(BackupPolicy.production(), rto_target_minutes=45)
    assert controls(policy)["RESTORE_TIME_FOR_RESOURCES_MEET_TARGET"] == {"maxRestoreTime": "45"}


def test_last_recovery_point_age_is_the_alarms_allowance_for_the_protected_type() -> None:
    policy = dataclasses.replace(
        BackupPolicy.staging(), protected_resource_types=(ResourceType.RDS, ResourceType.DYNAMODB)
    )
    policy = dataclasses.replace(
        policy,
        rules=(dataclasses.replace(policy.rules[0], schedule="cron(0 2 ? * SUN *)"),),
        rpo_target_minutes=7 * 1440,
    )
    allowance = max(recovery_point_age_allowance_minutes(policy, t) for t in policy.protected_resource_types)
    assert allowance == 7 * 1440 + 60 + 120
    assert controls(policy)["BACKUP_LAST_RECOVERY_POINT_CREATED"] == {
        "recoveryPointAgeUnit": "hours",
        "recoveryPointAgeValue": str(math.ceil(allowance / 60)),
    }


def test_an_allowance_longer_than_31_days_leaves_the_control_out_with_a_warning() -> None:
    base = BackupPolicy.staging()
    monthly = dataclasses.replace(
        base, rules=(dataclasses.replace(base.rules[0], schedule="cron(0 2 1 * ? *)"),), rpo_target_minutes=7 * 1440
    )
    # 31 days between two runs, plus the start and completion windows: more than the control's 31 days.
    assert "BACKUP_LAST_RECOVERY_POINT_CREATED" not in controls(monthly)
    stack = Stack(App(), "C", env=Environment(account="111111111111", region="us-east-1"))
    BackupComplianceFramework(stack, "F", policy=monthly)
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("cannot express"))
    assert len(warnings) == 1


def test_more_exempt_principals_than_the_control_takes_are_refused() -> None:
    import pytest
    from aws_cdk import App, Environment, Stack

    from backup_constructs import BackupComplianceFramework, PolicyError

    stack = Stack(App(), "C", env=Environment(account="111111111111", region="us-east-1"))
    roles = [f"arn:aws:iam::111111111111:role/bg{i}" for i in range(5)]
    with pytest.raises(PolicyError, match=r"^break_glass_role_arns: got 5; .* allowed: at most 4"):
        BackupComplianceFramework(stack, "F", policy=BackupPolicy.production(), exempt_principal_arns=roles)
