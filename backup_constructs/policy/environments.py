"""Per-environment settings from cdk.json context (``environments``), validated like the policy.

No aws_cdk here: the app, the CLI and the synth summary read the same file the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backup_constructs.policy.model import BackupPolicy
from backup_constructs.policy.naming import partition_for, rds_instance_arn
from backup_constructs.policy.regions import is_known_region
from lambdas.contract.errors import PolicyError
from lambdas.contract.errors import fail as _fail

# The platform's database: the restore tests and the CLI's checks run in it.
DATABASE_NAME = "ecommerce"
_ACCOUNT_RE = re.compile(r"^\d{12}$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_KEYS = {
    "account": "account",
    "region": "region",
    "drRegion": "dr_region",
    "preset": "preset",
    "policy": "policy",
    "terminationProtection": "termination_protection",
    "applicationLogGroups": "application_log_groups",
    "breakGlassRoleArns": "break_glass_role_arns",
    "backupAccount": "backup_account",
    "organization": "organization",
    "kubernetes": "kubernetes",
    "alerts": "alerts",
    "monitoring": "monitoring",
}
_ALERT_KEYS = ("emails", "httpsEndpoints", "crossAccountTopicArn")
_BACKUP_ACCOUNT_KEYS = ("account", "breakGlassRoleArns")
_ORGANIZATION_KEYS = ("managementAccount", "targetIds")
_SNS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/[\w+=,.@/-]{1,512}$")
_TARGET_RE = re.compile(r"^(\d{12}|r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
_MONITORING_KEYS = ("enableConfigRecording", "metricArchive")
_KUBERNETES_KEYS = (
    "clusterName",
    "namespaces",
    "restartDeployments",
    "drillNamespace",
    "includeHelmReleases",
    "drClusterName",
)


@dataclass(frozen=True)
class KubernetesSettings:
    """Which cluster and namespaces the configuration backup covers, and what a restore restarts."""

    cluster_name: str
    namespaces: tuple[str, ...]
    restart_deployments: tuple[str, ...] = ()
    drill_namespace: str | None = None
    include_helm_releases: bool = False
    dr_cluster_name: str | None = None
    """The cluster in the DR region that the drill and a failover restore the configuration into."""

    @classmethod
    def from_context(cls, raw: Any, where: str) -> KubernetesSettings:
        if not isinstance(raw, Mapping):
            _fail(where, raw, "expected an object with clusterName and namespaces")
        for key in raw:
            if key not in _KUBERNETES_KEYS:
                _fail(f"{where}.{key}", raw[key], f"unknown key; allowed: {', '.join(_KUBERNETES_KEYS)}")
        cluster = raw.get("clusterName")
        if not isinstance(cluster, str) or not cluster:
            _fail(f"{where}.clusterName", cluster, "expected the EKS cluster name")
        lists = {}
        for key in ("namespaces", "restartDeployments"):
            value = raw.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                _fail(f"{where}.{key}", value, "expected a list of strings")
            lists[key] = tuple(value)
        if not lists["namespaces"]:
            _fail(f"{where}.namespaces", [], "name at least one namespace")
        drill = raw.get("drillNamespace")
        if drill is not None and not isinstance(drill, str):
            _fail(f"{where}.drillNamespace", drill, "expected a namespace name")
        helm = raw.get("includeHelmReleases", False)
        if not isinstance(helm, bool):
            _fail(f"{where}.includeHelmReleases", helm, "expected true or false")
        dr_cluster = raw.get("drClusterName")
        if dr_cluster is not None and (not isinstance(dr_cluster, str) or not _CLUSTER_RE.match(dr_cluster)):
            _fail(f"{where}.drClusterName", dr_cluster, "expected an EKS cluster name (1-100 letters, digits, - or _)")
        return cls(cluster, lists["namespaces"], lists["restartDeployments"], drill, helm, dr_cluster)


_CLUSTER_RE = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
# 12 characters keep the longest derived name within AWS's limits (the config bucket
# "ecommerce-backup-<env>-config-<account>-<region>" within S3's 63).
_ENV_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,11}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOG_GROUP_RE = re.compile(r"^[\w\-/.#]{1,512}$")


@dataclass(frozen=True)
class BackupAccountSettings:
    """The separate account that keeps the isolated copies: its id and its own break-glass roles."""

    account: str
    break_glass_role_arns: tuple[str, ...] = ()

    @classmethod
    def from_context(cls, raw: Any, where: str, *, workload_account: str) -> BackupAccountSettings:
        raw = _object(raw, where, _BACKUP_ACCOUNT_KEYS)
        account = raw.get("account")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            _fail(f"{where}.account", account, "expected the 12-digit id of the backup account")
        if account == workload_account:
            _fail(
                f"{where}.account",
                account,
                "must differ from the environment's own account: a copy in the same account is within "
                "reach of whoever compromises it",
            )
        roles = _roles_in(account, raw.get("breakGlassRoleArns", []), f"{where}.breakGlassRoleArns")
        return cls(account, roles)


@dataclass(frozen=True)
class OrganizationSettings:
    """The organization's management account, where the service control policy is deployed, and the
    accounts or organizational units it is attached to."""

    management_account: str
    target_ids: tuple[str, ...]

    @classmethod
    def from_context(cls, raw: Any, where: str) -> OrganizationSettings:
        raw = _object(raw, where, _ORGANIZATION_KEYS)
        account = raw.get("managementAccount")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            _fail(f"{where}.managementAccount", account, "expected the 12-digit id of the management account")
        targets = _strings(raw.get("targetIds", []), f"{where}.targetIds")
        if not targets:
            _fail(f"{where}.targetIds", [], "name the account ids or OUs (ou-...) the policy is attached to")
        for target in targets:
            if not _TARGET_RE.match(target):
                _fail(f"{where}.targetIds", target, "expected an account id, a root id (r-...) or an OU id (ou-...)")
        return cls(account, targets)


@dataclass(frozen=True)
class EnvironmentConfig:
    """One deployable environment: where it goes and the policy it runs."""

    name: str
    account: str
    region: str
    policy: BackupPolicy
    termination_protection: bool = False
    application_log_groups: tuple[str, ...] = ()
    break_glass_role_arns: tuple[str, ...] = ()
    backup_account: BackupAccountSettings | None = None
    kubernetes: KubernetesSettings | None = None
    alert_emails: tuple[str, ...] = ()
    alert_https_endpoints: tuple[str, ...] = ()
    enable_config_recording: bool = False
    metric_archive: bool = False
    alert_cross_account_topic_arn: str | None = None
    organization: OrganizationSettings | None = None

    @property
    def database_identifier(self) -> str:
        """The e-commerce database's RDS instance identifier."""
        return f"ecommerce-{self.name}"

    @property
    def database_name(self) -> str:
        """The database inside the instance that the integrity checks run in."""
        return DATABASE_NAME

    def database_arn(self) -> str:
        return rds_instance_arn(partition_for(self.region), self.region, self.account, self.database_identifier)

    @property
    def replica_identifier(self) -> str:
        """The cross-Region read replica's instance identifier (in the DR region)."""
        return f"{self.database_identifier}-dr"

    def replica_arn(self) -> str:
        assert self.dr_region is not None
        return rds_instance_arn(partition_for(self.region), self.dr_region, self.account, self.replica_identifier)

    @property
    def database_secret_name(self) -> str:
        """The master secret's name (the same in the DR region, where Secrets Manager replicates it)."""
        return f"ecommerce-{self.name}/database/master"

    @property
    def dr_database_key_alias(self) -> str:
        """The DR region's key for the replica's storage and the replicated master secret."""
        return f"alias/ecommerce-{self.name}-database-dr"

    @property
    def dr_region(self) -> str | None:
        return self.policy.dr_region

    def stack_name(self, part: str) -> str:
        return f"ecommerce-{self.name}-{part}"

    @classmethod
    def from_context(
        cls, name: str, raw: Mapping[str, Any], *, account: str | None = None, region: str | None = None
    ) -> EnvironmentConfig:
        where = f"environments.{name}"
        if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
            _fail(
                "environments",
                name,
                "an environment name is 1-12 lower-case letters, digits or '-', starting with a letter "
                "(it goes into stack, bucket and role names, which must stay within AWS's lengths)",
            )
        if not isinstance(raw, Mapping):
            _fail(where, raw, "expected an object")
        for key in raw:
            if key not in _KEYS:
                _fail(f"{where}.{key}", raw[key], f"unknown key; allowed: {', '.join(_KEYS)}")
        account = account or raw.get("account")
        region = region or raw.get("region")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            _fail(f"{where}.account", account, 'expected a 12-digit AWS account id, as a string ("111111111111")')
        if not isinstance(region, str) or not _REGION_RE.match(region) or not is_known_region(region):
            _fail(f"{where}.region", region, "expected an AWS region name such as 'us-east-1'")
        base = BackupPolicy.preset(raw.get("preset", name if name in ("production", "staging") else "production"))
        policy_raw = raw.get("policy", {})
        if policy_raw is None or not isinstance(policy_raw, Mapping):
            _fail(f"{where}.policy", policy_raw, "expected an object of policy fields (or leave it out)")
        overrides = dict(policy_raw)
        overrides.setdefault("environment", name)
        if "drRegion" in raw:
            inner = [k for k in ("drRegion", "dr_region") if k in overrides]
            if inner and overrides[inner[0]] != raw["drRegion"]:
                _fail(
                    f"{where}.drRegion",
                    raw["drRegion"],
                    f"disagrees with {where}.policy.{inner[0]} ({overrides[inner[0]]!r}): give it once",
                )
            for k in inner:
                del overrides[k]
            overrides["drRegion"] = raw["drRegion"]
        try:
            policy = BackupPolicy.from_context(overrides, base=base)
        except PolicyError as err:
            raise PolicyError(f"{where}.{err}") from None
        if policy.dr_region == region:
            _fail(f"{where}.drRegion", policy.dr_region, "the DR region must differ from the primary region")
        log_groups = _strings(raw.get("applicationLogGroups", []), f"{where}.applicationLogGroups")
        # In the environment's account (as cdk.json names it: a deploy-time account override is the
        # operator's, who then names that account's roles too); an ARN elsewhere would exempt nobody.
        own: str = raw["account"] if isinstance(raw.get("account"), str) else account
        roles = _roles_in(own, raw.get("breakGlassRoleArns", []), f"{where}.breakGlassRoleArns")
        for group in log_groups:
            if not _LOG_GROUP_RE.match(group):
                _fail(f"{where}.applicationLogGroups", group, "a log group name is 1-512 of a-z A-Z 0-9 _ - / . #")
        protection = raw.get("terminationProtection", False)
        if not isinstance(protection, bool):
            _fail(f"{where}.terminationProtection", protection, "expected true or false")
        backup_account = (
            BackupAccountSettings.from_context(raw["backupAccount"], f"{where}.backupAccount", workload_account=account)
            if raw.get("backupAccount") is not None
            else None
        )
        if policy.account_isolation is not None and backup_account is None:
            _fail(
                f"{where}.backupAccount",
                None,
                "required: the policy keeps an isolated copy outside this account "
                f"(policy.account_isolation, vault {policy.isolated_vault_name}); name the backup account, e.g. "
                '{"account": "222222222222"}, or set policy.accountIsolation to null',
            )
        if backup_account is not None and policy.account_isolation is None:
            _fail(f"{where}.backupAccount", raw["backupAccount"], "only allowed with policy.accountIsolation")
        organization = (
            OrganizationSettings.from_context(raw["organization"], f"{where}.organization")
            if raw.get("organization") is not None
            else None
        )
        kubernetes = (
            KubernetesSettings.from_context(raw["kubernetes"], f"{where}.kubernetes") if "kubernetes" in raw else None
        )
        needs_dr_cluster = policy.restore_testing.drill_schedule is not None or policy.region_loss is not None
        if kubernetes is not None and needs_dr_cluster and kubernetes.dr_cluster_name is None:
            _fail(
                f"{where}.kubernetes.drClusterName",
                None,
                "required when the policy has a DR drill or region-loss targets: the cluster in "
                f"{policy.dr_region} that the drill and a failover restore the configuration into",
            )
        alerts = _object(raw.get("alerts", {}), f"{where}.alerts", _ALERT_KEYS)
        emails, endpoints = (_strings(alerts.get(k, []), f"{where}.alerts.{k}") for k in _ALERT_KEYS[:2])
        cross_topic = alerts.get("crossAccountTopicArn")
        if cross_topic is not None:
            if not isinstance(cross_topic, str) or not _SNS_ARN_RE.match(cross_topic):
                _fail(f"{where}.alerts.crossAccountTopicArn", cross_topic, "expected an SNS topic ARN")
            if cross_topic.split(":")[4] == account:
                _fail(
                    f"{where}.alerts.crossAccountTopicArn",
                    cross_topic,
                    "expected a topic in another account (whoever owns this one could silence it)",
                )
        for email in emails:
            if not _EMAIL_RE.match(email):
                _fail(f"{where}.alerts.emails", email, "expected an e-mail address")
        for url in endpoints:
            if not url.startswith("https://"):
                _fail(f"{where}.alerts.httpsEndpoints", url, "expected an https:// URL")
        monitoring = _object(raw.get("monitoring", {}), f"{where}.monitoring", _MONITORING_KEYS)
        flags = []
        for key in _MONITORING_KEYS:
            value = monitoring.get(key, False)
            if not isinstance(value, bool):
                _fail(f"{where}.monitoring.{key}", value, "expected true or false")
            flags.append(value)
        return cls(
            name,
            account,
            region,
            policy,
            protection,
            log_groups,
            roles,
            backup_account,
            kubernetes,
            emails,
            endpoints,
            flags[0],
            flags[1],
            cross_topic,
            organization,
        )


