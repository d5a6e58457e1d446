"""Alerts: a KMS-encrypted, TLS-only topic per region and the EventBridge rules that turn every failure
into one line a human can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

import jsii
from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from backup_constructs.core.keys import KEY_POLICY_ACTIONS, PROTECTED_KEY_ACTIONS, rotating_key
from backup_constructs.policy import BackupPolicy
from backup_constructs.policy.naming import alert_forwarder_role_name, resource_prefix
from lambdas.contract.errors import PolicyError
from lambdas.contract.events import (
    AWS_BACKUP_SOURCE,
    BACKUP_JOB_STATE_CHANGE,
    CONFIG_BACKUP_FAILED,
    CONFIG_BACKUP_SOURCE,
    COPY_JOB_STATE_CHANGE,
    DRILL_COMPLETED,
    RESTORE_JOB_STATE_CHANGE,
    RESTORE_TEST_COMPLETED,
    RESTORE_TEST_SOURCE,
)


def _rule(detail_type: str, source: str, detail: dict[str, object]) -> events.EventPattern:
    return events.EventPattern(source=[source], detail_type=[detail_type], detail=detail or None)


CLOUDTRAIL_API_CALL = "AWS API Call via CloudTrail"
# What an attacker does before destroying the backups, per service (CloudTrail names the API call).
VAULT_TAMPER_CALLS = (
    "DeleteRecoveryPoint",
    "UpdateRecoveryPointLifecycle",
    "DisassociateRecoveryPoint",
    "PutBackupVaultAccessPolicy",
    "DeleteBackupVaultAccessPolicy",
    "PutBackupVaultLockConfiguration",
    "DeleteBackupVaultLockConfiguration",
)
PLAN_TAMPER_CALLS = ("DeleteBackupPlan", "UpdateBackupPlan", "DeleteBackupSelection")
# S3 logs PutBucketLifecycleConfiguration as PutBucketLifecycle and PutBucketReplication under its own
# name; both spellings are matched where the API and the event name differ.
BUCKET_TAMPER_CALLS = (
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketVersioning",
    "PutBucketReplication",
    "DeleteBucketReplication",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "PutObjectLockConfiguration",
)
TRAIL_TAMPER_CALLS = ("StopLogging", "DeleteTrail", "PutEventSelectors", "UpdateTrail")
# The database and its cross-Region replica (RDS logs the identifier as dBInstanceIdentifier).
DATABASE_TAMPER_CALLS = ("DeleteDBInstance", "DeleteDBInstanceAutomatedBackup")
BACKUP_REPLICATION_STOP_CALLS = ("StopDBInstanceAutomatedBackupsReplication",)
RULE_TAMPER_CALLS = ("DeleteRule", "DisableRule")


def _api_call(service: str, calls: Sequence[str], **request: object) -> events.EventPattern:
    detail: dict[str, object] = {"eventSource": [f"{service}.amazonaws.com"], "eventName": list(calls)}
    if request:
        detail["requestParameters"] = request
    return _rule(CLOUDTRAIL_API_CALL, f"aws.{service}", detail)


def alert_rule_name_prefix(policy: BackupPolicy) -> str:
    """The alert rules' names: ``<resource prefix>-alert-<id>`` (unique per region and account)."""
    return f"{resource_prefix(policy)}-alert-"


