"""Restore: verify a complete backup entirely before the first write, apply it, restart deployments."""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lambdas.config_backup.model import (
    COMPARED_FIELDS,
    KIND_ALIASES,
    PLURALS,
    BackupIntegrityError,
    BackupNotFoundError,
    ConfigBackupError,
    KmsFactory,
    KubeApi,
    NamespaceNotFoundError,
    ObjectResult,
    RestartResult,
    RestoreError,
    RestoreReport,
    SelectionError,
    aware_utc,
    check_segment,
    safe_message,
    sha256_digest,
)
from lambdas.config_backup.sops import (
    SopsDecryptError,
    SopsError,
    SopsMacError,
    decrypt_document,
)
from lambdas.config_backup.storage import (
    choose_backup,
    get_bytes,
    list_backups,
    load_manifest,
    namespace_digest_key,
    newest_backups,
)
from lambdas.contract.layout import CONFIGMAPS_FILE, SECRETS_FILE, backup_prefix
from lambdas.contract.settings import RestoreSettings, kms_arn_region
from lambdas.kubernetes.client import DeploymentPausedError, KubeError, KubeNotFoundError
from lambdas.kubernetes.objects import (
    clean_object,
    from_list_yaml,
    manifest_is_authentic,
    parse_backup_id,
    verify_objects,
)

LOG = logging.getLogger(__name__)


