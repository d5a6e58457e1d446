"""Does a CDK app meet a backup policy? Reads any app's cloud assembly and judges, per stateful
resource, log group and backup vault, what AWS Backup and CloudFormation will do with what the
templates say.

The AWS semantics it relies on:

- a backup selection assigns a resource that matches any ``ListOfTags`` entry, or that matches one
  of ``Resources`` (ARNs, ``*`` a wildcard) *and* every ``Conditions`` entry, and is not in
  ``NotResources``; a selection with none of them assigns every supported resource;
- CloudFormation gives a resource its stack's tags too;
- a rule without ``ScheduleExpression`` runs ``cron(0 5 ? * * *)``; one without ``StartWindowMinutes``
  may start up to 8 hours late (the AWS Backup default);
- a continuous rule gives point-in-time recovery to RDS, Aurora and S3 and a snapshot to the rest;
- ``DeletionPolicy`` defaults to ``Snapshot`` for an RDS instance outside a cluster and for a cluster,
  to ``Delete`` for everything else; ``UpdateReplacePolicy`` defaults to ``Delete``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from backup_constructs.compliance.assembly import UNKNOWN, Assembly, Resource, Stack
from backup_constructs.policy import PITR_RPO_MINUTES, BackupPolicy, LogRetentionMode, ResourceType
from backup_constructs.policy.cron import CronError, CronSchedule, max_gap_minutes
from backup_constructs.policy.model import EXCLUDE_TAG_KEY
from backup_constructs.policy.rpo import (
    BACKUP_REPLICATION_RPO_MINUTES,
    REPLICA_RPO_MINUTES,
    S3_REPLICATION_TIME_MINUTES,
    format_minutes,
)

DEFAULT_SCHEDULE = "cron(0 5 ? * * *)"
DEFAULT_START_WINDOW_MINUTES = 8 * 60
_DST_SHIFT_MINUTES = 60  # a schedule in a zone with daylight saving time gains an hour once a year

STATEFUL_TYPES = {
    "AWS::RDS::DBInstance": ResourceType.RDS,
    "AWS::RDS::DBCluster": ResourceType.AURORA,
    "AWS::DynamoDB::Table": ResourceType.DYNAMODB,
    "AWS::DynamoDB::GlobalTable": ResourceType.DYNAMODB,
    "AWS::EFS::FileSystem": ResourceType.EFS,
    "AWS::EC2::Volume": ResourceType.EBS,
    "AWS::S3::Bucket": ResourceType.S3,
}
LOG_GROUP_TYPES = ("AWS::Logs::LogGroup", "Custom::LogRetention")
VAULT_TYPE = "AWS::Backup::BackupVault"


@dataclass
class Finding:
    """One resource's verdict: ``violations`` fail the gate, ``warnings`` are reported only."""

    kind: str  # "resource" | "log-group" | "vault"
    stack: str
    logical_id: str
    path: str
    cfn_type: str
    status: str = "ok"  # ok | violation | excluded | replica | not-protected
    facts: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "stack": self.stack,
            "logicalId": self.logical_id,
            "path": self.path,
            "type": self.cfn_type,
            "status": self.status,
            "facts": self.facts,
            "violations": self.violations,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class _Rule:
    name: str
    schedule: str
    continuous: bool
    start_window: int
    in_dst_zone: bool
    copy_regions: tuple[str, ...]


