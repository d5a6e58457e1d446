"""KubernetesConfigBackup and ConfigBackupReplica: template assertions, one concern per test."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Capture, Match, Template

from backup_constructs.config_backup import ConfigBackupReplica, KubernetesConfigBackup
from backup_constructs.core.bundling import BUNDLING_CONTEXT
from backup_constructs.policy import BackupPolicy, PolicyError
from lambdas.contract.events import CONFIG_BACKUP_SOURCE as CONFIG_EVENT_SOURCE
from lambdas.contract.events import DEPLOY_COMPLETED as DEPLOY_DETAIL_TYPE
from lambdas.contract.events import DEPLOY_SOURCE as DEPLOY_EVENT_SOURCE

PRODUCTION = BackupPolicy.production()
STAGING = BackupPolicy.staging()
# Every figure differs from the presets': a test that passes with it read the value from the policy.
CHANGED = dataclasses.replace(
    PRODUCTION,
    log_retention_days=60,
    config_backup=dataclasses.replace(
        PRODUCTION.config_backup, retention_days=45, refresh_interval_days=3, schedule="cron(15 */4 * * ? *)"
    ),
)


def stack_for(region: str = "us-east-1") -> Stack:
    app = App(context={BUNDLING_CONTEXT: "source-only"})
    return Stack(app, "Cfg", env=Environment(account="111111111111", region=region))


def build(policy: BackupPolicy = PRODUCTION, **kwargs: Any) -> Template:
    stack = stack_for()
    props: dict[str, Any] = {
        "cluster_name": "shop",
        "namespaces": ["production"],
        "restart_deployments": ["ecommerce-backend"],
        "drill_namespace": "drill",
    }
    KubernetesConfigBackup(stack, "Cfg", policy=policy, **{**props, **kwargs})
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def production() -> Template:
    return build()


def _statements_of(template: Template, role_name: str) -> list[dict[str, Any]]:
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": role_name}})
    (role_id,) = roles
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::ManagedPolicy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for s in statements:
        out |= set(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    return out


def test_bucket_is_versioned_kms_encrypted_private_logged_and_locked_for_the_retention() -> None:
    build(CHANGED).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    Match.object_like({"ServerSideEncryptionByDefault": Match.object_like({"SSEAlgorithm": "aws:kms"})})
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 45}},  # production's lock mode
            },
            "LifecycleConfiguration": {
                "Rules": [
                    Match.object_like({"ExpirationInDays": 45, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
                ]
            },
        },
    )


def test_buckets_deny_requests_without_tls(production: Template) -> None:
    policies = production.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def test_functions_use_the_newest_python_on_arm64_with_reserved_concurrency_dlq_and_timeout(
    production: Template,
) -> None:
    functions = production.find_resources("AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        assert props["ReservedConcurrentExecutions"] == 1
        assert "TargetArn" in props["DeadLetterConfig"]
        assert props["Timeout"] == 600
        assert "LogGroup" in props["LoggingConfig"]
    production.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 2})


def test_staging_keeps_configuration_backups_under_a_governance_lock() -> None:
    build(STAGING).has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 90}},
            }
        },
    )


def test_function_log_groups_carry_the_policy_retention() -> None:
    groups = build(CHANGED).find_resources("AWS::Logs::LogGroup").values()
    assert len(groups) >= 2 and {g["Properties"]["RetentionInDays"] for g in groups} == {60}


def test_export_function_environment_comes_from_the_policy() -> None:
    env = Capture()
    build(CHANGED).has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "lambdas.config_backup.handlers.export_handler", "Environment": {"Variables": env}},
    )
    variables = env.as_object()
    assert variables["CLUSTER_NAME"] == "shop"
    assert variables["NAMESPACES"] == "production"
    assert variables["REFRESH_INTERVAL_DAYS"] == "3"
    assert variables["EVENT_SOURCE"] == CONFIG_EVENT_SOURCE
    keys = json.dumps(variables["SOPS_KMS_KEYS"])
    assert "us-west-2" in keys and "alias/ecommerce-backup-production-config-sops" in keys


def test_restore_function_may_write_to_the_namespaces_and_the_drill_namespace_only(production: Template) -> None:
    env = Capture()
    production.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "lambdas.config_backup.handlers.restore_handler", "Environment": {"Variables": env}},
    )
    assert env.as_object()["ALLOWED_NAMESPACES"] == "production,drill"
    assert env.as_object()["RESTART_DEPLOYMENTS"] == "ecommerce-backend"


def test_sops_key_lets_export_only_encrypt_and_restore_decrypt(production: Template) -> None:
    policy = Capture()
    production.has_resource_properties(
        "AWS::KMS::Key", {"Description": Match.string_like_regexp("SOPS"), "KeyPolicy": policy}
    )
    by_sid = {s["Sid"]: s for s in policy.as_object()["Statement"]}
    assert by_sid["ExportEncryptsOnly"]["Action"] == ["kms:Encrypt", "kms:DescribeKey"]
    assert "config-export" in json.dumps(by_sid["ExportEncryptsOnly"]["Condition"])
    assert by_sid["RestoreDecrypts"]["Action"] == "kms:Decrypt"  # the restore never needs DescribeKey
    assert "config-restore" in json.dumps(by_sid["RestoreDecrypts"]["Condition"])
    admin = by_sid["KeyAdministrationByTheAccount"]["Action"]
    assert not {"kms:Encrypt", "kms:Decrypt", "kms:*"} & set(admin)


def test_digest_key_is_an_hmac_key_for_both_roles(production: Template) -> None:
    production.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeySpec": "HMAC_256",
            "KeyUsage": "GENERATE_VERIFY_MAC",
            "KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Action": "kms:GenerateMac"})])},
        },
    )


def test_roles_have_only_customer_managed_policies_and_no_inline_ones(production: Template) -> None:
    production.resource_count_is("AWS::IAM::Policy", 0)
    for role in production.find_resources("AWS::IAM::Role").values():
        assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]


def test_export_role_can_write_backups_but_not_decrypt_secrets(production: Template) -> None:
    actions = _actions(_statements_of(production, "ecommerce-backup-production-config-export"))
    assert {"s3:PutObject", "kms:Encrypt", "kms:GenerateMac", "events:PutEvents"} <= actions
    sops_decrypt = [
        s
        for s in _statements_of(production, "ecommerce-backup-production-config-export")
        if s["Sid"] == "SopsRecipients"
    ]
    assert sops_decrypt[0]["Action"] == ["kms:Encrypt", "kms:DescribeKey"]


def test_restore_role_reads_but_never_writes_backups(production: Template) -> None:
    actions = _actions(_statements_of(production, "ecommerce-backup-production-config-restore"))
    assert "s3:GetObject" in actions and "kms:Decrypt" in actions
    assert not {"s3:PutObject", "s3:DeleteObject", "kms:Encrypt"} & actions


def test_object_permissions_are_limited_to_the_clusters_prefix(production: Template) -> None:
    for role in ("ecommerce-backup-production-config-export", "ecommerce-backup-production-config-restore"):
        for statement in _statements_of(production, role):
            if any(a.startswith("s3:") and "Object" in a for a in _actions([statement])):
                assert "/shop/*" in json.dumps(statement["Resource"])


def test_access_entries_scope_view_secret_reader_and_edit_to_the_namespaces(production: Template) -> None:
    entries = {
        json.dumps(e["Properties"]["PrincipalArn"]): e["Properties"]["AccessPolicies"]
        for e in production.find_resources("AWS::EKS::AccessEntry").values()
    }
    export = next(v for k, v in entries.items() if "ExportRole" in k)
    restore = next(v for k, v in entries.items() if "RestoreRole" in k)
    assert [p["PolicyArn"]["Fn::Join"][1][-1].rsplit("/", 1)[-1] for p in export] == [
        "AmazonEKSViewPolicy",
        "AmazonEKSSecretReaderPolicy",
    ]
    assert all(p["AccessScope"] == {"Type": "namespace", "Namespaces": ["production"]} for p in export)
    assert restore[0]["PolicyArn"]["Fn::Join"][1][-1].endswith("AmazonEKSEditPolicy")
    assert restore[0]["AccessScope"] == {"Type": "namespace", "Namespaces": ["production", "drill"]}


def test_schedule_rule_uses_the_policy_schedule_and_the_deploy_rule_waits_for_deploy_events() -> None:
    template = build(CHANGED)
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(15 */4 * * ? *)"})
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": [DEPLOY_EVENT_SOURCE],
                "detail-type": [DEPLOY_DETAIL_TYPE],
                "detail": {"cluster": ["shop"]},
            }
        },
    )


def test_no_deploy_rule_when_the_policy_turns_it_off() -> None:
    policy = dataclasses.replace(
        PRODUCTION, config_backup=dataclasses.replace(PRODUCTION.config_backup, on_deploy=False)
    )
    build(policy).resource_count_is("AWS::Events::Rule", 1)


def test_production_bucket_replicates_to_the_dr_replica_with_its_key(production: Template) -> None:
    replication = Capture()
    production.has_resource_properties("AWS::S3::Bucket", {"ReplicationConfiguration": replication})
    (rule,) = replication.as_object()["Rules"]
    assert rule["Status"] == "Enabled"
    destination = json.dumps(rule["Destination"])
    assert "ecommerce-backup-production-config-111111111111-us-west-2" in destination
    assert "alias/ecommerce-backup-production-config-replica" in destination
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}


def test_staging_bucket_does_not_replicate() -> None:
    template = build(STAGING)
    for bucket in template.find_resources("AWS::S3::Bucket").values():
        assert "ReplicationConfiguration" not in bucket["Properties"]


def test_replica_in_the_dr_region_has_the_agreed_names_object_lock_and_its_own_keys() -> None:
    stack = stack_for("us-west-2")
    ConfigBackupReplica(stack, "Replica", policy=PRODUCTION)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": "ecommerce-backup-production-config-111111111111-us-west-2",
            "ObjectLockConfiguration": Match.object_like({"ObjectLockEnabled": "Enabled"}),
        },
    )
    aliases = {a["Properties"]["AliasName"] for a in template.find_resources("AWS::KMS::Alias").values()}
    assert aliases == {
        "alias/ecommerce-backup-production-config-sops",
        "alias/ecommerce-backup-production-config-replica",
    }


def test_replica_needs_a_dr_region() -> None:
    with pytest.raises(PolicyError, match="dr_region: got None"):
        ConfigBackupReplica(stack_for(), "Replica", policy=STAGING)


def test_functions_run_in_the_given_vpc_subnets_with_network_interface_permissions() -> None:
    stack = stack_for()
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    KubernetesConfigBackup(
        stack,
        "Cfg",
        policy=STAGING,
        cluster_name="shop",
        namespaces=["staging"],
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
    )
    template = Template.from_stack(stack)
    for function in template.find_resources("AWS::Lambda::Function").values():
        assert "SubnetIds" in function["Properties"]["VpcConfig"]
    assert "ec2:CreateNetworkInterface" in _actions(_statements_of(template, "ecommerce-backup-staging-config-export"))


def test_git_mirror_adds_its_settings_and_secret_access() -> None:
    stack = stack_for()
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "GitCreds", "config-backup/git")
    KubernetesConfigBackup(
        stack,
        "Cfg",
        policy=STAGING,
        cluster_name="shop",
        namespaces=["staging"],
        git_mirror_url="https://git.example.com/ops/config-backups.git",
        git_mirror_secret=secret,
    )
    template = Template.from_stack(stack)
    env = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "lambdas.config_backup.handlers.export_handler", "Environment": {"Variables": env}},
    )
    assert env.as_object()["GIT_MIRROR_URL"] == "https://git.example.com/ops/config-backups.git"
    assert "secretsmanager:GetSecretValue" in _actions(
        _statements_of(template, "ecommerce-backup-staging-config-export")
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cluster_name": "bad name"}, "cluster_name: got 'bad name'"),
        ({"namespaces": []}, "namespaces: got \\[\\]"),
        ({"namespaces": ["Production"]}, "namespaces: got 'Production'; Kubernetes namespace names are DNS labels"),
        ({"drill_namespace": "production"}, "drill_namespace: got 'production'; it must differ"),
        ({"restart_deployments": ["deployment/Bad_Name"]}, "restart_deployments: got 'deployment/Bad_Name'"),
        ({"git_mirror_url": "https://x/y.git"}, "git_mirror_url, git_mirror_secret: set both"),
    ],
)
def test_invalid_props_are_rejected_with_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        build(**kwargs)


def test_git_mirror_must_use_https() -> None:
    stack = stack_for()
    secret = secretsmanager.Secret.from_secret_name_v2(stack, "GitCreds", "x")
    with pytest.raises(PolicyError, match=r"git_mirror_url: got 'git@host:repo.git'; expected an https://"):
        KubernetesConfigBackup(
            stack,
            "Cfg",
            policy=STAGING,
            cluster_name="shop",
            namespaces=["staging"],
            git_mirror_url="git@host:repo.git",
            git_mirror_secret=secret,
        )
