"""Backup and restore of a namespace's ConfigMaps and Secrets to S3 (Secrets SOPS-encrypted with KMS).

S3 layout (one prefix per backup, ``backup-id`` = UTC ``YYYYMMDDTHHMMSSZ``)::

    s3://<bucket>/<cluster>/<namespace>/<backup-id>/configmaps.yaml    v1 List, plain
    s3://<bucket>/<cluster>/<namespace>/<backup-id>/secrets.sops.yaml  v1 List, SOPS (every sops key a recipient)
    s3://<bucket>/<cluster>/<namespace>/<backup-id>/manifest.json      object digests + file sha256, written LAST
    s3://<bucket>/<cluster>/<namespace>/last-run.json                  marker of the latest run (overwritten)

Every backup file is written with ``IfNoneMatch="*"``: an export owns a backup id once its first file
is stored, so concurrent exports never mix files (the loser moves on to the next second's id). A backup
without ``manifest.json`` is incomplete: it is never listed, compared against or restored.

Every export ends with one EventBridge event (``Config Backup Completed`` / ``Config Backup Failed``).
Secret values never leave this module in plain text: logs, errors, events and markers carry counts,
names and ids only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import dataclasses
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, Protocol

from lambdas.aws import error_code as _error_code
from lambdas.k8s_objects import (
    Trigger,
    backup_id_for,
    build_manifest,
    clean_object,
    derive_digest_key,
    from_list_yaml,
    list_document,
    manifest_bytes,
    objects_fingerprint,
    parse_backup_id,
    should_skip,
    to_list_yaml,
    verify_objects,
)
from lambdas.kube import ApplyResult, DeploymentPausedError, KubeError, KubeNotFoundError
from lambdas.sops import (
    DEFAULT_ENCRYPTED_REGEX,
    SopsDecryptError,
    SopsError,
    SopsMacError,
    decrypt_document,
    encrypt_document,
)

__all__ = [
    "CONFIGMAPS_FILE",
    "DETAIL_TYPE_COMPLETED",
    "DETAIL_TYPE_FAILED",
    "FIELD_MANAGER",
    "MANIFEST_FILE",
    "MARKER_FILE",
    "SECRETS_FILE",
    "BackupFiles",
    "BackupIntegrityError",
    "BackupNotFoundError",
    "BackupRef",
    "ConfigBackupError",
    "ExportResult",
    "ExportSettings",
    "KmsFactory",
    "NamespaceNotFoundError",
    "ObjectResult",
    "RestartResult",
    "RestoreError",
    "RestoreReport",
    "RestoreSettings",
    "SelectionError",
    "choose_backup",
    "export_namespace",
    "list_backups",
    "record_failure",
    "restore_namespace",
]

LOG = logging.getLogger(__name__)

CONFIGMAPS_FILE: Final = "configmaps.yaml"
SECRETS_FILE: Final = "secrets.sops.yaml"
MANIFEST_FILE: Final = "manifest.json"
MARKER_FILE: Final = "last-run.json"
DETAIL_TYPE_COMPLETED: Final = "Config Backup Completed"
DETAIL_TYPE_FAILED: Final = "Config Backup Failed"
FIELD_MANAGER: Final = "backup-restore"
MAX_ID_ATTEMPTS: Final = 3
_LOST_RACE_CODES: Final = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
_MISSING_CODES: Final = frozenset({"NoSuchKey", "404", "NotFound"})
_BACKUP_ID_RE: Final = re.compile(r"^\d{8}T\d{6}Z$")
_COMPARED_FIELDS: Final = ("data", "binaryData", "type")
_KIND_ALIASES: Final = {
    "configmap": "ConfigMap",
    "configmaps": "ConfigMap",
    "cm": "ConfigMap",
    "secret": "Secret",
    "secrets": "Secret",
}
_PLURALS: Final = {"ConfigMap": "configmaps", "Secret": "secrets"}

ExportOutcome = Literal["created", "unchanged", "failed"]
KmsFactory = Callable[[str], Any]
"""Returns the boto3 KMS client of a region."""


class KubeApi(Protocol):
    """The parts of :class:`lambdas.kube.KubeClient` used here."""

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


# --------------------------------------------------------------------------
# Settings and results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSettings:
    """Configuration of :func:`export_namespace` (one cluster, one bucket)."""

    cluster: str
    bucket: str
    sops_key_arns: tuple[str, ...]
    digest_key_arn: str
    refresh_interval_days: int = 7
    include_helm_releases: bool = False
    event_bus_name: str = "default"
    event_source: str = "ecommerce.config-backup"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sops_key_arns", tuple(self.sops_key_arns))
        _check_segment("cluster", self.cluster)
        if not self.bucket:
            raise ConfigBackupError("bucket must not be empty")
        if not self.sops_key_arns:
            raise ConfigBackupError("at least one SOPS KMS key ARN is required")
        for arn in (*self.sops_key_arns, self.digest_key_arn):
            _arn_region(arn)
        if self.refresh_interval_days < 0:
            raise ConfigBackupError("refresh_interval_days must not be negative")


@dataclass(frozen=True)
class RestoreSettings:
    """Configuration of :func:`restore_namespace`."""

    cluster: str
    bucket: str
    digest_key_arn: str
    field_manager: str = FIELD_MANAGER
    max_workers: int = 8

    def __post_init__(self) -> None:
        _check_segment("cluster", self.cluster)
        if not self.bucket:
            raise ConfigBackupError("bucket must not be empty")
        _arn_region(self.digest_key_arn)


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
            "createdAt": _rfc3339(self.created_at),
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


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_segment(label: str, value: str) -> None:
    if not value or "/" in value:
        raise ConfigBackupError(f"{label} must be non-empty and contain no '/': {value!r}")


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "kms" or not parts[3]:
        raise ConfigBackupError(f"not a full KMS key or alias ARN (the region is needed): {arn!r}")
    return parts[3]


def _rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _aware(dt: datetime, label: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ConfigBackupError(f"{label} must be a timezone-aware datetime")
    return dt.astimezone(UTC)


def _safe_message(exc: BaseException) -> str:
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


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _prefix(cluster: str, namespace: str) -> str:
    return f"{cluster}/{namespace}/"


def _digest_key(kms: KmsFactory, key_arn: str, *, cluster: str, namespace: str) -> bytes:
    client = kms(_arn_region(key_arn))

    def mac(message: bytes) -> bytes:
        response = client.generate_mac(KeyId=key_arn, Message=message, MacAlgorithm="HMAC_SHA_256")
        return bytes(response["Mac"])

    return derive_digest_key(mac, cluster=cluster, namespace=namespace)


def _resolve_key_arns(kms: KmsFactory, arns: Sequence[str]) -> list[str]:
    """Alias ARNs -> key ARNs (SOPS stores and needs the key ARN)."""
    resolved: list[str] = []
    for arn in arns:
        if ":alias/" in arn:
            metadata = kms(_arn_region(arn)).describe_key(KeyId=arn)["KeyMetadata"]
            key_arn = str(metadata["Arn"])
            LOG.debug("resolved KMS alias %s to %s", arn, key_arn)
            arn = key_arn
        if arn not in resolved:
            resolved.append(arn)
    return resolved


def _get_bytes(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _error_code(exc) in _MISSING_CODES:
            return None
        raise
    body: bytes = response["Body"].read()
    return body


def _backup_ids(s3: Any, bucket: str, cluster: str, namespace: str) -> list[str]:
    """Backup ids (complete or not) under the namespace prefix, newest first."""
    prefix = _prefix(cluster, namespace)
    ids: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes") or []:
            name = str(common.get("Prefix", ""))[len(prefix) :].rstrip("/")
            if _BACKUP_ID_RE.match(name):
                ids.append(name)
    return sorted(ids, reverse=True)


def _parse_manifest(data: bytes, backup_id: str) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    if (
        not isinstance(manifest, dict)
        or manifest.get("backupId") != backup_id
        or not isinstance(manifest.get("objects"), list)
        or not isinstance(manifest.get("files"), dict)
        or not all(isinstance(o, dict) for o in manifest["objects"])
    ):
        return None
    return manifest


def _load_manifest(s3: Any, bucket: str, prefix: str, backup_id: str) -> dict[str, Any] | None:
    data = _get_bytes(s3, bucket, f"{prefix}{backup_id}/{MANIFEST_FILE}")
    if data is None:
        return None
    manifest = _parse_manifest(data, backup_id)
    if manifest is None:
        LOG.warning("backup %s%s: manifest.json does not parse; treated as incomplete", prefix, backup_id)
    return manifest


def _ref(prefix: str, backup_id: str, manifest: Mapping[str, Any]) -> BackupRef:
    objects = manifest.get("objects") or []
    try:
        created = datetime.fromisoformat(str(manifest.get("createdAt", "")).replace("Z", "+00:00"))
        created = _aware(created, "createdAt")
    except (ValueError, ConfigBackupError):
        created = parse_backup_id(backup_id)
    return BackupRef(
        backup_id=backup_id,
        created_at=created,
        trigger=str(manifest.get("trigger", "")),
        object_count=len(objects),
        configmaps=sum(1 for o in objects if o.get("kind") == "ConfigMap"),
        secrets=sum(1 for o in objects if o.get("kind") == "Secret"),
        prefix=f"{prefix}{backup_id}/",
    )


def _latest_complete(s3: Any, bucket: str, cluster: str, namespace: str) -> tuple[str, dict[str, Any]] | None:
    prefix = _prefix(cluster, namespace)
    for backup_id in _backup_ids(s3, bucket, cluster, namespace):
        manifest = _load_manifest(s3, bucket, prefix, backup_id)
        if manifest is not None:
            return backup_id, manifest
        LOG.info("backup %s%s is incomplete; skipped", prefix, backup_id)
    return None


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


def _put_new(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")


def _collect(
    kube: KubeApi, namespace: str, include_helm: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    if not kube.namespace_exists(namespace):
        # An empty backup would become the "latest" one and hide the last good backup from a restore.
        raise ConfigBackupError(f"namespace {namespace} does not exist in the cluster; nothing backed up")
    kept: dict[str, list[dict[str, Any]]] = {"ConfigMap": [], "Secret": []}
    skipped = 0
    for kind, plural in _PLURALS.items():
        for item in kube.list_items(plural, namespace):
            reason = should_skip(item, kind=kind, include_helm_releases=include_helm)
            if reason is not None:
                skipped += 1
                LOG.debug("namespace %s: skipped: %s", namespace, reason)
                continue
            kept[kind].append(clean_object(item, kind=kind))
    return kept["ConfigMap"], kept["Secret"], skipped


def export_namespace(
    *,
    kube: KubeApi,
    s3: Any,
    kms: KmsFactory,
    events: Any,
    settings: ExportSettings,
    namespace: str,
    trigger: Trigger,
    now: datetime,
    force: bool = False,
    correlation: Mapping[str, str] | None = None,
    after_backup: Callable[[BackupFiles], None] | None = None,
) -> ExportResult:
    """Back up ``namespace``'s ConfigMaps and Secrets unless they are unchanged since the latest
    complete backup (younger than ``refresh_interval_days``; ``force`` always backs up).

    Never raises for a failed backup: the result says ``failed`` (with a message free of Secret
    values), the marker and the Failed event are written. ``after_backup`` is called with the
    stored files of a created backup; its failure is logged and reported, not fatal.
    """
    _check_segment("namespace", namespace)
    now = _aware(now, "now")
    prefix = _prefix(settings.cluster, namespace)
    state: dict[str, Any] = {"configmaps": 0, "secrets": 0, "skipped": 0, "latest": None, "attempted": None}
    LOG.info("export %s: start (trigger %s, force %s)", prefix, trigger, force)
    try:
        outcome, backup_id, files = _export(kube, s3, kms, settings, namespace, trigger, now, force, state)
    except Exception as exc:
        message = _safe_message(exc)
        LOG.error("export %s: failed: %s", prefix, message)
        result = ExportResult(
            cluster=settings.cluster,
            namespace=namespace,
            trigger=trigger,
            result="failed",
            backup_id=state["attempted"],
            latest_complete_backup_id=state["latest"],
            configmaps=state["configmaps"],
            secrets=state["secrets"],
            skipped=state["skipped"],
            error=message,
        )
        return _finish(s3, events, settings, result, now, correlation)
    mirror_error: str | None = None
    if files is not None and after_backup is not None:
        try:
            after_backup(files)
        except Exception as exc:
            mirror_error = _safe_message(exc)
            LOG.warning("export %s: after-backup hook failed: %s", prefix, mirror_error)
    result = ExportResult(
        cluster=settings.cluster,
        namespace=namespace,
        trigger=trigger,
        result=outcome,
        backup_id=backup_id,
        latest_complete_backup_id=backup_id,
        configmaps=state["configmaps"],
        secrets=state["secrets"],
        skipped=state["skipped"],
        after_backup_error=mirror_error,
    )
    return _finish(s3, events, settings, result, now, correlation)


def _export(
    kube: KubeApi,
    s3: Any,
    kms: KmsFactory,
    settings: ExportSettings,
    namespace: str,
    trigger: Trigger,
    now: datetime,
    force: bool,
    state: dict[str, Any],
) -> tuple[ExportOutcome, str, BackupFiles | None]:
    prefix = _prefix(settings.cluster, namespace)
    configmaps, secrets, skipped = _collect(kube, namespace, settings.include_helm_releases)
    state.update(configmaps=len(configmaps), secrets=len(secrets), skipped=skipped)
    LOG.info("export %s: %d configmaps, %d secrets (%d skipped)", prefix, len(configmaps), len(secrets), skipped)
    digest_key = _digest_key(kms, settings.digest_key_arn, cluster=settings.cluster, namespace=namespace)

    def manifest_for(backup_id: str, files: Mapping[str, str]) -> dict[str, Any]:
        return build_manifest(
            backup_id=backup_id,
            cluster=settings.cluster,
            namespace=namespace,
            created_at=parse_backup_id(backup_id),
            trigger=trigger,
            configmaps=configmaps,
            secrets=secrets,
            digest_key=digest_key,
            files=files,
        )

    first_id = backup_id_for(now)
    fingerprint = objects_fingerprint(manifest_for(first_id, {}))
    latest = _latest_complete(s3, settings.bucket, settings.cluster, namespace)
    if latest is not None:
        latest_id, latest_manifest = latest
        state["latest"] = latest_id
        age = now - parse_backup_id(latest_id)
        fresh = age < timedelta(days=settings.refresh_interval_days)
        if not force and fresh and objects_fingerprint(latest_manifest) == fingerprint:
            LOG.info("export %s: unchanged since %s", prefix, latest_id)
            return "unchanged", latest_id, None
        LOG.info(
            "export %s: latest complete backup %s (%s)",
            prefix,
            latest_id,
            "forced" if force else ("changed" if fresh else "older than the refresh interval"),
        )

    key_arns = _resolve_key_arns(kms, settings.sops_key_arns)
    recipients = {arn: kms(_arn_region(arn)) for arn in key_arns}
    configmaps_bytes = to_list_yaml(configmaps).encode("utf-8")
    secrets_doc = list_document(secrets)
    secrets_bytes = encrypt_document(secrets_doc, recipients, encrypted_regex=DEFAULT_ENCRYPTED_REGEX, now=now).encode(
        "utf-8"
    )
    del secrets_doc
    hashes = {CONFIGMAPS_FILE: _sha256(configmaps_bytes), SECRETS_FILE: _sha256(secrets_bytes)}

    for attempt in range(MAX_ID_ATTEMPTS):
        backup_id = backup_id_for(now + timedelta(seconds=attempt))
        state["attempted"] = backup_id
        base = f"{prefix}{backup_id}/"
        try:
            _put_new(s3, settings.bucket, base + CONFIGMAPS_FILE, configmaps_bytes, "application/yaml")
        except Exception as exc:
            if _error_code(exc) in _LOST_RACE_CODES:
                LOG.info("export %s: backup id %s already taken; trying the next second", prefix, backup_id)
                continue
            raise
        _put_new(s3, settings.bucket, base + SECRETS_FILE, secrets_bytes, "application/yaml")
        manifest = manifest_bytes(manifest_for(backup_id, hashes))
        _put_new(s3, settings.bucket, base + MANIFEST_FILE, manifest, "application/json")
        state["latest"] = backup_id
        LOG.info("export %s: created backup %s", prefix, backup_id)
        files = BackupFiles(
            bucket=settings.bucket,
            prefix=base,
            cluster=settings.cluster,
            namespace=namespace,
            backup_id=backup_id,
            files={CONFIGMAPS_FILE: configmaps_bytes, SECRETS_FILE: secrets_bytes, MANIFEST_FILE: manifest},
        )
        return "created", backup_id, files
    state["attempted"] = None
    raise ConfigBackupError(
        f"could not allocate a backup id under s3://{settings.bucket}/{prefix}: "
        f"{MAX_ID_ATTEMPTS} consecutive ids from {first_id} were already taken (concurrent exports?)"
    )


def _finish(
    s3: Any,
    events: Any,
    settings: ExportSettings,
    result: ExportResult,
    now: datetime,
    correlation: Mapping[str, str] | None,
) -> ExportResult:
    prefix = _prefix(settings.cluster, result.namespace)
    marker = {
        "checkedAt": _rfc3339(now),
        "result": result.result,
        "backupId": result.backup_id,
        "latestCompleteBackupId": result.latest_complete_backup_id,
        "trigger": result.trigger,
    }
    marker_written = False
    try:
        s3.put_object(
            Bucket=settings.bucket,
            Key=prefix + MARKER_FILE,
            Body=(json.dumps(marker, sort_keys=True) + "\n").encode("utf-8"),
            ContentType="application/json",
        )
        marker_written = True
    except Exception as exc:
        LOG.error("export %s: could not write %s: %s", prefix, MARKER_FILE, _safe_message(exc))
    detail: dict[str, Any] = {k: str(v) for k, v in (correlation or {}).items()}
    detail.update(
        cluster=result.cluster,
        namespace=result.namespace,
        backupId=result.backup_id,
        latestCompleteBackupId=result.latest_complete_backup_id,
        result=result.result,
        trigger=result.trigger,
        objects={"configmaps": result.configmaps, "secrets": result.secrets},
    )
    if result.result != "failed" and result.backup_id:
        detail["location"] = f"s3://{settings.bucket}/{prefix}{result.backup_id}/"
    if result.error is not None:
        detail["error"] = result.error
    detail_type = DETAIL_TYPE_FAILED if result.result == "failed" else DETAIL_TYPE_COMPLETED
    event_put = False
    try:
        response = events.put_events(
            Entries=[
                {
                    "Source": settings.event_source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "EventBusName": settings.event_bus_name,
                }
            ]
        )
        failed = int(response.get("FailedEntryCount") or 0)
        if failed:
            entry = (response.get("Entries") or [{}])[0]
            LOG.error("export %s: event rejected: %s", prefix, entry.get("ErrorCode", "unknown"))
        else:
            event_put = True
    except Exception as exc:
        LOG.error("export %s: could not put the event: %s", prefix, _safe_message(exc))
    LOG.info("export %s: %s (backup %s)", prefix, result.result, result.backup_id)
    return dataclasses.replace(result, event_put=event_put, marker_written=marker_written)


def record_failure(
    *,
    s3: Any,
    events: Any,
    settings: ExportSettings,
    namespace: str,
    trigger: Trigger,
    now: datetime,
    error: BaseException | str,
    correlation: Mapping[str, str] | None = None,
) -> ExportResult:
    """Record a failed export that could not even start (e.g. no Kubernetes connection): marker + Failed event."""
    message = error if isinstance(error, str) else _safe_message(error)
    result = ExportResult(
        cluster=settings.cluster,
        namespace=namespace,
        trigger=trigger,
        result="failed",
        backup_id=None,
        latest_complete_backup_id=None,
        error=message,
    )
    LOG.error("export %s: failed: %s", _prefix(settings.cluster, namespace), message)
    return _finish(s3, events, settings, result, _aware(now, "now"), correlation)


# --------------------------------------------------------------------------
# Listing and choosing
# --------------------------------------------------------------------------


def list_backups(s3: Any, bucket: str, cluster: str, namespace: str) -> list[BackupRef]:
    """Complete backups of a namespace (those with a parseable manifest.json), newest first."""
    _check_segment("cluster", cluster)
    _check_segment("namespace", namespace)
    prefix = _prefix(cluster, namespace)
    refs: list[BackupRef] = []
    for backup_id in _backup_ids(s3, bucket, cluster, namespace):
        manifest = _load_manifest(s3, bucket, prefix, backup_id)
        if manifest is not None:
            refs.append(_ref(prefix, backup_id, manifest))
    return refs


def _describe(backups: Sequence[BackupRef], limit: int = 10) -> str:
    if not backups:
        return "there are no complete backups"
    shown = ", ".join(b.backup_id for b in backups[:limit])
    more = f" and {len(backups) - limit} older" if len(backups) > limit else ""
    return f"{len(backups)} complete backup(s) exist: {shown}{more}"


def choose_backup(
    backups: Sequence[BackupRef], *, backup_id: str | None = None, at: datetime | None = None, where: str = ""
) -> BackupRef:
    """The latest backup; the one with ``backup_id``; or the latest created at or before ``at``."""
    place = f" in {where}" if where else ""
    if backup_id is not None and at is not None:
        raise RestoreError("give a backup id or a point in time, not both")
    ordered = sorted(backups, key=lambda b: b.backup_id, reverse=True)
    if backup_id is not None:
        try:
            parse_backup_id(backup_id)
        except ValueError as exc:
            raise RestoreError(str(exc)) from None
        for ref in ordered:
            if ref.backup_id == backup_id:
                return ref
        raise BackupNotFoundError(
            f"backup {backup_id} not found{place} (or incomplete: it has no manifest.json); {_describe(ordered)}"
        )
    if at is not None:
        moment = _aware(at, "at")
        for ref in ordered:
            if ref.created_at <= moment:
                return ref
        raise BackupNotFoundError(f"no complete backup at or before {_rfc3339(moment)}{place}; {_describe(ordered)}")
    if not ordered:
        raise BackupNotFoundError(f"no complete backup{place}")
    return ordered[0]


# --------------------------------------------------------------------------
# Restore
# --------------------------------------------------------------------------


def _parse_selection(only: Sequence[str]) -> list[tuple[str, str]]:
    wanted: list[tuple[str, str]] = []
    for entry in only:
        kind_text, sep, name = entry.partition("/")
        kind = _KIND_ALIASES.get(kind_text.lower())
        if not sep or kind is None or not name or "/" in name:
            raise SelectionError(f"invalid selection {entry!r}: expected ConfigMap/NAME or Secret/NAME")
        wanted.append((kind, name))
    return wanted


def _parse_restarts(restart: Sequence[str]) -> list[str]:
    names: list[str] = []
    for entry in restart:
        kind, sep, name = entry.rpartition("/")
        if sep and kind.lower() not in ("deployment", "deployments", "deploy"):
            raise SelectionError(f"invalid restart {entry!r}: only deployments can be restarted (deployment/NAME)")
        if not name:
            raise SelectionError(f"invalid restart {entry!r}: expected deployment/NAME or NAME")
        if name not in names:
            names.append(name)
    return names


def _comparable(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    cleaned = clean_object(obj, kind=kind)
    metadata = cleaned.get("metadata") or {}
    result: dict[str, Any] = {f: cleaned.get(f) or None for f in _COMPARED_FIELDS}
    if kind == "Secret":
        result["type"] = cleaned.get("type") or "Opaque"
    result["labels"] = metadata.get("labels") or {}
    result["annotations"] = metadata.get("annotations") or {}
    result["immutable"] = bool(cleaned.get("immutable"))
    return result


def _secret_needles(obj: Mapping[str, Any]) -> list[str]:
    needles: list[str] = []
    for values in (obj.get("data"), obj.get("stringData")):
        if not isinstance(values, Mapping):
            continue
        for value in values.values():
            text = str(value)
            needles.append(text)
            with contextlib.suppress(binascii.Error, ValueError):
                needles.append(base64.b64decode(text, validate=True).decode("utf-8"))
    return [n for n in needles if len(n) >= 4]


def _redact(text: str, needles: Sequence[str]) -> str:
    for needle in sorted(needles, key=len, reverse=True):
        text = text.replace(needle, "[redacted]")
    return text


def _kube_reason(exc: KubeError) -> str:
    text = str(exc)
    if isinstance(exc, KubeNotFoundError) and "namespace" in text.lower():
        return f"namespace not found: {text}"
    return text


def restore_namespace(
    *,
    kube: KubeApi,
    s3: Any,
    kms: KmsFactory,
    settings: RestoreSettings,
    namespace: str,
    to_namespace: str | None = None,
    backup_id: str | None = None,
    at: datetime | None = None,
    only: Sequence[str] = (),
    restart: Sequence[str] = (),
    dry_run: bool = False,
    recreate_immutable: bool = False,
    now: datetime,
) -> RestoreReport:
    """Restore a backup of ``namespace`` (into ``to_namespace``, default the same) with server-side apply.

    Everything about the backup is checked before the first request to the cluster: file hashes against
    the manifest, the SOPS MAC, every object's digest, the selection. Never deletes anything (an immutable
    object whose content differs is reported failed unless ``recreate_immutable`` asks to delete and recreate it).
    """
    _check_segment("namespace", namespace)
    target = to_namespace or namespace
    _check_segment("to_namespace", target)
    now = _aware(now, "now")
    prefix = _prefix(settings.cluster, namespace)
    where = f"s3://{settings.bucket}/{prefix}"
    selection = _parse_selection(only)
    restart_names = _parse_restarts(restart)

    # 1. choose the backup
    manifest: dict[str, Any] | None = None
    chosen = ""
    if backup_id is not None and at is None:
        try:
            parse_backup_id(backup_id)
        except ValueError as exc:
            raise RestoreError(str(exc)) from None
        manifest = _load_manifest(s3, settings.bucket, prefix, backup_id)
        chosen = backup_id
    if manifest is None:
        ref = choose_backup(
            list_backups(s3, settings.bucket, settings.cluster, namespace), backup_id=backup_id, at=at, where=where
        )
        chosen = ref.backup_id
        manifest = _load_manifest(s3, settings.bucket, prefix, chosen)
        if manifest is None:
            raise BackupNotFoundError(f"backup {chosen} in {where} disappeared while restoring")
    base = f"{prefix}{chosen}/"
    LOG.info("restore %s%s into namespace %s (dry run %s)", prefix, chosen, target, dry_run)

    # 2. download and check the files
    files = manifest["files"]
    contents: dict[str, bytes] = {}
    for name in (CONFIGMAPS_FILE, SECRETS_FILE):
        expected = files.get(name)
        if not isinstance(expected, str):
            raise BackupIntegrityError(f"backup {chosen}: the manifest lists no sha256 for {name}")
        data = _get_bytes(s3, settings.bucket, base + name)
        if data is None:
            raise BackupIntegrityError(f"backup {chosen}: {name} is missing")
        if not hmac.compare_digest(_sha256(data), expected if expected.startswith("sha256:") else "sha256:" + expected):
            raise BackupIntegrityError(
                f"backup {chosen}: {name} does not match the sha256 in manifest.json (tampered or corrupt)"
            )
        contents[name] = data

    # 3. parse and decrypt
    try:
        configmaps = from_list_yaml(contents[CONFIGMAPS_FILE].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupIntegrityError(f"backup {chosen}: {CONFIGMAPS_FILE} is not a valid v1 List: {exc}") from None
    try:
        secrets_doc = decrypt_document(contents[SECRETS_FILE].decode("utf-8"), kms)
    except SopsMacError as exc:
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} failed its SOPS integrity check: {exc}") from None
    except SopsDecryptError as exc:
        raise RestoreError(f"backup {chosen}: cannot decrypt {SECRETS_FILE}: {exc}") from None
    except (SopsError, UnicodeDecodeError) as exc:
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} is not a valid SOPS file: {exc}") from None
    items = secrets_doc.get("items") if secrets_doc.get("kind") == "List" else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} does not hold a v1 List")
    secrets: list[dict[str, Any]] = items
    for kind, group in (("ConfigMap", configmaps), ("Secret", secrets)):
        if any(obj.get("kind") != kind for obj in group):
            raise BackupIntegrityError(f"backup {chosen}: a file holds objects of the wrong kind")

    # 4. verify every object's digest
    source_cluster = str(manifest.get("cluster") or settings.cluster)
    source_namespace = str(manifest.get("namespace") or namespace)
    digest_key = _digest_key(kms, settings.digest_key_arn, cluster=source_cluster, namespace=source_namespace)
    problems = verify_objects(manifest, configmaps, secrets, digest_key)
    if problems:
        raise BackupIntegrityError(f"backup {chosen}: objects do not match the manifest: " + "; ".join(problems))

    # 5. selection
    objects: list[tuple[str, dict[str, Any]]] = [("ConfigMap", o) for o in configmaps] + [
        ("Secret", o) for o in secrets
    ]
    if selection:
        held = {(kind, str(obj["metadata"]["name"])) for kind, obj in objects}
        missing = [f"{k}/{n}" for k, n in selection if (k, n) not in held]
        if missing:
            listing = ", ".join(f"{k}/{n}" for k, n in sorted(held)) or "nothing"
            raise SelectionError(f"backup {chosen} does not hold {', '.join(missing)}; it holds: {listing}")
        wanted = set(selection)
        objects = [(k, o) for k, o in objects if (k, str(o["metadata"]["name"])) in wanted]

    # 6. the target namespace (first request to the cluster)
    if not kube.namespace_exists(target):
        raise NamespaceNotFoundError(f"target namespace {target} does not exist in the cluster; create it first")

    results = _apply_all(kube, settings, objects, target, dry_run, recreate_immutable)
    restarts = _restart_all(kube, restart_names, target, now, dry_run, results)
    report = RestoreReport(
        backup_id=chosen,
        cluster=settings.cluster,
        source_namespace=namespace,
        target_namespace=target,
        dry_run=dry_run,
        objects=tuple(results),
        restarts=tuple(restarts),
    )
    counts = report.to_dict()["counts"]
    LOG.info("restore %s%s into %s: %s", prefix, chosen, target, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return report


def _apply_all(
    kube: KubeApi,
    settings: RestoreSettings,
    objects: Sequence[tuple[str, dict[str, Any]]],
    target: str,
    dry_run: bool,
    recreate_immutable: bool,
) -> list[ObjectResult]:
    def one(item: tuple[str, dict[str, Any]]) -> ObjectResult:
        kind, original = item
        obj = copy.deepcopy(original)
        obj["metadata"]["namespace"] = target
        name = str(obj["metadata"]["name"])
        needles = _secret_needles(obj) if kind == "Secret" else []
        try:
            return _apply_one(kube, settings, kind, name, obj, target, dry_run, recreate_immutable)
        except KubeError as exc:
            reason = _redact(_kube_reason(exc), needles)
            LOG.warning("restore %s/%s into %s failed: %s", kind, name, target, reason)
            return ObjectResult(kind, name, "failed", reason)
        except Exception as exc:
            reason = _redact(_safe_message(exc), needles)
            LOG.warning("restore %s/%s into %s failed: %s", kind, name, target, reason)
            return ObjectResult(kind, name, "failed", reason)

    if not objects:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(settings.max_workers, len(objects)))) as pool:
        results = list(pool.map(one, objects))
    return sorted(results, key=lambda r: (r.kind, r.name))


def _apply_one(
    kube: KubeApi,
    settings: RestoreSettings,
    kind: str,
    name: str,
    obj: dict[str, Any],
    target: str,
    dry_run: bool,
    recreate_immutable: bool,
) -> ObjectResult:
    live = kube.get(_PLURALS[kind], target, name)
    if live is not None:
        if _comparable(live, kind) == _comparable(obj, kind):
            return ObjectResult(kind, name, "unchanged")
        if live.get("immutable") is True:
            if not recreate_immutable:
                return ObjectResult(
                    kind,
                    name,
                    "failed",
                    f"{kind} {target}/{name} is immutable and differs from the backup; it must be deleted and"
                    " recreated (restore with recreate_immutable to do so)",
                )
            if dry_run:
                return ObjectResult(kind, name, "would recreate", "immutable: would delete and create")
            kube.delete(_PLURALS[kind], target, name)
            kube.apply(obj, field_manager=settings.field_manager, force=True)
            return ObjectResult(kind, name, "recreated", "immutable: deleted and created")
    applied = kube.apply(obj, field_manager=settings.field_manager, force=True, dry_run=dry_run)
    created = live is None or applied.created
    if dry_run:
        return ObjectResult(kind, name, "would create" if created else "would update")
    return ObjectResult(kind, name, "created" if created else "updated")


def _restart_all(
    kube: KubeApi, names: Sequence[str], target: str, now: datetime, dry_run: bool, results: Sequence[ObjectResult]
) -> list[RestartResult]:
    failed = sum(1 for r in results if r.outcome == "failed")
    restarts: list[RestartResult] = []
    for name in names:
        if failed:
            restarts.append(RestartResult(name, "skipped", f"not restarted: {failed} object(s) failed to restore"))
            continue
        try:
            if dry_run:
                if kube.get("deployments", target, name, api_version="apps/v1") is None:
                    restarts.append(RestartResult(name, "failed", f"deployment {target}/{name} not found"))
                else:
                    restarts.append(RestartResult(name, "would restart"))
                continue
            kube.patch_deployment_restart(target, name, now)
            restarts.append(RestartResult(name, "restarted"))
            LOG.info("restarted deployment %s/%s", target, name)
        except DeploymentPausedError as exc:
            restarts.append(RestartResult(name, "failed", str(exc)))
        except KubeNotFoundError:
            restarts.append(RestartResult(name, "failed", f"deployment {target}/{name} not found"))
        except KubeError as exc:
            restarts.append(RestartResult(name, "failed", str(exc)))
    return restarts
