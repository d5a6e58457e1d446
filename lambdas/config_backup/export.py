"""Export: one namespace's ConfigMaps and Secrets into a new, complete backup (or ``unchanged``), the
last-run marker and the announcing event."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from lambdas.common.aws import error_code as _error_code
from lambdas.config_backup.model import (
    LOST_RACE_CODES,
    MAX_ID_ATTEMPTS,
    PLURALS,
    BackupFiles,
    ConfigBackupError,
    ExportOutcome,
    ExportResult,
    KmsFactory,
    KubeApi,
    NamespaceNotFoundError,
    aware_utc,
    check_segment,
    rfc3339,
    safe_message,
    sha256_digest,
)
from lambdas.config_backup.sops import (
    DEFAULT_ENCRYPTED_REGEX,
    encrypt_document,
)
from lambdas.config_backup.storage import (
    namespace_digest_key,
    newest_backups,
    put_new,
    resolve_key_arns,
)
from lambdas.contract.events import CONFIG_BACKUP_COMPLETED, CONFIG_BACKUP_FAILED
from lambdas.contract.layout import CONFIGMAPS_FILE, MANIFEST_FILE, MARKER_FILE, SECRETS_FILE, backup_prefix
from lambdas.contract.settings import ExportSettings, kms_arn_region
from lambdas.kubernetes.objects import (
    Trigger,
    backup_id_for,
    build_manifest,
    cleaned_view,
    list_document,
    manifest_bytes,
    manifest_objects,
    objects_fingerprint,
    parse_backup_id,
    should_skip,
    sign_manifest,
    to_list_yaml,
)

LOG = logging.getLogger(__name__)


def _collect(
    kube: KubeApi, namespace: str, include_helm: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    if not kube.namespace_exists(namespace):
        # An empty backup would become the "latest" one and hide the last good backup from a restore.
        raise NamespaceNotFoundError(f"namespace {namespace} does not exist in the cluster; nothing backed up")
    kept: dict[str, list[dict[str, Any]]] = {"ConfigMap": [], "Secret": []}
    skipped = 0
    # Both kinds are listed at once: one list's wait on the API server overlaps the other's decoding.
    with ThreadPoolExecutor(max_workers=len(PLURALS), thread_name_prefix="export-list") as pool:
        listed = {kind: pool.submit(kube.list_items, plural, namespace) for kind, plural in PLURALS.items()}
    for kind, future in listed.items():
        for item in future.result():
            reason = should_skip(item, kind=kind, include_helm_releases=include_helm)
            if reason is not None:
                skipped += 1
                LOG.debug("namespace %s: skipped: %s", namespace, reason)
                continue
            # The listed item is ours alone: cleaned without a deep copy.
            kept[kind].append(cleaned_view(item, kind=kind))
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
    check_segment("namespace", namespace)
    now = aware_utc(now, "now")
    prefix = backup_prefix(settings.cluster, namespace)
    state: dict[str, Any] = {"configmaps": 0, "secrets": 0, "skipped": 0, "latest": None, "attempted": None}
    LOG.info("export %s: start (trigger %s, force %s)", prefix, trigger, force)
    try:
        outcome, backup_id, files = _export(kube, s3, kms, settings, namespace, trigger, now, force, state)
    except Exception as exc:
        message = safe_message(exc)
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
        # No last-run.json for a namespace that does not exist: the name may be a typo, or hostile.
        return _finish(
            s3, events, settings, result, now, correlation, write_marker=not isinstance(exc, NamespaceNotFoundError)
        )
    mirror_error: str | None = None
    if files is not None and after_backup is not None:
        try:
            after_backup(files)
        except Exception as exc:
            mirror_error = safe_message(exc)
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
    prefix = backup_prefix(settings.cluster, namespace)
    configmaps, secrets, skipped = _collect(kube, namespace, settings.include_helm_releases)
    state.update(configmaps=len(configmaps), secrets=len(secrets), skipped=skipped)
    LOG.info("export %s: %d configmaps, %d secrets (%d skipped)", prefix, len(configmaps), len(secrets), skipped)
    digest_key = namespace_digest_key(kms, settings.digest_key_arn, cluster=settings.cluster, namespace=namespace)
    objects = manifest_objects(configmaps, secrets, digest_key)

    def manifest_for(backup_id: str, files: Mapping[str, str]) -> dict[str, Any]:
        return build_manifest(
            backup_id=backup_id,
            cluster=settings.cluster,
            namespace=namespace,
            created_at=parse_backup_id(backup_id),
            trigger=trigger,
            objects=objects,
            files=files,
        )

    first_id = backup_id_for(now)
    fingerprint = objects_fingerprint(manifest_for(first_id, {}))
    newest_id, latest = newest_backups(s3, settings.bucket, settings.cluster, namespace)
    if latest is not None:
        latest_id, latest_manifest = latest
        state["latest"] = latest_id
        age = now - parse_backup_id(latest_id)
        fresh = age < timedelta(days=settings.refresh_interval_days)
        # A newer, incomplete folder (an interrupted export) would make every default restore refuse:
        # an unchanged namespace is written again so that the newest backup is a complete one.
        interrupted = newest_id != latest_id
        if interrupted:
            LOG.info("export %s: the newest folder %s is incomplete; writing a complete backup", prefix, newest_id)
        if not force and fresh and not interrupted and objects_fingerprint(latest_manifest) == fingerprint:
            LOG.info("export %s: unchanged since %s", prefix, latest_id)
            return "unchanged", latest_id, None
        LOG.info(
            "export %s: latest complete backup %s (%s)",
            prefix,
            latest_id,
            "forced" if force else ("changed" if fresh else "older than the refresh interval"),
        )

    key_arns = resolve_key_arns(kms, settings.sops_key_arns)
    recipients = {arn: kms(kms_arn_region(arn)) for arn in key_arns}
    configmaps_bytes = to_list_yaml(configmaps).encode("utf-8")
    secrets_doc = list_document(secrets)
    secrets_bytes = encrypt_document(secrets_doc, recipients, encrypted_regex=DEFAULT_ENCRYPTED_REGEX, now=now).encode(
        "utf-8"
    )
    del secrets_doc
    hashes = {CONFIGMAPS_FILE: sha256_digest(configmaps_bytes), SECRETS_FILE: sha256_digest(secrets_bytes)}

    for attempt in range(MAX_ID_ATTEMPTS):
        backup_id = backup_id_for(now + timedelta(seconds=attempt))
        state["attempted"] = backup_id
        base = f"{prefix}{backup_id}/"
        try:
            put_new(s3, settings.bucket, base + CONFIGMAPS_FILE, configmaps_bytes, "application/yaml")
        except Exception as exc:
            if _error_code(exc) in LOST_RACE_CODES:
                LOG.info("export %s: backup id %s already taken; trying the next second", prefix, backup_id)
                continue
            raise
        put_new(s3, settings.bucket, base + SECRETS_FILE, secrets_bytes, "application/yaml")
        # Signed with the namespace's digest key: a restore trusts nothing of a manifest it cannot verify.
        manifest = manifest_bytes(sign_manifest(manifest_for(backup_id, hashes), digest_key))
        put_new(s3, settings.bucket, base + MANIFEST_FILE, manifest, "application/json")
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
    *,
    write_marker: bool = True,
) -> ExportResult:
    prefix = backup_prefix(settings.cluster, result.namespace)
    marker = {
        "checkedAt": rfc3339(now),
        "result": result.result,
        "backupId": result.backup_id,
        "latestCompleteBackupId": result.latest_complete_backup_id,
        "trigger": result.trigger,
    }
    marker_written = False
    if not write_marker:
        LOG.info("export %s: no %s for a namespace that does not exist", prefix, MARKER_FILE)
    else:
        try:
            s3.put_object(
                Bucket=settings.bucket,
                Key=prefix + MARKER_FILE,
                Body=(json.dumps(marker, sort_keys=True) + "\n").encode("utf-8"),
                ContentType="application/json",
            )
            marker_written = True
        except Exception as exc:
            LOG.error("export %s: could not write %s: %s", prefix, MARKER_FILE, safe_message(exc))
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
    detail_type = CONFIG_BACKUP_FAILED if result.result == "failed" else CONFIG_BACKUP_COMPLETED
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
        LOG.error("export %s: could not put the event: %s", prefix, safe_message(exc))
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
    message = error if isinstance(error, str) else safe_message(error)
    result = ExportResult(
        cluster=settings.cluster,
        namespace=namespace,
        trigger=trigger,
        result="failed",
        backup_id=None,
        latest_complete_backup_id=None,
        error=message,
    )
    LOG.error("export %s: failed: %s", backup_prefix(settings.cluster, namespace), message)
    return _finish(s3, events, settings, result, aware_utc(now, "now"), correlation)