def tamper_rules(
    policy: BackupPolicy,
    *,
    rule_name_prefix: str,
    vault_names: Sequence[str] | None = None,
    database_identifiers: Sequence[str] = (),
    sops_key_ids: Sequence[str] = (),
) -> list[tuple[str, events.EventPattern, str]]:
    """An alert on every attempt to weaken what protects the backups: the vaults' policies, locks and
    recovery points (``vault_names``, default the policy's primary and DR vaults), the plans, the
    configuration buckets' settings, the databases and their backup replication, grants on the SOPS
    keys, the trail that records all this and the alert rules themselves (by their names' prefix,
    ``rule_name_prefix``). CloudTrail management events through EventBridge: they need a logging trail
    (``backupctl doctor`` checks it) and EventBridge delivers them on a best-effort basis."""
    env = policy.environment
    vaults = (
        list(vault_names)
        if vault_names is not None
        else [
            policy.backup_vault_name,
            *([policy.dr_backup_vault_name] if policy.dr_region else []),
        ]
    )
    buckets = f"{resource_prefix(policy)}-config-"
    by = "by <principal> (<errorCode>)"
    rules = [
        (
            "VaultTamperAttempt",
            _api_call("backup", VAULT_TAMPER_CALLS, backupVaultName=vaults),
            f"[{env}] <eventName> on backup vault <vault> {by}",
        ),
        ("PlanTamperAttempt", _api_call("backup", PLAN_TAMPER_CALLS), f"[{env}] <eventName> on <plan> {by}"),
        (
            "BucketTamperAttempt",
            _api_call("s3", BUCKET_TAMPER_CALLS, bucketName=[{"prefix": buckets}]),
            f"[{env}] <eventName> on configuration bucket <bucket> {by}",
        ),
        ("TrailTamperAttempt", _api_call("cloudtrail", TRAIL_TAMPER_CALLS), f"[{env}] <eventName> on <trail> {by}"),
        (
            "AlertRuleTamperAttempt",
            _api_call("events", RULE_TAMPER_CALLS, name=[{"prefix": rule_name_prefix}]),
            f"[{env}] <eventName> on alert rule <rule> {by}",
        ),
        (
            "AlertTargetRemovalAttempt",
            _api_call("events", ("RemoveTargets",), rule=[{"prefix": rule_name_prefix}]),
            f"[{env}] RemoveTargets on alert rule <targetRule> {by}",
        ),
        (
            # Any stop: the project replicates no automated backups it would stop itself.
            "BackupReplicationStopAttempt",
            _api_call("rds", BACKUP_REPLICATION_STOP_CALLS),
            f"[{env}] <eventName> for <replicationSource> {by}",
        ),
    ]
    if database_identifiers:
        rules.append(
            (
                "DatabaseDeletionAttempt",
                _api_call("rds", DATABASE_TAMPER_CALLS, dBInstanceIdentifier=list(database_identifiers)),
                f"[{env}] <eventName> on database <database> {by}",
            )
        )
    if sops_key_ids:
        # Nobody but the restore roles decrypts with these keys and none of them needs a grant: every
        # grant is someone else's attempt (the key policy denies it to all but the break-glass roles).
        # CloudTrail logs the key as the caller named it: its ARN, its id or an alias.
        rules.append(
            (
                "SopsGrantAttempt",
                _api_call("kms", ("CreateGrant",), keyId=list(sops_key_ids)),
                f"[{env}] CreateGrant on SOPS key <keyId> for <grantee> {by}",
            )
        )
    return rules


# One line a human can act on, for every failure the alerts cover: (id, pattern, message).
def alert_rules(policy: BackupPolicy) -> list[tuple[str, events.EventPattern, str]]:
    env = policy.environment
    return [
        (
            "BackupJobFailed",
            _rule(BACKUP_JOB_STATE_CHANGE, AWS_BACKUP_SOURCE, {"state": ["FAILED", "ABORTED", "EXPIRED"]}),
            f"[{env}] AWS Backup job <backupJobId> for <resourceArn> ended <state>: <statusMessage>",
        ),
        (
            "CopyJobFailed",
            _rule(COPY_JOB_STATE_CHANGE, AWS_BACKUP_SOURCE, {"state": ["FAILED"]}),
            f"[{env}] Copy job <copyJobId> to <destinationBackupVaultArn> failed: <statusMessage>",
        ),
        (
            "RestoreJobFailed",
            _rule(RESTORE_JOB_STATE_CHANGE, AWS_BACKUP_SOURCE, {"status": ["FAILED", "ABORTED"]}),
            f"[{env}] Restore job <restoreJobId> ended <status>: <statusMessage>",
        ),
        (
            "RestoreValidationFailed",
            _rule(RESTORE_TEST_COMPLETED, RESTORE_TEST_SOURCE, {"status": ["FAILED"]}),
            f"[{env}] Restore test <restoreJobId> FAILED: <failedChecks> check(s) failed, restore took "
            "<restoreMinutes> min (RTO <rtoMinutes> min); report <reportKey>",
        ),
        (
            "DrillFailed",
            _rule(DRILL_COMPLETED, RESTORE_TEST_SOURCE, {"status": ["FAILED"]}),
            f"[{env}] DR drill <restoreJobId> FAILED: restore took <restoreMinutes> min (RTO <rtoMinutes> min), "
            "<failedChecks> check(s) failed; report <reportKey>",
        ),
        (
            "ConfigBackupFailed",
            _rule(CONFIG_BACKUP_FAILED, CONFIG_BACKUP_SOURCE, {}),
            f"[{env}] Kubernetes config backup of <cluster>/<namespace> failed (trigger <trigger>): <error>",
        ),
        (
            "KeyDeletionAttempt",
            _rule(
                "AWS API Call via CloudTrail",
                "aws.kms",
                # CloudTrail names the API call without the IAM service prefix.
                {
                    "eventSource": ["kms.amazonaws.com"],
                    "eventName": [a.split(":", 1)[1] for a in (*PROTECTED_KEY_ACTIONS, *KEY_POLICY_ACTIONS)],
                },
            ),
            f"[{env}] <eventName> on KMS key <keyId> by <principal> (<errorCode>)",
        ),
    ]