def _object(value: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, value, "expected an object")
    for key in value:
        if key not in keys:
            _fail(f"{where}.{key}", value[key], f"unknown key; allowed: {', '.join(keys)}")
    return value


def _roles_in(account: str, value: Any, where: str) -> tuple[str, ...]:
    """A list of IAM role ARNs, each in ``account``."""
    roles = _strings(value, where)
    for role in roles:
        match = _ROLE_ARN_RE.match(role)
        if not match or match.group(1) != account:
            _fail(where, role, f"expected an IAM role ARN in account {account}")
    return roles


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, value, "expected a list of strings")
    return tuple(value)


def load_environments(
    context: Mapping[str, Any], *, only: str | None = None, account: str | None = None, region: str | None = None
) -> list[EnvironmentConfig]:
    """Every environment in the ``environments`` context, or just ``only``."""
    raw = context.get("environments")
    if not isinstance(raw, Mapping) or not raw:
        _fail("environments", raw, "cdk.json context needs an 'environments' object")
    if only is not None and only not in raw:
        raise PolicyError(f"environment: got {only!r}; allowed: {', '.join(raw)}")
    names = [only] if only else list(raw)
    return [EnvironmentConfig.from_context(n, raw[n], account=account, region=region) for n in names]


def read_cdk_context(path: Path) -> dict[str, Any]:
    """The ``context`` object of a cdk.json file; a file that cannot be read or is not a JSON object is
    refused in one line naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PolicyError(f"{path}: cannot read it ({err.strerror or type(err).__name__})") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not a UTF-8 text file") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise PolicyError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a JSON object with a 'context' object")
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise PolicyError(f"{path}: 'context' must be an object")
    return context