@dataclass(frozen=True)
class _Selection:
    resource: Resource
    plan: Resource | None

    @property
    def name(self) -> str:
        spec = self.resource.props.get("BackupSelection") or {}
        return str(spec.get("SelectionName") or self.resource.logical_id)

    @cached_property
    def rules(self) -> list[_Rule]:
        """The selecting plan's rules, read once (every resource the selection is matched against asks)."""
        if self.plan is None:
            return []
        spec = self.plan.props.get("BackupPlan") or {}
        out = []
        for raw in spec.get("BackupPlanRule") or []:
            if not isinstance(raw, dict):
                continue
            zone = raw.get("ScheduleExpressionTimezone")
            regions = []
            for action in raw.get("CopyActions") or []:
                arn = self.plan.stack.render(action.get("DestinationBackupVaultArn")) or ""
                parts = arn.split(":")
                if len(parts) > 4 and parts[3] and UNKNOWN not in parts[3]:
                    regions.append(parts[3])
            out.append(
                _Rule(
                    name=str(raw.get("RuleName", "?")),
                    schedule=str(raw.get("ScheduleExpression") or DEFAULT_SCHEDULE),
                    continuous=raw.get("EnableContinuousBackup") is True,
                    start_window=int(raw.get("StartWindowMinutes") or DEFAULT_START_WINDOW_MINUTES),
                    in_dst_zone=isinstance(zone, str) and zone not in ("UTC", "Etc/UTC", "GMT"),
                    copy_regions=tuple(regions),
                )
            )
        return out

    def selects(self, target: Resource, arn: str) -> bool:
        spec = self.resource.props.get("BackupSelection") or {}
        stack = self.resource.stack
        tags = target.tags()
        resources = spec.get("Resources") or []
        conditions = spec.get("Conditions") or {}
        list_of_tags = spec.get("ListOfTags") or []
        if any(_arn_matches(stack, entry, target, arn) for entry in spec.get("NotResources") or []):
            return False
        if not resources and not conditions and not list_of_tags:
            return True
        by_tags = any(_tag_condition(tags, c, "StringEquals") for c in list_of_tags if isinstance(c, dict))
        if not resources and not conditions:
            return by_tags
        by_resources = not resources or any(_arn_matches(stack, entry, target, arn) for entry in resources)
        by_conditions = all(
            _tag_condition(tags, c, operator)
            for operator, entries in conditions.items()
            for c in entries or []
            if isinstance(c, dict)
        )
        return by_tags or (by_resources and by_conditions)


def _tag_condition(tags: dict[str, str], condition: dict[str, Any], operator: str) -> bool:
    key = str(condition.get("ConditionKey", "")).removeprefix("aws:ResourceTag/")
    wanted = condition.get("ConditionValue")
    value = tags.get(key)
    if not isinstance(wanted, str):
        return False
    if operator in ("StringEquals", "STRINGEQUALS"):
        return value == wanted
    if operator == "StringNotEquals":
        return value != wanted
    if operator == "StringLike":
        return value is not None and fnmatch.fnmatchcase(value, wanted)
    if operator == "StringNotLike":
        return value is None or not fnmatch.fnmatchcase(value, wanted)
    return False


def _arn_matches(stack: Stack, entry: Any, target: Resource, arn: str) -> bool:
    rendered = stack.render(entry)
    if rendered is not None and UNKNOWN not in rendered:
        pattern = "".join(".*" if c == "*" else re.escape(c) for c in rendered)
        return re.fullmatch(pattern, arn, flags=re.DOTALL) is not None
    return target.key in stack.referenced(entry)


def _arn(resource: Resource) -> str:
    stack = resource.stack
    head = f"arn:{stack.partition}"
    where = f"{stack.region}:{stack.account}"

    def name(prop: str, lower: bool = False) -> str:
        value = resource.literal(prop)
        return (value.lower() if lower else value) if isinstance(value, str) else UNKNOWN

    return {
        "AWS::RDS::DBInstance": lambda: f"{head}:rds:{where}:db:{name('DBInstanceIdentifier', True)}",
        "AWS::RDS::DBCluster": lambda: f"{head}:rds:{where}:cluster:{name('DBClusterIdentifier', True)}",
        "AWS::DynamoDB::Table": lambda: f"{head}:dynamodb:{where}:table/{name('TableName')}",
        "AWS::DynamoDB::GlobalTable": lambda: f"{head}:dynamodb:{where}:table/{name('TableName')}",
        "AWS::EFS::FileSystem": lambda: f"{head}:elasticfilesystem:{where}:file-system/{UNKNOWN}",
        "AWS::EC2::Volume": lambda: f"{head}:ec2:{where}:volume/{UNKNOWN}",
        "AWS::S3::Bucket": lambda: f"{head}:s3:::{name('BucketName')}",
    }[resource.type]()


@dataclass(frozen=True)
class _Rpo:
    minutes: int
    how: str


