"""BackupStrategy and DisasterRecoveryVault: template assertions, one concern per test."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_backup as backup
from aws_cdk.assertions import Annotations, Capture, Match, Template

from backup_constructs import BackupPolicy, BackupStrategy, ResourceType
from backup_constructs.backup.strategy import DisasterRecoveryVault
from backup_constructs.backup.vault import PROTECTED_VAULT_ACTIONS, VAULT_GUARD_ACTIONS
from backup_constructs.policy import VaultLock, VaultLockMode

StackFactory = Callable[..., Stack]


def strategy_template(stack: Stack, policy: BackupPolicy, **kwargs: Any) -> Template:
    BackupStrategy(stack, "Strategy", policy=policy, **kwargs)
    return Template.from_stack(stack)


def test_vault_is_encrypted_with_a_new_rotating_key_and_both_are_retained(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.staging())
    key_id = Capture()
    template.has_resource_properties(
        "AWS::Backup::BackupVault",
        {"BackupVaultName": "ecommerce-backup-staging", "EncryptionKeyArn": {"Fn::GetAtt": [key_id, "Arn"]}},
    )
    template.has_resource("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain"})
    template.has_resource("AWS::Backup::BackupVault", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    assert key_id.as_string() in template.find_resources("AWS::KMS::Key")


def test_vault_policy_denies_manual_deletion_in_the_shape_audit_manager_expects(fresh_stack: StackFactory) -> None:
    template = strategy_template(
        fresh_stack(), BackupPolicy.staging(), exempt_principal_arns=["arn:aws:iam::111111111111:role/break-glass"]
    )
    exempt = Capture()
    template.has_resource_properties(
        "AWS::Backup::BackupVault",
        {
            "AccessPolicy": {
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": [*PROTECTED_VAULT_ACTIONS, *VAULT_GUARD_ACTIONS],
                        "Resource": "*",
                        "Condition": {"ArnNotLike": {"aws:PrincipalArn": exempt}},
                    }
                ]
            }
        },
    )
    assert "arn:aws:iam::111111111111:role/break-glass" in exempt.as_array()
    # The deploy role by its exact ARN (qualifier, account, region): no pattern another role could match.
    (deployer,) = [json.dumps(a) for a in exempt.as_array() if "cfn-exec-role" in json.dumps(a)]
    assert "role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1" in deployer and "*" not in deployer
    assert {"backup:DeleteBackupVaultAccessPolicy", "backup:DeleteBackupVaultLockConfiguration"} <= set(
        VAULT_GUARD_ACTIONS
    )


def test_plan_has_one_rule_per_policy_rule_with_schedule_windows_and_retention(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.production())
    rules = Capture()
    template.has_resource_properties("AWS::Backup::BackupPlan", {"BackupPlan": {"BackupPlanRule": rules}})
    by_name = {r["RuleName"]: r for r in rules.as_array()}
    assert set(by_name) == {"daily-full", "hourly-incremental", "transaction-log"}
    daily = by_name["daily-full"]
    assert daily["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert (daily["StartWindowMinutes"], daily["CompletionWindowMinutes"]) == (60, 120)
    assert daily["Lifecycle"] == {"DeleteAfterDays": 30}
    assert by_name["hourly-incremental"]["Lifecycle"] == {"DeleteAfterDays": 7}
    assert by_name["transaction-log"]["EnableContinuousBackup"] is True
    assert "EnableContinuousBackup" not in daily
    assert daily["RecoveryPointTags"] == {"backup-environment": "production", "backup-rule": "daily-full"}


def test_copy_actions_target_the_named_dr_vault_by_arn_with_the_copy_retention(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.production())
    rules = Capture()
    template.has_resource_properties("AWS::Backup::BackupPlan", {"BackupPlan": {"BackupPlanRule": rules}})
    by_name = {r["RuleName"]: r for r in rules.as_array()}
    (copy,) = by_name["daily-full"]["CopyActions"]
    assert copy["Lifecycle"] == {"DeleteAfterDays": 30}
    target = str(copy["DestinationBackupVaultArn"])
    assert "us-west-2" in target and "backup-vault:ecommerce-backup-production-dr" in target
    assert "CopyActions" not in by_name["transaction-log"]


def test_the_isolated_copies_are_a_plan_of_their_own_and_the_dr_copies_stay_in_the_main_plan(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack()
    dr = backup.BackupVault.from_backup_vault_arn(
        stack, "Dr", "arn:aws:backup:eu-west-1:111111111111:backup-vault:mine"
    )
    template = strategy_template(stack, BackupPolicy.production(), dr_vault=dr, backup_account="222222222222")
    plans = {
        p["Properties"]["BackupPlan"]["BackupPlanName"]: p["Properties"]["BackupPlan"]["BackupPlanRule"]
        for p in template.find_resources("AWS::Backup::BackupPlan").values()
    }
    daily = next(r for r in plans["ecommerce-backup-production"] if r["RuleName"] == "daily-full")
    assert [c["DestinationBackupVaultArn"] for c in daily["CopyActions"]] == [
        "arn:aws:backup:eu-west-1:111111111111:backup-vault:mine"
    ]
    (isolated,) = plans["ecommerce-backup-production-isolated"]
    (copy,) = isolated["CopyActions"]
    assert "222222222222:backup-vault:ecommerce-backup-production-isolated" in json.dumps(copy)
    assert copy["Lifecycle"] == {"DeleteAfterDays": 35}


def test_a_policy_with_an_isolated_copy_and_nowhere_to_put_it_is_an_error_at_synth(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    BackupStrategy(stack, "Strategy", policy=BackupPolicy.production())
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("backup_account="))
    assert errors and "set the policy's accountIsolation to null" in str(errors[0].entry.data)
    # Without account isolation in the policy there is nothing to ask for.
    other = fresh_stack()
    BackupStrategy(other, "Strategy", policy=BackupPolicy.from_context({"accountIsolation": None}))
    assert not Annotations.from_stack(other).find_error("*", Match.any_value())


def test_staging_has_no_copy_actions(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.staging())
    plan = next(iter(template.find_resources("AWS::Backup::BackupPlan").values()))
    assert all("CopyActions" not in r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"])


def test_selection_uses_the_policy_tag_and_the_passed_resources_and_allows_restores(fresh_stack: StackFactory) -> None:
    arn = "arn:aws:rds:us-east-1:111111111111:db:orders"
    template = strategy_template(fresh_stack(), BackupPolicy.staging(), resources=[backup.BackupResource.from_arn(arn)])
    template.has_resource_properties(
        "AWS::Backup::BackupSelection",
        {
            "BackupSelection": {
                "ListOfTags": [
                    {"ConditionKey": "backup-policy", "ConditionType": "STRINGEQUALS", "ConditionValue": "staging"}
                ],
                "Resources": [arn],
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "ManagedPolicyArns": Match.array_with(
                [
                    Match.object_like(
                        {"Fn::Join": Match.array_with([Match.array_with([Match.string_like_regexp("ForRestores")])])}
                    )
                ]
            )
        },
    )


def test_production_locks_its_vault_in_compliance_mode_with_three_days_to_change_it(
    fresh_stack: StackFactory,
) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.production())
    template.has_resource_properties(
        "AWS::Backup::BackupVault",
        {"LockConfiguration": {"MinRetentionDays": 7, "MaxRetentionDays": 365, "ChangeableForDays": 3}},
    )


def test_governance_vault_lock_from_the_policy(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), dataclasses.replace(BackupPolicy.production(), vault_lock=VaultLock()))
    template.has_resource_properties(
        "AWS::Backup::BackupVault", {"LockConfiguration": {"MinRetentionDays": 7, "MaxRetentionDays": 365}}
    )
    lock = next(iter(template.find_resources("AWS::Backup::BackupVault").values()))["Properties"]["LockConfiguration"]
    assert "ChangeableForDays" not in lock


def test_compliance_vault_lock_sets_the_cooling_off_period(fresh_stack: StackFactory) -> None:
    policy = dataclasses.replace(
        BackupPolicy.production(), vault_lock=VaultLock(mode=VaultLockMode.COMPLIANCE, changeable_for_days=3)
    )
    template = strategy_template(fresh_stack(), policy)
    template.has_resource_properties("AWS::Backup::BackupVault", {"LockConfiguration": {"ChangeableForDays": 3}})


def test_staging_vault_has_no_lock(fresh_stack: StackFactory) -> None:
    template = strategy_template(fresh_stack(), BackupPolicy.staging())
    template.has_resource_properties("AWS::Backup::BackupVault", {"LockConfiguration": Match.absent()})


def test_passed_key_is_used_instead_of_a_new_one(fresh_stack: StackFactory) -> None:
    from aws_cdk import aws_kms as kms

    stack = fresh_stack()
    key = kms.Key.from_key_arn(
        stack, "K", "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    template = strategy_template(stack, BackupPolicy.staging(), kms_key=key)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties("AWS::Backup::BackupVault", {"EncryptionKeyArn": key.key_arn})


def test_public_attributes_expose_the_l2_objects(fresh_stack: StackFactory) -> None:
    strategy = BackupStrategy(fresh_stack(), "S", policy=BackupPolicy.production())
    assert isinstance(strategy.backup_vault, backup.BackupVault)
    assert isinstance(strategy.backup_plan, backup.BackupPlan)
    assert isinstance(strategy.backup_selection, backup.BackupSelection)
    assert strategy.kms_key is not None and strategy.dr_vault is not None


def test_annotation_states_how_rds_is_backed_up_under_continuous_backup(fresh_stack: StackFactory) -> None:
    stack = fresh_stack()
    BackupStrategy(stack, "S", policy=BackupPolicy.production())
    Annotations.from_stack(stack).has_info(
        "/TestStack/S", Match.string_like_regexp("AWS Backup manages the instances' automated backups.*once a day")
    )


def _synth_error(policy: BackupPolicy) -> str:
    app = App()
    stack = Stack(app, "S", env=Environment(account="111111111111", region="us-east-1"))
    BackupStrategy(stack, "Strategy", policy=policy)
    with pytest.raises(RuntimeError) as err:
        app.synth()
    return str(err.value)


def test_synth_fails_when_the_achieved_rpo_misses_the_target() -> None:
    policy = dataclasses.replace(
        BackupPolicy.production(),
        rules=tuple(r for r in BackupPolicy.production().rules if not r.continuous),
        protected_resource_types=(ResourceType.EBS,),
    )
    assert "RPO for EBS is 2 h" in _synth_error(policy)


def test_synth_fails_when_continuous_retention_is_shorter_than_pitr() -> None:
    base = BackupPolicy.production()
    rules = tuple(dataclasses.replace(r, retention_days=3) if r.continuous else r for r in base.rules)
    policy = dataclasses.replace(base, rules=rules, vault_lock=VaultLock(min_retention_days=3))
    assert "rules[transaction-log].retention_days is 3, shorter than database.pitr_days (7)" in _synth_error(policy)


def test_synth_fails_when_a_dr_region_gets_no_copy() -> None:
    base = BackupPolicy.production()
    rules = tuple(dataclasses.replace(r, copy_to_dr=False, dr_retention_days=None) for r in base.rules)
    assert "no rule copies to it" in _synth_error(dataclasses.replace(base, rules=rules))


def test_dr_vault_construct_makes_the_named_vault_with_its_own_key_and_the_same_protection(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(region="us-west-2")
    DisasterRecoveryVault(stack, "Dr", policy=BackupPolicy.production())
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Backup::BackupVault",
        {
            "BackupVaultName": "ecommerce-backup-production-dr",
            "LockConfiguration": {"MinRetentionDays": 7},
            "AccessPolicy": {"Statement": [Match.object_like({"Effect": "Deny"})]},
        },
    )
    template.resource_count_is("AWS::KMS::Key", 1)
