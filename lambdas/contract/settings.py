"""Every function's configuration, as the environment variables the constructs set and the handlers read.

Each settings class names its variables once (``env_name`` in the field metadata). The constructs call
``Settings.env(**values)`` (no validation: values may be deploy-time tokens) for the function's
``environment``; the handlers call ``Settings.from_env(os.environ)``, which validates. ``to_env()``
gives a settings object's own environment (tests, and the settings contract test).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeVar, get_type_hints

from lambdas.contract.errors import PolicyError
from lambdas.contract.events import CONFIG_BACKUP_SOURCE, RESTORE_TEST_SOURCE
from lambdas.contract.layout import HEARTBEAT_USER, VALIDATOR_USER
from lambdas.contract.metrics import METRIC_NAMESPACE

DEFAULT_EVENT_BUS: Final = "default"
FIELD_MANAGER: Final = "backup-restore"

_S = TypeVar("_S", bound="Settings")


class SettingsError(PolicyError):
    """An environment variable is missing or invalid (the message names it)."""


def var(name: str, default: Any = dataclasses.MISSING, **kwargs: Any) -> Any:
    """A field read from environment variable ``name``."""
    metadata = {"env": name}
    if default is dataclasses.MISSING:
        return field(metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)


def _parse(name: str, text: str, hint: Any) -> Any:
    text = text.strip()
    if hint in (str, str | None):
        return text or None
    if hint in (tuple[str, ...],):
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if hint in (int,):
        try:
            return int(text)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be a whole number, got {text!r}") from None
    if hint in (float,):
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"environment variable {name} must be a number, got {text!r}") from None
    if hint in (bool,):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise SettingsError(f"environment variable {name} must be true or false, got {text!r}")
    if hint == Literal["monthly", "drill"]:
        if text not in ("monthly", "drill"):
            raise SettingsError(f"environment variable {name} must be monthly or drill, got {text!r}")
        return text
    raise TypeError(f"{name}: no parser for {hint!r}")  # a bug in this module, not bad input


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


class Settings:
    """Base of the settings dataclasses: environment in, environment out."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field -> environment variable."""
        return {f.name: f.metadata["env"] for f in dataclasses.fields(cls) if "env" in f.metadata}

    @classmethod
    def required_variables(cls) -> set[str]:
        return {
            f.metadata["env"]
            for f in dataclasses.fields(cls)
            if "env" in f.metadata and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }

    @classmethod
    def env(cls, **values: Any) -> dict[str, str]:
        """The environment for these values (unset optional ones are left out; nothing is validated)."""
        names = cls.variables()
        unknown = set(values) - set(names)
        if unknown:
            raise TypeError(f"{cls.__name__} has no settings {', '.join(sorted(unknown))}")
        return {names[k]: _render(v) for k, v in values.items() if v is not None and v != () and v != []}

    @classmethod
    def from_env(cls: type[_S], environ: Mapping[str, str]) -> _S:
        hints = get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for name, variable in cls.variables().items():
            raw = environ.get(variable)
            if raw is None or raw.strip() == "":
                if variable in cls.required_variables():
                    raise SettingsError(f"environment variable {variable} is not set")
                continue
            kwargs[name] = _parse(variable, raw, hints[name])
        return cls(**kwargs)

    def to_env(self) -> dict[str, str]:
        return type(self).env(**{k: getattr(self, k) for k in type(self).variables()})


def _segment(label: str, value: str) -> None:
    if not value or "/" in value:
        raise SettingsError(f"{label} must be non-empty and contain no '/': {value!r}")