class PolicyGate:
    """The checks of one policy against one assembly (optionally only some of its stacks)."""

    def __init__(self, policy: BackupPolicy, assembly: Assembly, stacks: Iterable[str] | None = None) -> None:
        self.policy = policy
        self.assembly = assembly
        patterns = list(stacks or [])
        self.in_scope = [
            s for s in assembly.stacks if not patterns or any(fnmatch.fnmatchcase(s.name, p) for p in patterns)
        ]
        self.selections = [_Selection(r, self._plan_of(r)) for r in assembly.resources("AWS::Backup::BackupSelection")]

    def findings(self) -> list[Finding]:
        out: list[Finding] = []
        for stack in self.in_scope:
            for resource in stack.resources():
                if resource.type in STATEFUL_TYPES:
                    finding = self._stateful(resource)
                elif resource.type in LOG_GROUP_TYPES:
                    finding = self._log_group(resource)
                elif resource.type == VAULT_TYPE:
                    finding = self._vault(resource)
                else:
                    continue
                if finding is not None:
                    if finding.violations and finding.status == "ok":
                        finding.status = "violation"
                    out.append(finding)
        return out

    # stateful resources ----------------------------------------------------------------------

    def _stateful(self, resource: Resource) -> Finding | None:
        props = resource.props
        rtype = STATEFUL_TYPES[resource.type]
        member = props.get("DBClusterIdentifier") is not None or str(props.get("Engine", "")).startswith("aurora")
        if resource.type == "AWS::RDS::DBInstance" and member:
            return None  # an Aurora member: its cluster carries the backups
        if resource.type == "AWS::RDS::DBCluster" and not str(props.get("Engine", "aurora")).startswith("aurora"):
            rtype = ResourceType.RDS  # a Multi-AZ DB cluster: AWS Backup counts it as RDS
        finding = Finding("resource", resource.stack.name, resource.logical_id, resource.path, resource.type)
        finding.facts["resourceType"] = rtype.value
        if resource.type == "AWS::RDS::DBInstance" and props.get("SourceDBInstanceIdentifier") is not None:
            finding.status = "replica"
            source = resource.stack.render(props["SourceDBInstanceIdentifier"])
            finding.facts["replicaOf"] = source if source and UNKNOWN not in source else "(a token)"
            return finding
        arn = _arn(resource)
        selected_by = [s for s in self.selections if s.selects(resource, arn)]
        finding.facts["selectedBy"] = [s.name for s in selected_by]
        in_region = self._in_region_rpo(resource, rtype, selected_by)
        finding.facts["rpo"] = _rpo_fact(in_region, self.policy.rpo_target_minutes)
        dr_target: int | None = None
        if self.policy.dr_region is not None:
            if self.policy.region_loss is not None:
                dr_target = self.policy.region_loss.rpo_target_minutes or self.policy.rpo_target_minutes
            region_loss = self._region_loss_rpo(resource, selected_by)
            finding.facts["regionLossRpo"] = _rpo_fact(region_loss, dr_target)
        else:
            region_loss = None
        finding.facts["deletionProtection"] = self._deletion_protection(resource)
        finding.facts["deletionPolicy"], finding.facts["updateReplacePolicy"] = _removal_policies(resource)
        finding.facts["encryption"], unencrypted = _encryption(resource)
        reason = resource.tags().get(EXCLUDE_TAG_KEY)
        if rtype not in self.policy.protected_resource_types:
            finding.status = "not-protected"
            return finding
        if reason is not None:
            finding.status = "excluded"
            finding.facts["excludedBecause"] = reason
            return finding
        name = f"{rtype.value} is protected by the {self.policy.environment} policy"
        if not selected_by:
            finding.violations.append(f"not selected by any backup plan ({name}; tag it, list it, or exclude it)")
        if in_region is None and any(s.plan is None for s in selected_by):
            finding.violations.append("RPO unknown: only a plan outside this assembly selects it")
        elif in_region is None:
            finding.violations.append("no backup at all: no plan selects it and it has no point-in-time recovery")
        elif in_region.minutes > self.policy.rpo_target_minutes:
            finding.violations.append(
                f"RPO {format_minutes(in_region.minutes)} via {in_region.how} is above the target of "
                f"{format_minutes(self.policy.rpo_target_minutes)}"
            )
        if dr_target is not None:
            if region_loss is None:
                finding.violations.append(
                    f"nothing reaches another region (no copy, replica or replication): losing "
                    f"{resource.stack.region} loses it, target {format_minutes(dr_target)}"
                )
            elif region_loss.minutes > dr_target:
                finding.violations.append(
                    f"region-loss RPO {format_minutes(region_loss.minutes)} via {region_loss.how} is above "
                    f"the target of {format_minutes(dr_target)}"
                )
        if finding.facts["deletionProtection"] is False and self.policy.database.deletion_protection:
            finding.violations.append("deletion protection is off (the policy turns it on for databases)")
        deletion, replace = finding.facts["deletionPolicy"], finding.facts["updateReplacePolicy"]
        if deletion == "Delete":
            finding.violations.append("DeletionPolicy Delete: deleting the stack or the resource destroys it")
        if replace == "Delete":
            finding.violations.append("UpdateReplacePolicy Delete: a replacing update destroys the old one")
        if unencrypted:
            finding.violations.append(f"not encrypted at rest ({finding.facts['encryption']})")
        return finding

    def _in_region_rpo(self, resource: Resource, rtype: ResourceType, selected_by: list[_Selection]) -> _Rpo | None:
        candidates = []
        native = _native_pitr(resource)
        if native is not None:
            candidates.append(_Rpo(PITR_RPO_MINUTES, native))
        rules = [rule for s in selected_by for rule in s.rules]
        if rtype.supports_continuous_backup and any(r.continuous for r in rules):
            candidates.append(_Rpo(PITR_RPO_MINUTES, "AWS Backup continuous backup (PITR)"))
        snapshots = [r for r in rules if not (r.continuous and rtype.supports_continuous_backup)]
        candidates += _snapshot_rpo(snapshots, "scheduled backups")
        return min(candidates, key=lambda c: c.minutes, default=None)

    def _region_loss_rpo(self, resource: Resource, selected_by: list[_Selection]) -> _Rpo | None:
        region = resource.stack.region
        candidates: list[_Rpo] = []
        copying = [r for s in selected_by for r in s.rules if any(c != region for c in r.copy_regions)]
        targets = sorted({c for r in copying for c in r.copy_regions if c != region})
        candidates += _snapshot_rpo(copying, f"copies to {', '.join(targets)}")
        props = resource.props
        if resource.type == "AWS::RDS::DBInstance":
            for replica in self._replicas_of(resource):
                candidates.append(_Rpo(REPLICA_RPO_MINUTES, f"read replica {replica.path} in {replica.stack.region}"))
            replication = resource.literal("AutomaticBackupReplicationRegion")
            if isinstance(replication, str) and replication != region:
                candidates.append(
                    _Rpo(BACKUP_REPLICATION_RPO_MINUTES, f"automated backups replicated to {replication}")
                )
        if resource.type == "AWS::DynamoDB::GlobalTable":
            replicas = [r for r in props.get("Replicas") or [] if isinstance(r, dict)]
            others = sorted({str(r["Region"]) for r in replicas if isinstance(r.get("Region"), str)} - {region})
            if others:
                candidates.append(_Rpo(REPLICA_RPO_MINUTES, f"global table replicas in {', '.join(others)}"))
        if resource.type == "AWS::S3::Bucket":
            candidates += self._bucket_replication(resource)
        return min(candidates, key=lambda c: c.minutes, default=None)

    def _replicas_of(self, source: Resource) -> Iterator[Resource]:
        arn = _arn(source)
        identifier = source.literal("DBInstanceIdentifier")
        for other in self.assembly.resources("AWS::RDS::DBInstance"):
            value = other.props.get("SourceDBInstanceIdentifier")
            if value is None or other.stack.region == source.stack.region:
                continue
            rendered = other.stack.render(value)
            if rendered is not None and UNKNOWN not in rendered:
                if rendered.lower() == arn or (isinstance(identifier, str) and rendered.lower() == identifier.lower()):
                    yield other
            elif source.key in other.stack.referenced(value):
                yield other

    def _bucket_replication(self, bucket: Resource) -> list[_Rpo]:
        """S3 replication with Replication Time Control to a bucket this assembly places in another region."""
        out = []
        for rule in (bucket.props.get("ReplicationConfiguration") or {}).get("Rules") or []:
            destination = rule.get("Destination") or {} if isinstance(rule, dict) else {}
            rtc = (destination.get("ReplicationTime") or {}).get("Status") == "Enabled"
            if rule.get("Status") != "Enabled" or not rtc:
                continue
            arn = bucket.stack.render(destination.get("Bucket")) or ""
            for other in self.assembly.resources("AWS::S3::Bucket"):
                name = other.literal("BucketName")
                matched = (isinstance(name, str) and arn == f"arn:{other.stack.partition}:s3:::{name}") or (
                    other.key in bucket.stack.referenced(destination.get("Bucket"))
                )
                if matched and other.stack.region != bucket.stack.region:
                    out.append(
                        _Rpo(
                            S3_REPLICATION_TIME_MINUTES, f"S3 replication (RTC) to {other.path} in {other.stack.region}"
                        )
                    )
        return out

    def _deletion_protection(self, resource: Resource) -> bool | None:
        """True/False where the type has deletion protection, None where it has none."""
        props = resource.props
        if resource.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
            return props.get("DeletionProtection") is True
        if resource.type == "AWS::DynamoDB::Table":
            return props.get("DeletionProtectionEnabled") is True
        if resource.type == "AWS::DynamoDB::GlobalTable":
            replicas = [r for r in props.get("Replicas") or [] if isinstance(r, dict)]
            return bool(replicas) and all(r.get("DeletionProtectionEnabled") is True for r in replicas)
        return None

    def _plan_of(self, selection: Resource) -> Resource | None:
        plan_id = selection.props.get("BackupPlanId")
        for key in selection.stack.referenced(plan_id):
            plan = self.assembly.resolve(key)
            if plan is not None and plan.type == "AWS::Backup::BackupPlan":
                return plan
        return None

    # log groups and vaults -------------------------------------------------------------------

    def _log_group(self, resource: Resource) -> Finding:
        finding = Finding("log-group", resource.stack.name, resource.logical_id, resource.path, resource.type)
        wanted = self.policy.log_retention_days
        mode = self.policy.log_retention_mode
        raw = resource.props.get("RetentionInDays")
        name = resource.stack.render(resource.props.get("LogGroupName"))
        finding.facts["logGroupName"] = name if name and UNKNOWN not in name else "(generated)"
        finding.facts["policy"] = {"days": wanted, "mode": mode.value}
        if isinstance(raw, dict):
            finding.facts["retentionDays"] = "(a token)"
            finding.violations.append("retention is not a literal value, so it cannot be checked")
            return finding
        days = int(raw) if raw not in (None, "") else None
        finding.facts["retentionDays"] = days if days is not None else "never expires"
        if days is None:
            message = f"never expires: kept longer than the policy's {wanted} d"
            if mode is LogRetentionMode.EXACT:
                finding.violations.append(f"{message} (the policy sets exactly {wanted} d)")
            else:
                finding.warnings.append(f"{message} (allowed: the policy's retention is a floor)")
        elif days < wanted:
            finding.violations.append(f"kept {days} d, below the policy's {wanted} d")
        elif days > wanted and mode is LogRetentionMode.EXACT:
            finding.violations.append(f"kept {days} d; the policy sets exactly {wanted} d")
        return finding

    def _vault(self, resource: Resource) -> Finding:
        finding = Finding("vault", resource.stack.name, resource.logical_id, resource.path, resource.type)
        props = resource.props
        name = resource.stack.render(props.get("BackupVaultName"))
        finding.facts["vaultName"] = name if name and UNKNOWN not in name else "(generated)"
        lock = props.get("LockConfiguration")
        lock = lock if isinstance(lock, dict) else None
        if lock is None:
            finding.facts["lock"] = None
        else:
            finding.facts["lock"] = {
                "mode": "compliance" if lock.get("ChangeableForDays") is not None else "governance",
                "minRetentionDays": lock.get("MinRetentionDays"),
                "maxRetentionDays": lock.get("MaxRetentionDays"),
                "changeableForDays": lock.get("ChangeableForDays"),
            }
        denies = _denies_recovery_point_deletion(props.get("AccessPolicy"))
        finding.facts["accessPolicy"] = (
            "denies recovery-point deletion" + (f" except to {denies} principal(s)" if denies else " to everyone")
            if denies is not None
            else ("present, no deny of recovery-point deletion" if props.get("AccessPolicy") else None)
        )
        finding.facts["encryptionKey"] = "customer managed KMS key" if props.get("EncryptionKeyArn") else "aws/backup"
        expected = self._expected_lock(finding.facts["vaultName"])
        if expected is not None:
            mode, minimum = expected
            if lock is None:
                finding.violations.append(
                    f"no vault lock; the policy locks its vaults ({mode} mode, at least {minimum} d)"
                )
            else:
                if mode == "compliance" and lock.get("ChangeableForDays") is None:
                    finding.violations.append("governance-mode lock; the policy wants compliance mode")
                held = lock.get("MinRetentionDays")
                if isinstance(held, int) and held < minimum:
                    finding.violations.append(f"lock minimum {held} d is below the policy's {minimum} d")
        if lock is None and denies is None:
            finding.violations.append(
                "recovery points can be deleted by anyone allowed backup:DeleteRecoveryPoint (no lock, no deny)"
            )
        if not props.get("EncryptionKeyArn"):
            finding.warnings.append(
                "encrypted with the AWS managed key aws/backup: copies to another account need a customer managed key"
            )
        return finding

    def _expected_lock(self, vault_name: str) -> tuple[str, int] | None:
        isolation = self.policy.account_isolation
        if isolation is not None and vault_name == self.policy.isolated_vault_name:
            return "compliance", isolation.lock_min_retention_days
        lock = self.policy.vault_lock
        return (lock.mode.value, lock.min_retention_days) if lock is not None else None