def _parse_selection(only: Sequence[str]) -> list[tuple[str, str]]:
    wanted: list[tuple[str, str]] = []
    for entry in only:
        kind_text, sep, name = entry.partition("/")
        kind = KIND_ALIASES.get(kind_text.lower())
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
    result: dict[str, Any] = {f: cleaned.get(f) or None for f in COMPARED_FIELDS}
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
    allow_unauthenticated: bool = False,
    now: datetime,
) -> RestoreReport:
    """Restore a backup of ``namespace`` (into ``to_namespace``, default the same) with server-side apply.

    Everything about the backup is checked before the first request to the cluster: file hashes against
    the manifest, the SOPS MAC, every object's digest, the selection. Never deletes anything (an immutable
    object whose content differs is reported failed unless ``recreate_immutable`` asks to delete and recreate it).
    The manifest's MAC is verified before anything else of it is trusted; a backup written before
    manifests were signed restores only with ``allow_unauthenticated`` (and a warning).
    """
    check_segment("namespace", namespace)
    target = to_namespace or namespace
    check_segment("to_namespace", target)
    now = aware_utc(now, "now")
    selection = _parse_selection(only)
    restart_names = _parse_restarts(restart)

    backup = load_verified_backup(
        s3=s3,
        kms=kms,
        settings=settings,
        namespace=namespace,
        backup_id=backup_id,
        at=at,
        allow_unauthenticated=allow_unauthenticated,
    )
    objects = _select(backup, selection)
    LOG.info("restore %s into namespace %s (dry run %s)", backup.location, target, dry_run)
    if not kube.namespace_exists(target):  # the first request to the cluster
        raise NamespaceNotFoundError(f"target namespace {target} does not exist in the cluster; create it first")

    results = _apply_all(kube, settings, objects, target, dry_run, recreate_immutable)
    restarts = _restart_all(kube, restart_names, target, now, dry_run, results)
    report = RestoreReport(
        backup_id=backup.backup_id,
        cluster=settings.cluster,
        source_namespace=namespace,
        target_namespace=target,
        dry_run=dry_run,
        objects=tuple(results),
        restarts=tuple(restarts),
    )
    counts = report.to_dict()["counts"]
    LOG.info("restore %s into %s: %s", backup.location, target, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return report


@dataclass(frozen=True)
class VerifiedBackup:
    """A backup whose files, SOPS MAC and per-object digests all matched its manifest."""

    backup_id: str
    location: str
    configmaps: list[dict[str, Any]]
    secrets: list[dict[str, Any]]

    @property
    def objects(self) -> list[tuple[str, dict[str, Any]]]:
        return [("ConfigMap", o) for o in self.configmaps] + [("Secret", o) for o in self.secrets]


def load_verified_backup(
    *,
    s3: Any,
    kms: KmsFactory,
    settings: RestoreSettings,
    namespace: str,
    backup_id: str | None = None,
    at: datetime | None = None,
    allow_unauthenticated: bool = False,
) -> VerifiedBackup:
    """Choose a backup of ``namespace`` and check all of it without touching the cluster; raises
    ``BackupIntegrityError`` on anything that does not match the manifest, and first on a manifest whose
    MAC does not verify (or that has none, unless ``allow_unauthenticated``)."""
    prefix = backup_prefix(settings.cluster, namespace)
    chosen, manifest = _choose_backup(s3, settings, namespace, prefix, backup_id, at)
    # The manifest names the cluster and namespace it belongs to; the MAC covers both.
    if (
        manifest.get("cluster", settings.cluster) != settings.cluster
        or manifest.get("namespace", namespace) != namespace
    ):
        raise BackupIntegrityError(
            f"backup {chosen}: manifest.json names {manifest.get('cluster')}/{manifest.get('namespace')}, "
            f"not {settings.cluster}/{namespace} (moved or replayed from elsewhere)"
        )
    candidates = _authenticated_keys(kms, settings, manifest, chosen, namespace, allow_unauthenticated)
    contents = _download_checked(s3, settings.bucket, f"{prefix}{chosen}/", chosen, manifest)
    configmaps, secrets = _parse_files(contents, chosen, kms, kms_arn_region(settings.digest_key_arn))
    problems: list[str] = []
    for digest_key in candidates:
        found = verify_objects(manifest, configmaps, secrets, digest_key)
        if not found:
            return VerifiedBackup(chosen, f"{prefix}{chosen}", configmaps, secrets)
        problems = problems or found
    raise BackupIntegrityError(f"backup {chosen}: objects do not match the manifest: " + "; ".join(problems))


def _authenticated_keys(
    kms: KmsFactory,
    settings: RestoreSettings,
    manifest: Mapping[str, Any],
    chosen: str,
    namespace: str,
    allow_unauthenticated: bool,
) -> list[bytes]:
    """The digest key the manifest's MAC verifies under (the current key first, then the keys of earlier
    times); refuses a manifest that verifies under none, or that is not signed at all unless allowed (then
    every key is a candidate for the objects' digests)."""
    keys = (settings.digest_key_arn, *settings.previous_digest_key_arns)
    derived = [namespace_digest_key(kms, arn, cluster=settings.cluster, namespace=namespace) for arn in keys]
    verdicts = [manifest_is_authentic(manifest, key) for key in derived]
    if None in verdicts:
        if not allow_unauthenticated:
            raise BackupIntegrityError(
                f"backup {chosen}: manifest.json is not authenticated (written before manifests were signed, or "
                "its signature was removed); restore it only on purpose: --allow-unauthenticated "
                '(event: "allowUnauthenticated": true), or choose another backup with --backup-id'
            )
        LOG.warning("backup %s: restoring an UNAUTHENTICATED manifest on request; its digests are taken as is", chosen)
        # Its per-object digests still bind the Secrets to a digest key: any of the keys may match.
        return derived
    for index, verdict in enumerate(verdicts):
        if verdict:
            if index:
                LOG.info("backup %s verified with a previous digest key", chosen)
            return [derived[index]]
    raise BackupIntegrityError(
        f"backup {chosen}: manifest.json is not authentic: its MAC does not verify with the digest key "
        f"{settings.digest_key_arn} (edited, forged without the key, or signed with another key)"
    )


def _choose_backup(
    s3: Any, settings: RestoreSettings, namespace: str, prefix: str, backup_id: str | None, at: datetime | None
) -> tuple[str, dict[str, Any]]:
    """The backup named (read directly) or the one chosen from the listing (newest, or newest at ``at``)."""
    if backup_id is not None and at is None:
        try:
            parse_backup_id(backup_id)
        except ValueError as exc:
            raise RestoreError(str(exc)) from None
        manifest = load_manifest(s3, settings.bucket, prefix, backup_id)
        if manifest is not None:
            return backup_id, manifest
    where = f"s3://{settings.bucket}/{prefix}"
    if backup_id is None and at is None:
        # Never a silent rollback: when the newest backup folder is incomplete (its manifest missing -
        # in a versioned bucket perhaps only a delete marker - or unreadable), a default restore stops.
        newest_id, latest = newest_backups(s3, settings.bucket, settings.cluster, namespace)
        if latest is not None and latest[0] == newest_id:
            return latest  # the newest folder is complete: it is the one to restore
        if newest_id is not None:
            older = [ref.backup_id for ref in list_backups(s3, settings.bucket, settings.cluster, namespace)][:3]
            raise BackupIntegrityError(
                f"the newest backup {newest_id} in {where} is incomplete (its manifest.json is missing or "
                "unreadable): a default restore does not fall back to an older backup; choose one explicitly "
                "with --backup-id (event: backupId)" + (f", e.g. {', '.join(older)}" if older else "")
            )
    listing = list_backups(s3, settings.bucket, settings.cluster, namespace)
    chosen = choose_backup(listing, backup_id=backup_id, at=at, where=where).backup_id
    manifest = load_manifest(s3, settings.bucket, prefix, chosen)
    if manifest is None:
        raise BackupNotFoundError(f"backup {chosen} in {where} disappeared while restoring")
    return chosen, manifest


def _download_checked(s3: Any, bucket: str, base: str, chosen: str, manifest: Mapping[str, Any]) -> dict[str, bytes]:
    """Both files, each matching the sha256 the manifest records for it."""
    files = manifest["files"]
    contents: dict[str, bytes] = {}
    for name in (CONFIGMAPS_FILE, SECRETS_FILE):
        expected = files.get(name)
        if not isinstance(expected, str):
            raise BackupIntegrityError(f"backup {chosen}: the manifest lists no sha256 for {name}")
        data = get_bytes(s3, bucket, base + name)
        if data is None:
            raise BackupIntegrityError(f"backup {chosen}: {name} is missing")
        wanted = expected if expected.startswith("sha256:") else "sha256:" + expected
        if not hmac.compare_digest(sha256_digest(data), wanted):
            raise BackupIntegrityError(
                f"backup {chosen}: {name} does not match the sha256 in manifest.json (tampered or corrupt)"
            )
        contents[name] = data
    return contents


def _parse_files(
    contents: Mapping[str, bytes], chosen: str, kms: KmsFactory, region: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ConfigMaps (plain v1 List) and the Secrets (SOPS-encrypted v1 List, MAC checked on decryption)."""
    try:
        configmaps = from_list_yaml(contents[CONFIGMAPS_FILE].decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupIntegrityError(f"backup {chosen}: {CONFIGMAPS_FILE} is not a valid v1 List: {exc}") from None
    try:
        # The SOPS key of the restore's own region first (the region of its digest key).
        secrets_doc = decrypt_document(contents[SECRETS_FILE].decode("utf-8"), kms, prefer_region=region)
    except SopsMacError as exc:
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} failed its SOPS integrity check: {exc}") from None
    except SopsDecryptError as exc:
        # A failure (KMS refused or unreachable), not refused input: exit 1 in the CLI.
        raise ConfigBackupError(f"backup {chosen}: cannot decrypt {SECRETS_FILE}: {exc}") from None
    except (SopsError, UnicodeDecodeError) as exc:
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} is not a valid SOPS file: {exc}") from None
    items = secrets_doc.get("items") if secrets_doc.get("kind") == "List" else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BackupIntegrityError(f"backup {chosen}: {SECRETS_FILE} does not hold a v1 List")
    secrets: list[dict[str, Any]] = items
    for kind, group in (("ConfigMap", configmaps), ("Secret", secrets)):
        if any(obj.get("kind") != kind for obj in group):
            raise BackupIntegrityError(f"backup {chosen}: a file holds objects of the wrong kind")
    return configmaps, secrets


def _select(backup: VerifiedBackup, selection: Sequence[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """The objects asked for (all when ``selection`` is empty); naming one the backup lacks is an error."""
    objects = backup.objects
    if not selection:
        return objects
    held = {(kind, str(obj["metadata"]["name"])) for kind, obj in objects}
    missing = [f"{k}/{n}" for k, n in selection if (k, n) not in held]
    if missing:
        listing = ", ".join(f"{k}/{n}" for k, n in sorted(held)) or "nothing"
        raise SelectionError(f"backup {backup.backup_id} does not hold {', '.join(missing)}; it holds: {listing}")
    wanted = set(selection)
    return [(k, o) for k, o in objects if (k, str(o["metadata"]["name"])) in wanted]


def _apply_all(
    kube: KubeApi,
    settings: RestoreSettings,
    objects: Sequence[tuple[str, dict[str, Any]]],
    target: str,
    dry_run: bool,
    recreate_immutable: bool,
) -> list[ObjectResult]:
    # What the target namespace holds, in one paginated LIST per kind (a read, before the first write),
    # rather than a GET per object: half the requests of a restore.
    live: dict[tuple[str, str], dict[str, Any]] = {}
    for kind in sorted({k for k, _ in objects}):
        for item in kube.list_items(PLURALS[kind], target):
            live[(kind, str((item.get("metadata") or {}).get("name")))] = item

    def one(item: tuple[str, dict[str, Any]]) -> ObjectResult:
        kind, original = item
        obj = copy.deepcopy(original)
        obj["metadata"]["namespace"] = target
        name = str(obj["metadata"]["name"])
        needles = _secret_needles(obj) if kind == "Secret" else []
        try:
            return _apply_one(kube, settings, kind, name, obj, live.get((kind, name)), dry_run, recreate_immutable)
        except KubeError as exc:
            reason = _redact(_kube_reason(exc), needles)
            LOG.warning("restore %s/%s into %s failed: %s", kind, name, target, reason)
            return ObjectResult(kind, name, "failed", reason)
        except Exception as exc:
            reason = _redact(safe_message(exc), needles)
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
    live: dict[str, Any] | None,
    dry_run: bool,
    recreate_immutable: bool,
) -> ObjectResult:
    target = str(obj["metadata"]["namespace"])
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
            kube.delete(PLURALS[kind], target, name)
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