def kms_arn_region(arn: str) -> str:
    """The region of a full KMS key or alias ARN (SOPS and the clients need it)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[3]:
        raise SettingsError(f"not a full KMS key or alias ARN (the region is needed): {arn!r}")
    return parts[3]


def arn_region(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" and parts[3] else None


@dataclass(frozen=True)
class ExportSettings(Settings):
    """The configuration export: one cluster's namespaces into one bucket."""

    cluster: str = var("CLUSTER_NAME")
    bucket: str = var("BUCKET")
    sops_key_arns: tuple[str, ...] = var("SOPS_KMS_KEYS")
    digest_key_arn: str = var("DIGEST_KMS_KEY")
    namespaces: tuple[str, ...] = var("NAMESPACES", ())
    refresh_interval_days: int = var("REFRESH_INTERVAL_DAYS", 7)
    include_helm_releases: bool = var("INCLUDE_HELM_RELEASES", False)
    event_bus_name: str = var("EVENT_BUS_NAME", DEFAULT_EVENT_BUS)
    event_source: str = var("EVENT_SOURCE", CONFIG_BACKUP_SOURCE)
    git_mirror_url: str | None = var("GIT_MIRROR_URL", None)
    git_mirror_secret_arn: str | None = var("GIT_MIRROR_SECRET_ARN", None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sops_key_arns", tuple(self.sops_key_arns))
        object.__setattr__(self, "namespaces", tuple(self.namespaces))
        _segment("cluster", self.cluster)
        if not self.bucket:
            raise SettingsError("bucket must not be empty")
        if not self.sops_key_arns:
            raise SettingsError("at least one SOPS KMS key ARN is required")
        for arn in (*self.sops_key_arns, self.digest_key_arn):
            kms_arn_region(arn)
        if self.refresh_interval_days < 0:
            raise SettingsError("refresh_interval_days must not be negative")
        if (self.git_mirror_url is None) != (self.git_mirror_secret_arn is None):
            raise SettingsError("GIT_MIRROR_URL and GIT_MIRROR_SECRET_ARN go together")


@dataclass(frozen=True)
class RestoreSettings(Settings):
    """The configuration restore: which namespaces it may write, whose backups it may restore from, what
    it restarts by default."""

    cluster: str = var("CLUSTER_NAME")
    bucket: str = var("BUCKET")
    digest_key_arn: str = var("DIGEST_KMS_KEY")
    allowed_namespaces: tuple[str, ...] = var("ALLOWED_NAMESPACES", ())
    # The namespaces whose backups it may restore (into an allowed one); default: the allowed ones. The
    # drill's restore reads the source namespaces' backups and may write the drill namespace only.
    source_namespaces: tuple[str, ...] = var("SOURCE_NAMESPACES", ())
    restart_deployments: tuple[str, ...] = var("RESTART_DEPLOYMENTS", ())
    # Restores into another cluster than the one backed up (the DR region's); default: the same.
    target_cluster: str | None = var("TARGET_CLUSTER_NAME", None)
    # Keys that signed the digests of older backups (verification only, after a key change).
    previous_digest_key_arns: tuple[str, ...] = var("PREVIOUS_DIGEST_KMS_KEYS", ())
    field_manager: str = FIELD_MANAGER
    # Objects applied at once. The whole client backs off when the API server pushes back (429).
    max_workers: int = var("RESTORE_CONCURRENCY", 8)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_namespaces", tuple(self.allowed_namespaces))
        object.__setattr__(self, "source_namespaces", tuple(self.source_namespaces))
        object.__setattr__(self, "restart_deployments", tuple(self.restart_deployments))
        object.__setattr__(self, "previous_digest_key_arns", tuple(self.previous_digest_key_arns))
        _segment("cluster", self.cluster)
        if self.target_cluster is not None:
            _segment("target_cluster", self.target_cluster)
        if not 1 <= self.max_workers <= 64:
            raise SettingsError(f"RESTORE_CONCURRENCY must be 1-64, got {self.max_workers}")
        if not self.bucket:
            raise SettingsError("bucket must not be empty")
        for arn in (self.digest_key_arn, *self.previous_digest_key_arns):
            kms_arn_region(arn)

    @property
    def kube_cluster(self) -> str:
        """The cluster restores are applied to."""
        return self.target_cluster or self.cluster


Kind = Literal["monthly", "drill"]


@dataclass(frozen=True)
class HeartbeatSettings(Settings):
    """The heartbeat writer: which database it writes to, as which IAM-authenticated user."""

    host: str = var("DB_HOST")
    database: str = var("DATABASE_NAME")
    port: int = var("DB_PORT", 5432)
    user: str = var("DB_USER", HEARTBEAT_USER)
    keep_days: int = var("KEEP_DAYS", 35)
    ca_bundle: str | None = var("RDS_CA_BUNDLE", None)
    connect_timeout_s: float = var("CONNECT_TIMEOUT_SECONDS", 10.0)

    def __post_init__(self) -> None:
        if not self.host or not self.database or not self.user:
            raise SettingsError("host, database and user must not be empty")
        if not 1 <= self.keep_days <= 3650:
            raise SettingsError(f"keep_days must be from 1 to 3650, got {self.keep_days}")


@dataclass(frozen=True)
class ValidatorSettings(Settings):
    """The restore validator of one environment and kind (monthly restore test or DR drill)."""

    environment: str = var("ENVIRONMENT")
    kind: Kind = var("KIND")
    reports_bucket: str = var("REPORTS_BUCKET")
    database: str = var("DATABASE_NAME")
    rto_minutes: float = var("RTO_MINUTES")
    rpo_minutes: float = var("RPO_MINUTES")
    checks_json: str = var("CHECKS")
    validator_user: str = var("VALIDATOR_USER", VALIDATOR_USER)
    plan_arn: str | None = var("PLAN_ARN", None)
    source_secret_arn: str | None = var("SOURCE_SECRET_ARN", None)
    metric_namespace: str = var("METRIC_NAMESPACE", METRIC_NAMESPACE)
    event_bus_name: str = var("EVENT_BUS_NAME", DEFAULT_EVENT_BUS)
    event_source: str = RESTORE_TEST_SOURCE
    reports_kms_key: str | None = var("REPORTS_KMS_KEY", None)
    identifier_prefix: str | None = var("IDENTIFIER_PREFIX", None)
    ca_bundle: str | None = var("RDS_CA_BUNDLE", None)
    connect_timeout_s: float = var("CONNECT_TIMEOUT_SECONDS", 10.0)
    region: str | None = None  # of the IAM auth token; default: the RDS client's

    def checks(self) -> list[Any]:
        """The CHECKS list (parsed when the validator runs: a bad one becomes a FAILED result)."""
        parsed = json.loads(self.checks_json)
        if not isinstance(parsed, list):
            raise SettingsError("CHECKS must be a JSON list of check specifications")
        return parsed


@dataclass(frozen=True)
class DrillSettings(Settings):
    """The DR drill's starter: which copies to restore, how, and the configuration part."""

    environment: str = var("ENVIRONMENT")
    dr_vault_name: str = var("DR_VAULT_NAME")
    source_db_arn: str = var("SOURCE_DB_ARN")
    restore_role_arn: str = var("RESTORE_ROLE_ARN")
    instance_class: str = var("INSTANCE_CLASS")
    db_subnet_group: str = var("DB_SUBNET_GROUP")
    security_group_ids: tuple[str, ...] = var("SECURITY_GROUP_IDS")
    reports_bucket: str = var("REPORTS_BUCKET")
    identifier_prefix: str = var("IDENTIFIER_PREFIX")
    reports_kms_key: str | None = var("REPORTS_KMS_KEY", None)
    config_restore_function_arn: str | None = var("CONFIG_RESTORE_FUNCTION_ARN", None)
    source_namespace: str | None = var("SOURCE_NAMESPACE", None)
    drill_namespace: str | None = var("DRILL_NAMESPACE", None)
    # With a cross-Region read replica: the drill restores a snapshot of it (never the replica itself).
    replica_identifier: str | None = var("REPLICA_IDENTIFIER", None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "security_group_ids", tuple(self.security_group_ids))
        parts = (self.config_restore_function_arn, self.source_namespace, self.drill_namespace)
        if any(parts) and not all(parts):
            raise SettingsError(
                "CONFIG_RESTORE_FUNCTION_ARN, SOURCE_NAMESPACE and DRILL_NAMESPACE go together "
                "(the configuration drill)"
            )


@dataclass(frozen=True)
class MonitorSettings(Settings):
    """What the RPO monitor watches in one environment."""

    environment: str = var("ENVIRONMENT")
    databases: tuple[str, ...] = var("DATABASES", ())
    protected_resource_arns: tuple[str, ...] = var("PROTECTED_RESOURCE_ARNS", ())
    config_bucket: str | None = var("CONFIG_BUCKET", None)
    config_cluster: str | None = var("CONFIG_CLUSTER", None)
    config_namespaces: tuple[str, ...] = var("CONFIG_NAMESPACES", ())
    metric_namespace: str = var("METRIC_NAMESPACE", METRIC_NAMESPACE)

    def __post_init__(self) -> None:
        object.__setattr__(self, "databases", tuple(self.databases))
        object.__setattr__(self, "protected_resource_arns", tuple(self.protected_resource_arns))
        object.__setattr__(self, "config_namespaces", tuple(self.config_namespaces))
        if not self.environment:
            raise SettingsError("environment must not be empty")
        if not self.metric_namespace:
            raise SettingsError("metric_namespace must not be empty")
        for label, values in (
            ("databases", self.databases),
            ("protected_resource_arns", self.protected_resource_arns),
            ("config_namespaces", self.config_namespaces),
        ):
            if any(not v for v in values):
                raise SettingsError(f"{label} must not contain empty names")
            if len(set(values)) != len(values):
                raise SettingsError(f"{label} must not contain duplicates")
        for arn in self.protected_resource_arns:
            if not arn.startswith("arn:"):
                raise SettingsError(f"not an ARN: {arn!r}")
        if self.config_namespaces:
            if not self.config_bucket or not self.config_cluster:
                raise SettingsError("config_namespaces need config_bucket and config_cluster")
            for label, value in (
                ("config_cluster", self.config_cluster),
                *(("namespace", n) for n in self.config_namespaces),
            ):
                if "/" in value:
                    raise SettingsError(f"{label} must contain no '/': {value!r}")
