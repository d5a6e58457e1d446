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
    "isolatedCopyVaultArn": "isolated_copy_vault_arn",
    "kubernetes": "kubernetes",
    "alerts": "alerts",
    "monitoring": "monitoring",
}
_ALERT_KEYS = ("emails", "httpsEndpoints")
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
_VAULT_ARN_RE = re.compile(r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[A-Za-z0-9_-]{2,50}$")


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
    isolated_copy_vault_arn: str | None = None
    kubernetes: KubernetesSettings | None = None
    alert_emails: tuple[str, ...] = ()
    alert_https_endpoints: tuple[str, ...] = ()
    enable_config_recording: bool = False
    metric_archive: bool = False

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
        if not isinstance(raw, Mapping):
            _fail(where, raw, "expected an object")
        for key in raw:
            if key not in _KEYS:
                _fail(f"{where}.{key}", raw[key], f"unknown key; allowed: {', '.join(_KEYS)}")
        account = account or raw.get("account")
        region = region or raw.get("region")
        if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
            _fail(f"{where}.account", account, "expected a 12-digit AWS account id")
        if not isinstance(region, str) or not _REGION_RE.match(region):
            _fail(f"{where}.region", region, "expected an AWS region name such as 'us-east-1'")
        base = BackupPolicy.preset(raw.get("preset", name if name in ("production", "staging") else "production"))
        overrides = dict(raw.get("policy") or {})
        overrides.setdefault("environment", name)
        if "drRegion" in raw:
            overrides["drRegion"] = raw["drRegion"]
        try:
            policy = BackupPolicy.from_context(overrides, base=base)
        except PolicyError as err:
            raise PolicyError(f"{where}.{err}") from None
        if policy.dr_region == region:
            _fail(f"{where}.drRegion", policy.dr_region, "the DR region must differ from the primary region")
        log_groups = _strings(raw.get("applicationLogGroups", []), f"{where}.applicationLogGroups")
        roles = _strings(raw.get("breakGlassRoleArns", []), f"{where}.breakGlassRoleArns")
        protection = raw.get("terminationProtection", False)
        if not isinstance(protection, bool):
            _fail(f"{where}.terminationProtection", protection, "expected true or false")
        isolated = raw.get("isolatedCopyVaultArn")
        if isolated is not None and (not isinstance(isolated, str) or not _VAULT_ARN_RE.match(isolated)):
            _fail(
                f"{where}.isolatedCopyVaultArn",
                isolated,
                "expected a backup vault ARN, e.g. arn:aws:backup:us-east-1:222222222222:backup-vault:NAME",
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
        emails, endpoints = (_strings(alerts.get(k, []), f"{where}.alerts.{k}") for k in _ALERT_KEYS)
        for email in emails:
            if "@" not in email:
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
            isolated,
            kubernetes,
            emails,
            endpoints,
            flags[0],
            flags[1],
        )


def _object(value: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, value, "expected an object")
    for key in value:
        if key not in keys:
            _fail(f"{where}.{key}", value[key], f"unknown key; allowed: {', '.join(keys)}")
    return value


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
    """The ``context`` object of a cdk.json file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise PolicyError(f"{path}: 'context' must be an object")
    return context