def _snapshot_rpo(rules: list[_Rule], how: str) -> list[_Rpo]:
    if not rules:
        return []
    try:
        gap = max_gap_minutes([CronSchedule.parse(r.schedule) for r in rules])
    except CronError:
        return []
    shift = _DST_SHIFT_MINUTES if any(r.in_dst_zone for r in rules) else 0
    names = ", ".join(sorted({r.name for r in rules}))
    return [_Rpo(gap + shift + max(r.start_window for r in rules), f"{how} ({names})")]


def _native_pitr(resource: Resource) -> str | None:
    props = resource.props
    if resource.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        raw = props.get("BackupRetentionPeriod", 1)
        days = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None
        return f"RDS automated backups (PITR, {days} d)" if days else None
    pitr: list[Any] = []
    if resource.type == "AWS::DynamoDB::Table":
        pitr = [props.get("PointInTimeRecoverySpecification")]
    elif resource.type == "AWS::DynamoDB::GlobalTable":
        pitr = [r.get("PointInTimeRecoverySpecification") for r in props.get("Replicas") or [] if isinstance(r, dict)]
    if pitr and all(isinstance(p, dict) and p.get("PointInTimeRecoveryEnabled") is True for p in pitr):
        return "DynamoDB point-in-time recovery"
    return None


