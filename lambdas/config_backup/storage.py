"""The configuration backups in their bucket: reading manifests, listing complete backups, choosing one,
writing new objects, and the keyed digests' key."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lambdas.common.aws import error_code as _error_code
from lambdas.config_backup.model import (
    MISSING_CODES,
    BackupNotFoundError,
    BackupRef,
    ConfigBackupError,
    KmsFactory,
    RestoreError,
    aware_utc,
    check_segment,
    rfc3339,
)
from lambdas.contract.layout import MANIFEST_FILE, backup_prefix, is_backup_id
from lambdas.contract.settings import kms_arn_region
from lambdas.kubernetes.objects import (
    derive_digest_key,
    manifest_is_authentic,
    parse_backup_id,
)

LOG = logging.getLogger(__name__)

# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def namespace_digest_key(kms: KmsFactory, key_arn: str, *, cluster: str, namespace: str) -> bytes:
    client = kms(kms_arn_region(key_arn))

    def mac(message: bytes) -> bytes:
        response = client.generate_mac(KeyId=key_arn, Message=message, MacAlgorithm="HMAC_SHA_256")
        return bytes(response["Mac"])

    return derive_digest_key(mac, cluster=cluster, namespace=namespace)


def resolve_key_arns(kms: KmsFactory, arns: Sequence[str]) -> list[str]:
    """Alias ARNs -> key ARNs (SOPS stores and needs the key ARN)."""
    resolved: list[str] = []
    for arn in arns:
        if ":alias/" in arn:
            metadata = kms(kms_arn_region(arn)).describe_key(KeyId=arn)["KeyMetadata"]
            key_arn = str(metadata["Arn"])
            LOG.debug("resolved KMS alias %s to %s", arn, key_arn)
            arn = key_arn
        if arn not in resolved:
            resolved.append(arn)
    return resolved


def get_bytes(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _error_code(exc) in MISSING_CODES:
            return None
        raise
    body: bytes = response["Body"].read()
    return body


def backup_ids(s3: Any, bucket: str, cluster: str, namespace: str) -> list[str]:
    """Backup ids (complete or not) under the namespace prefix, newest first."""
    prefix = backup_prefix(cluster, namespace)
    ids: list[str] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes") or []:
            name = str(common.get("Prefix", ""))[len(prefix) :].rstrip("/")
            if is_backup_id(name):
                ids.append(name)
    return sorted(ids, reverse=True)


def parse_manifest(data: bytes, backup_id: str) -> dict[str, Any] | None:
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


def load_manifest(s3: Any, bucket: str, prefix: str, backup_id: str) -> dict[str, Any] | None:
    data = get_bytes(s3, bucket, f"{prefix}{backup_id}/{MANIFEST_FILE}")
    if data is None:
        return None
    manifest = parse_manifest(data, backup_id)
    if manifest is None:
        LOG.warning("backup %s%s: manifest.json does not parse; treated as incomplete", prefix, backup_id)
    return manifest


def backup_ref(prefix: str, backup_id: str, manifest: Mapping[str, Any]) -> BackupRef:
    objects = manifest.get("objects") or []
    try:
        created = datetime.fromisoformat(str(manifest.get("createdAt", "")).replace("Z", "+00:00"))
        created = aware_utc(created, "createdAt")
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


def newest_backups(
    s3: Any, bucket: str, cluster: str, namespace: str
) -> tuple[str | None, tuple[str, dict[str, Any]] | None]:
    """The newest backup folder's id, complete or not, and the newest complete backup (id, manifest):
    one listing, manifests read newest first until a complete one. They differ when the newest folder
    is incomplete (an interrupted export, a deleted or truncated manifest)."""
    prefix = backup_prefix(cluster, namespace)
    ids = backup_ids(s3, bucket, cluster, namespace)
    for backup_id in ids:
        manifest = load_manifest(s3, bucket, prefix, backup_id)
        if manifest is not None:
            return ids[0], (backup_id, manifest)
        LOG.info("backup %s%s is incomplete; skipped", prefix, backup_id)
    return (ids[0] if ids else None), None


def latest_complete(s3: Any, bucket: str, cluster: str, namespace: str) -> tuple[str, dict[str, Any]] | None:
    return newest_backups(s3, bucket, cluster, namespace)[1]


def put_new(s3: Any, bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")


# --------------------------------------------------------------------------
# Listing and choosing
# --------------------------------------------------------------------------


def list_backups(s3: Any, bucket: str, cluster: str, namespace: str) -> list[BackupRef]:
    """Complete backups of a namespace (those with a parseable manifest.json), newest first."""
    check_segment("cluster", cluster)
    check_segment("namespace", namespace)
    prefix = backup_prefix(cluster, namespace)
    refs: list[BackupRef] = []
    for backup_id in backup_ids(s3, bucket, cluster, namespace):
        manifest = load_manifest(s3, bucket, prefix, backup_id)
        if manifest is not None:
            refs.append(backup_ref(prefix, backup_id, manifest))
    return refs


def backup_folders(
    s3: Any, bucket: str, cluster: str, namespace: str, digest_key: bytes | None = None
) -> list[dict[str, Any]]:
    """Every backup folder of a namespace, newest first, complete or not: ``status`` is ``complete`` or
    ``incomplete`` (no readable manifest: a default restore refuses while it is the newest), and
    ``authentication`` is ``authentic`` / ``NOT AUTHENTIC`` / ``unsigned`` with ``digest_key`` (the
    namespace's), ``not verified`` without it."""
    check_segment("cluster", cluster)
    check_segment("namespace", namespace)
    prefix = backup_prefix(cluster, namespace)
    folders: list[dict[str, Any]] = []
    for backup_id in backup_ids(s3, bucket, cluster, namespace):
        manifest = load_manifest(s3, bucket, prefix, backup_id)
        entry: dict[str, Any] = {"backupId": backup_id, "status": "complete" if manifest else "incomplete"}
        if manifest is not None:
            entry |= backup_ref(prefix, backup_id, manifest).to_dict()
            if digest_key is None:
                entry["authentication"] = "not verified"
            else:
                verdict = manifest_is_authentic(manifest, digest_key)
                entry["authentication"] = {True: "authentic", False: "NOT AUTHENTIC", None: "unsigned"}[verdict]
        folders.append(entry)
    return folders


def describe_backups(backups: Sequence[BackupRef], limit: int = 10) -> str:
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
            f"backup {backup_id} not found{place} (or incomplete: it has no manifest.json); {describe_backups(ordered)}"
        )
    if at is not None:
        moment = aware_utc(at, "at")
        for ref in ordered:
            if ref.created_at <= moment:
                return ref
        raise BackupNotFoundError(
            f"no complete backup at or before {rfc3339(moment)}{place}; {describe_backups(ordered)}"
        )
    if not ordered:
        raise BackupNotFoundError(f"no complete backup{place}")
    return ordered[0]