def key_references(key: kms.IKey, alias: str) -> list[str]:
    """Every way a caller can name ``key`` in a KMS request, as CloudTrail then logs it: the key's ARN,
    its id, its alias and the alias's ARN."""
    stack = Stack.of(key)
    alias_arn = stack.format_arn(service="kms", resource=alias, arn_format=ArnFormat.NO_RESOURCE_NAME)
    return [key.key_arn, key.key_id, alias, alias_arn]


# Placeholders that are not a plain field of the event's detail.
_PLACEHOLDER_PATHS = {
    "principal": "$.detail.userIdentity.arn",
    "keyId": "$.detail.requestParameters.keyId",
    "vault": "$.detail.requestParameters.backupVaultName",
    "plan": "$.detail.requestParameters.backupPlanId",
    "bucket": "$.detail.requestParameters.bucketName",
    "trail": "$.detail.requestParameters.name",
    "rule": "$.detail.requestParameters.name",
    "targetRule": "$.detail.requestParameters.rule",
    "database": "$.detail.requestParameters.dBInstanceIdentifier",
    "replicationSource": "$.detail.requestParameters.sourceDBInstanceArn",
    "grantee": "$.detail.requestParameters.granteePrincipal",
}


class AlertTopic(Construct):
    """A KMS-encrypted, TLS-only SNS topic for one region's backup alerts, with the EventBridge rules
    that turn failures into one-line messages. Used in the primary region by
    :class:`BackupMonitoring` and on its own in the DR region (drills and copies) and in the backup
    account, so alerts keep flowing when another region or the account is lost.

    Parameters
    ----------
    rule_ids:
        The alert rules to create. Default: all of them.
    topic_name:
        The topic's name. Default: generated by CloudFormation.
    forward_to_topic_arn:
        A topic in another account (same region: EventBridge delivers to cross-account targets within a
        region only) that every rule also delivers to, through a role of its own: an attacker who owns
        this account cannot silence the alerts there. Default: none.
    publisher_role_arns:
        Roles of other accounts that may publish to this topic (another account's forwarder).
    vault_names, database_identifiers, sops_key_ids:
        What the tamper alerts watch besides the policy's vaults (see :func:`tamper_rules`); the SOPS keys
        by every name a caller may use (see :func:`key_references`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy: BackupPolicy,
        emails: Sequence[str] = (),
        https_endpoints: Sequence[str] = (),
        rule_ids: Sequence[str] | None = None,
        topic_name: str | None = None,
        forward_to_topic_arn: str | None = None,
        publisher_role_arns: Sequence[str] = (),
        vault_names: Sequence[str] | None = None,
        database_identifiers: Sequence[str] = (),
        sops_key_ids: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.key = rotating_key(
            self,
            "Key",
            description=f"Encrypts the {policy.environment} backup alert topic",
        )
        for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish{service.split('.')[0].capitalize()}",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy "*" is this key
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name=f"{policy.environment} backup alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        topic_arn = self.topic.topic_arn  # one token, read once (every read is a jsii round trip)
        if publisher_role_arns:
            # Another account's forwarder (EventBridge acting through that account's role) publishes here.
            publishers = [iam.ArnPrincipal(arn) for arn in publisher_role_arns]
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="PublishFromOtherAccountsForwarders",
                    principals=publishers,
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}},
                )
            )
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="PublishFromOtherAccountsForwarders",
                    principals=publishers,
                    actions=["sns:Publish"],
                    resources=[topic_arn],
                )
            )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for url in https_endpoints:
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
        self.forwarder: iam.Role | None = None
        forward_topic_arn: str | None = None
        if forward_to_topic_arn is not None:
            self.forwarder = self._forwarder(policy, forward_to_topic_arn)
            forward_topic_arn = sns.Topic.from_topic_arn(self, "ForwardTopic", forward_to_topic_arn).topic_arn
        self.rules: dict[str, events.Rule] = {}
        # Named, so that the tamper alerts can recognise an attempt on the alert rules themselves.
        rule_prefix = alert_rule_name_prefix(policy)
        watched = [
            *alert_rules(policy),
            *tamper_rules(
                policy,
                rule_name_prefix=rule_prefix,
                vault_names=vault_names,
                database_identifiers=database_identifiers,
                sops_key_ids=sops_key_ids,
            ),
        ]
        for rule_id, pattern, message in watched:
            if rule_ids is not None and rule_id not in rule_ids:
                continue
            text = events.RuleTargetInput.from_text(_transform(message))
            targets: list[events.IRuleTarget] = [_AlertTarget(topic_arn, text)]
            if self.forwarder is not None and forward_topic_arn is not None:
                targets.append(_AlertTarget(forward_topic_arn, text, self.forwarder))
            self.rules[rule_id] = events.Rule(
                self,
                rule_id,
                rule_name=f"{rule_prefix}{rule_id}",
                description=f"Alert: {rule_id}",
                event_pattern=pattern,
                targets=targets,
            )
        if self.rules:
            # Only these rules of this account may publish (the confused-deputy guard SNS documents for
            # EventBridge), instead of any rule anywhere that names the topic.
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="PublishFromTheAlertRules",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[topic_arn],
                    conditions={
                        "ArnEquals": {"aws:SourceArn": [rule.rule_arn for rule in self.rules.values()]},
                        "StringEquals": {"aws:SourceAccount": stack.account},
                    },
                )
            )
        self.action = cw_actions.SnsAction(self.topic)

    def _forwarder(self, policy: BackupPolicy, topic_arn: str) -> iam.Role:
        stack = Stack.of(self)
        topic_region = topic_arn.split(":")[3]
        if not Token.is_unresolved(stack.region) and topic_region != stack.region:
            raise PolicyError(
                f"alerts.crossAccountTopicArn: got {topic_arn!r}; EventBridge delivers to another account's "
                f"topic in the same region only; allowed here: a topic in {stack.region}"
            )
        role = iam.Role(
            self,
            "Forwarder",
            role_name=alert_forwarder_role_name(policy),
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description=f"EventBridge delivers the {policy.environment} backup alerts to a topic in another account",
        )
        iam.ManagedPolicy(
            self,
            "ForwarderPublish",
            roles=[role],
            statements=[iam.PolicyStatement(actions=["sns:Publish"], resources=[topic_arn])],
        )
        return role


_EVENT_FIELDS: dict[str, str] = {}


def _event_field(path: str) -> str:
    """``events.EventField.from_path(path)``, asked once per path (a jsii round trip each): the token stands
    for the path alone, and a rule's input names its fields by path, so one token serves every rule."""
    if path not in _EVENT_FIELDS:
        _EVENT_FIELDS[path] = events.EventField.from_path(path)
    return _EVENT_FIELDS[path]


@jsii.implements(events.IRuleTarget)
class _AlertTarget:
    """The topic as a rule target without the unconditional publish grant ``targets.SnsTopic`` adds:
    :class:`AlertTopic` grants publishing to its own rules only."""

    def __init__(self, topic_arn: str, message: events.RuleTargetInput, role: iam.IRole | None = None) -> None:
        self.topic_arn, self.message, self.role = topic_arn, message, role

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        del rule, id  # the names jsii passes them by
        # A role only for another account's topic: EventBridge needs one for cross-account targets, and
        # a same-account SNS target with a role can fail delivery to a KMS-encrypted topic.
        return events.RuleTargetConfig(arn=self.topic_arn, input=self.message, role=self.role)


def _transform(message: str) -> str:
    """Turn ``<name>`` placeholders into EventBridge input-transformer references (``$.detail.name``)."""

    def field(match: re.Match[str]) -> str:
        name = match.group(1)
        return _event_field(_PLACEHOLDER_PATHS.get(name, f"$.detail.{name}"))

    return re.sub(r"<([A-Za-z]+)>", field, message)