def _removal_policies(resource: Resource) -> tuple[str, str]:
    keeps_snapshot = resource.type == "AWS::RDS::DBCluster" or (
        resource.type == "AWS::RDS::DBInstance" and resource.props.get("DBClusterIdentifier") is None
    )
    deletion = resource.body.get("DeletionPolicy", "Snapshot" if keeps_snapshot else "Delete")
    replace = resource.body.get("UpdateReplacePolicy", "Delete")
    return str(deletion), str(replace)


def _encryption(resource: Resource) -> tuple[str, bool]:
    """(what encrypts it, whether that is nothing)."""
    props = resource.props
    if resource.type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        if props.get("EngineMode") == "serverless" or props.get("StorageEncrypted") is True:
            return ("KMS key" if props.get("KmsKeyId") else "aws/rds"), False
        return "storage not encrypted", True
    if resource.type in ("AWS::EFS::FileSystem", "AWS::EC2::Volume"):
        if props.get("Encrypted") is True:
            return ("KMS key" if props.get("KmsKeyId") else "AWS managed key"), False
        return "Encrypted is not true", True
    if resource.type.startswith("AWS::DynamoDB::"):
        sse = props.get("SSESpecification") or {}
        return ("KMS key" if sse.get("SSEEnabled") is True else "AWS owned key (DynamoDB default)"), False
    rules = ((props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")) or []
    algorithms = {
        ((r.get("ServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")) for r in rules if isinstance(r, dict)
    }
    if algorithms & {"aws:kms", "aws:kms:dsse"}:
        return "KMS key", False
    return "SSE-S3 (S3 default)", False


def _denies_recovery_point_deletion(policy: Any) -> int | None:
    """Exempted principals of a statement denying ``backup:DeleteRecoveryPoint`` to everyone (``None``
    without such a statement)."""
    if not isinstance(policy, dict):
        return None
    for statement in policy.get("Statement") or []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        principal = statement.get("Principal")
        everyone = principal == "*" or (isinstance(principal, dict) and principal.get("AWS") == "*")
        if everyone and any(fnmatch.fnmatchcase("backup:DeleteRecoveryPoint", str(a)) for a in actions):
            exempt = 0
            for operator in (statement.get("Condition") or {}).values():
                for values in (operator or {}).values():
                    exempt += len(values) if isinstance(values, list) else 1
            return exempt
    return None


def _rpo_fact(rpo: _Rpo | None, target: int | None) -> dict[str, Any]:
    return {
        "minutes": rpo.minutes if rpo else None,
        "via": rpo.how if rpo else "nothing",
        "targetMinutes": target,
        "meets": None if target is None else (rpo is not None and rpo.minutes <= target),
    }
