"""The synth-time physical-name check: every name AWS keeps unique, in its scope, across the app."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from backup_constructs.core.physical_names import NameScope, UniquePhysicalNames, physical_names
from tests.conftest import Synthesized, cdk_json_context, synth_app


def test_the_app_names_nothing_twice_in_its_scope() -> None:
    from app import build_app
    from backup_constructs.core.bundling import BUNDLING_CONTEXT

    app = build_app(App(context={**cdk_json_context(), "nag": False, BUNDLING_CONTEXT: "source-only"}))
    names = physical_names(app)
    assert len(names) > 40 and {n.scope for n in names} == set(NameScope)
    assert UniquePhysicalNames(app).validate() == []


def test_both_environments_in_one_account_and_region_get_their_own_vaults(synthesized: Synthesized) -> None:
    vaults = {
        name: next(iter(synthesized.resources(name, "AWS::Backup::BackupVault").values()))["Properties"][
            "BackupVaultName"
        ]
        for name in ("ecommerce-production-backup", "ecommerce-staging-backup")
    }
    assert vaults == {
        "ecommerce-production-backup": "ecommerce-backup-production",
        "ecommerce-staging-backup": "ecommerce-backup-staging",
    }


def test_two_environments_with_one_vault_name_are_refused_naming_both_paths(tmp_path: Path) -> None:
    context = copy.deepcopy(cdk_json_context())
    for env in ("production", "staging"):
        context["environments"][env]["policy"] = {"vaultName": "shared-vault"}
    with pytest.raises(RuntimeError) as raised:
        synth_app(tmp_path, context | {"nag": False})
    message = str(raised.value)
    assert (
        "backup vault 'shared-vault' must be unique per account and region (account 111111111111, us-east-1)" in message
    )
    assert (
        "ecommerce-production-backup/Strategy/Vault/Vault" in message
        and "ecommerce-staging-backup/Strategy/Vault/Vault" in message
    )


def _stacks(*regions: str) -> tuple[App, list[Stack]]:
    app = App()
    return app, [Stack(app, f"S{i}", env=Environment(account="111111111111", region=r)) for i, r in enumerate(regions)]


def test_regional_names_may_repeat_in_another_region_but_not_in_the_same_one() -> None:
    app, (east, west, east2) = _stacks("us-east-1", "us-west-2", "us-east-1")
    for stack in (east, west):
        sqs.Queue(stack, "Q", queue_name="dead-letters")
    assert UniquePhysicalNames(app).validate() == []
    sqs.Queue(east2, "Q", queue_name="dead-letters")
    (found,) = UniquePhysicalNames(app).validate()
    assert re.search(r"AWS::SQS::Queue 'dead-letters' .* created by S0/Q/Resource and S2/Q/Resource", found)


def test_account_wide_names_collide_across_regions() -> None:
    app, (east, west) = _stacks("us-east-1", "us-west-2")
    for stack in (east, west):
        iam.Role(stack, "R", role_name="backup", assumed_by=iam.ServicePrincipal("backup.amazonaws.com"))
        cw.Dashboard(stack, "D", dashboard_name="backup-strategy")
    found = UniquePhysicalNames(app).validate()
    assert len(found) == 2 and "IAM role 'backup' must be unique per account" in found[0]
    assert "AWS::CloudWatch::Dashboard 'backup-strategy'" in found[1]


def test_bucket_names_collide_across_accounts() -> None:
    app = App()
    for i, account in enumerate(("111111111111", "222222222222")):
        s3.Bucket(Stack(app, f"S{i}", env=Environment(account=account, region="us-east-1")), "B", bucket_name="reports")
    (found,) = UniquePhysicalNames(app).validate()
    assert "must be unique per partition" in found


def test_names_with_pseudo_parameters_are_rendered_and_generated_names_are_ignored() -> None:
    app, (east,) = _stacks("us-east-1")
    s3.Bucket(east, "Named", bucket_name=f"config-{east.account}-{east.region}")
    s3.Bucket(east, "Generated")
    (name,) = physical_names(app)
    assert (name.name, name.scope) == ("config-111111111111-us-east-1", NameScope.PARTITION)


def test_one_aws_config_recorder_per_region_whatever_its_name() -> None:
    from aws_cdk import aws_config as config

    app, (a, b) = _stacks("us-east-1", "us-east-1")
    for stack, name in ((a, None), (b, "other")):
        config.CfnConfigurationRecorder(
            stack, "Recorder", name=name, role_arn="arn:aws:iam::111111111111:role/x", recording_group=None
        )
    (found,) = UniquePhysicalNames(app).validate()
    assert "AWS::Config::ConfigurationRecorder" in found
