"""The configuration backup's vocabulary: its errors, the Kubernetes API it needs, and what an export or a
restore reports."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from lambdas.common.aws import error_code as _error_code
from lambdas.config_backup.sops import (
    SopsError,
)
from lambdas.kubernetes.client import ApplyResult, KubeError
from lambdas.kubernetes.objects import (
    Trigger,
)

LOG = logging.getLogger(__name__)

MAX_ID_ATTEMPTS: Final = 3
LOST_RACE_CODES: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
COMPARED_FIELDS: Final = ("data", "binaryData", "type")
KIND_ALIASES: Final = {
    "configmap": "ConfigMap",
    "configmaps": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "secrets": "Secret",
}
PLURALS: Final = {"ConfigMap": "configmaps", "Secret": "secrets"}

ExportOutcome = Literal["created", "unchanged", "failed"]
KmsFactory = Callable[[str], Any]
"""Returns the boto3 KMS client of a region."""


class KubeApi(Protocol):
    """The parts of :class:`lambdas.kubernetes.client.KubeClient` used here."""

    def list_items(self, kind_path: str, namespace: str, *, limit: int = 500) -> list[dict[str, Any]]: ...

    def get(
        self, kind_path: str, namespace: str | None, name: str, *, api_version: str = "v1"
    ) -> dict[str, Any] | None: ...

    def namespace_exists(self, name: str) -> bool: ...

    def apply(
        self, obj: Mapping[str, Any], *, field_manager: str, force: bool = True, dry_run: bool = False
    ) -> ApplyResult: ...

    def patch_deployment_restart(self, namespace: str, name: str, at: datetime) -> dict[str, Any]: ...

    def delete(self, kind_path: str, namespace: str, name: str, *, api_version: str = "v1") -> None: ...


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class ConfigBackupError(Exception):
    """Base class of this module's errors. Messages never contain Secret values."""


class RestoreError(ConfigBackupError):
    """A restore was refused or could not start."""


class BackupNotFoundError(RestoreError):
    """No complete backup matches what was asked."""


class BackupIntegrityError(RestoreError):
    """A backup file or object does not match its manifest (tampered or corrupt)."""


class SelectionError(RestoreError):
    """An ``only``/``restart`` selection names something invalid or absent from the backup."""


class NamespaceNotFoundError(RestoreError):
    """The restore's target namespace does not exist."""


@dataclass(frozen=True)
class BackupFiles:
    """A complete backup as stored (handed to ``after_backup``, e.g. a git mirror)."""

    bucket: str
    prefix: str
    cluster: str
    namespace: str
    backup_id: str
    files: Mapping[str, bytes]
    """File name -> stored bytes (configmaps.yaml, secrets.sops.yaml, manifest.json)."""

    def key(self, name: str) -> str:
        return self.prefix + name


@dataclass(frozen=True)
class ExportResult:
    """Outcome of one :func:`export_namespace` run."""

    cluster: str
    namespace: str
    trigger: Trigger
    result: ExportOutcome
    backup_id: str | None
    """The backup created, the (unchanged) latest backup, or the id attempted when failing."""
    latest_complete_backup_id: str | None
    configmaps: int = 0
    secrets: int = 0
    skipped: int = 0
    error: str | None = None
    event_put: bool = False
    marker_written: bool = False
    after_backup_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result != "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "trigger": self.trigger,
            "result": self.result,
            "backupId": self.backup_id,
            "latestCompleteBackupId": self.latest_complete_backup_id,
            "objects": {"configmaps": self.configmaps, "secrets": self.secrets},
            "skipped": self.skipped,
            "error": self.error,
            "eventPut": self.event_put,
            "markerWritten": self.marker_written,
            "afterBackupError": self.after_backup_error,
        }


@dataclass(frozen=True)
class BackupRef:
    """A complete backup, as listed."""

    backup_id: str
    created_at: datetime
    trigger: str
    object_count: int
    configmaps: int
    secrets: int
    prefix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "backupId": self.backup_id,
            "createdAt": rfc3339(self.created_at),
            "trigger": self.trigger,
            "objects": self.object_count,
            "configmaps": self.configmaps,
            "secrets": self.secrets,
            "prefix": self.prefix,
        }


@dataclass(frozen=True)
class ObjectResult:
    """Restore outcome of one object: created, updated, unchanged, would create, would update, failed."""

    kind: str
    name: str
    outcome: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "outcome": self.outcome, "reason": self.reason}


@dataclass(frozen=True)
class RestartResult:
    """Rollout restart outcome of one Deployment: restarted, would restart, skipped, failed."""

    name: str
    outcome: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"deployment": self.name, "outcome": self.outcome, "reason": self.reason}


@dataclass(frozen=True)
class RestoreReport:
    """What :func:`restore_namespace` did (or, with ``dry_run``, would do)."""

    backup_id: str
    cluster: str
    source_namespace: str
    target_namespace: str
    dry_run: bool
    objects: tuple[ObjectResult, ...] = ()
    restarts: tuple[RestartResult, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(o.outcome != "failed" for o in self.objects) and all(
            r.outcome not in ("failed", "skipped") for r in self.restarts
        )

    @property
    def failures(self) -> list[str]:
        found = [f"{o.kind}/{o.name}: {o.reason}" for o in self.objects if o.outcome == "failed"]
        found += [f"deployment/{r.name}: {r.reason}" for r in self.restarts if r.outcome in ("failed", "skipped")]
        return found

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for result in self.objects:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return {
            "backupId": self.backup_id,
            "cluster": self.cluster,
            "sourceNamespace": self.source_namespace,
            "targetNamespace": self.target_namespace,
            "dryRun": self.dry_run,
            "ok": self.ok,
            "counts": counts,
            "objects": [o.to_dict() for o in self.objects],
            "restarts": [r.to_dict() for r in self.restarts],
            "warnings": list(self.warnings),
        }


# Helpers of the package ----------------------------------------------------------


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_segment(label: str, value: str) -> None:
    """A cluster name, or (for ``namespace`` labels) a Kubernetes namespace: a DNS-1123 label (lower-case
    letters, digits and '-', at most 63 characters), so no value can change an API path or an S3 prefix
    (``..``, ``.``, ``a/b``, ``''`` and upper case are refused before any request)."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise ConfigBackupError(f"{label} must be non-empty and contain no '/': {value!r}")
    if "namespace" in label and (len(value) > 63 or not _DNS_LABEL.match(value)):
        raise ConfigBackupError(
            f"{label}: got {value!r}; a Kubernetes namespace is a DNS-1123 label: lower-case letters, digits "
            "and '-', starting and ending with a letter or digit, at most 63 characters"
        )


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aware_utc(dt: datetime, label: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ConfigBackupError(f"{label} must be a timezone-aware datetime")
    return dt.astimezone(UTC)


def safe_message(exc: BaseException) -> str:
    """A message for logs/events/markers: the text of errors known to carry no data, else the type only."""
    if isinstance(exc, ConfigBackupError | KubeError | SopsError):
        return str(exc)[:1000]
    code = _error_code(exc)
    if code:  # botocore ClientError: service error messages name keys/operations, not bodies
        return f"{type(exc).__name__}: {str(exc)[:500]}"
    module = type(exc).__module__
    if module.startswith(("botocore", "urllib3")):
        return f"{type(exc).__name__}: {str(exc)[:500]}"
    return f"{type(exc).__name__} (details withheld)"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
