"""Lambda entry points of the configuration backup: thin wrappers around :mod:`.export` and :mod:`.restore`.

Settings come from the environment (:class:`~lambdas.contract.settings.ExportSettings`,
:class:`~lambdas.contract.settings.RestoreSettings`); AWS and Kubernetes clients are created on first use
and reused by warm invocations. ``aws_client`` and ``kube_client`` are the seams tests replace.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from lambdas.common.aws import cached_client, clear_clients
from lambdas.common.logs import configure_logging
from lambdas.config_backup import (
    BackupFiles,
    ConfigBackupError,
    ExportResult,
    ExportSettings,
    RestoreError,
    RestoreSettings,
    export_namespace,
    record_failure,
    restore_namespace,
)
from lambdas.contract.events import DEPLOY_COMPLETED, SCHEDULED_EVENT
from lambdas.contract.layout import MANIFEST_FILE, parse_backup_id
from lambdas.kubernetes.client import KubeClient, eks_connection
from lambdas.kubernetes.objects import Trigger

__all__ = [
    "ExportFailedError",
    "RestoreFailedError",
    "aws_client",
    "export_handler",
    "kube_client",
    "reset_clients",
    "restore_handler",
]

# What the bundler installs next to the package for these handlers; the git mirror's only with it on.
BUNDLE_DEPENDENCIES: Final = {
    "export_handler": ("PyYAML", "cryptography", "cffi", "pycparser"),
    "restore_handler": ("PyYAML", "cryptography", "cffi", "pycparser"),
}
OPTIONAL_DEPENDENCIES: Final = {"git-mirror": ("dulwich",)}

LOG = logging.getLogger(__name__)
configure_logging()

_LOCK = threading.Lock()
_KUBE: dict[str, KubeClient] = {}


class ExportFailedError(ConfigBackupError):
    """At least one namespace failed (raised after its Failed event was put) so that Lambda retries."""


class RestoreFailedError(ConfigBackupError):
    """The restore ran but some object or restart failed (see the logged report)."""


def aws_client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client (created on first use); the seam tests replace."""
    return cached_client(service, region)


def kube_client(cluster_name: str) -> KubeClient:
    """A cached Kubernetes client for the EKS cluster (token refreshed by the connection)."""
    with _LOCK:
        client = _KUBE.get(cluster_name)
    if client is None:
        client = KubeClient(eks_connection(cluster_name, aws_client("eks"), aws_client("sts")))
        with _LOCK:
            _KUBE[cluster_name] = client
    return client


def reset_clients() -> None:
    """Forget cached clients (tests; credentials rotation)."""
    clear_clients()
    with _LOCK:
        for client in _KUBE.values():
            client.close()
        _KUBE.clear()


def _kms(region: str) -> Any:
    return aws_client("kms", region)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _export_request(
    event: Mapping[str, Any], configured: list[str]
) -> tuple[Trigger, list[str], dict[str, str], bool, str | None]:
    """(trigger, namespaces, correlation, force, why nothing is exported)."""
    detail_type = event.get("detail-type")
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    if detail_type == SCHEDULED_EVENT:
        return "schedule", configured, {}, False, None
    if detail_type == DEPLOY_COMPLETED:
        correlation = {"deployId": str(detail["deployId"])} if detail.get("deployId") else {}
        force = _bool(detail.get("force", False))
        wanted = detail.get("namespace")
        if wanted:
            if wanted not in configured:
                return "deploy", [], correlation, force, f"namespace {wanted!r} is not configured for backups"
            return "deploy", [str(wanted)], correlation, force, None
        return "deploy", configured, correlation, force, None
    namespaces = configured
    wanted = event.get("namespace")
    if wanted:
        if wanted not in configured:
            return "manual", [], {}, False, f"namespace {wanted!r} is not configured for backups"
        namespaces = [str(wanted)]
    return "manual", namespaces, {}, _bool(event.get("force", False)), None


def git_mirror_hook(settings: ExportSettings) -> Callable[[BackupFiles], None] | None:
    """With a git mirror configured, a hook that commits every created backup."""
    url, secret_arn = settings.git_mirror_url, settings.git_mirror_secret_arn
    if not url or not secret_arn:
        return None

    def mirror(files: BackupFiles) -> None:
        import tempfile
        from pathlib import Path

        from lambdas.config_backup.git_mirror import GitMirrorSettings, credentials_from_secret, mirror_backup

        username, password = credentials_from_secret(aws_client("secretsmanager"), secret_arn)
        mirror_settings = GitMirrorSettings(remote_url=url, username=username, password=password)
        manifest = json.loads(files.files[MANIFEST_FILE])
        with tempfile.TemporaryDirectory(prefix="git-mirror-") as workdir:
            result = mirror_backup(
                mirror_settings,
                files=files.files,
                backup_id=files.backup_id,
                trigger=str(manifest.get("trigger", "")),
                cluster=files.cluster,
                namespace=files.namespace,
                workdir=Path(workdir),
            )
        LOG.info("git mirror of %s: %s %s", files.backup_id, result.status, result.commit or "")

    return mirror


def export_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Export every configured namespace (or the one a deploy event names); raise if any failed."""
    settings = ExportSettings.from_env(os.environ)
    configured = list(settings.namespaces)
    trigger, namespaces, correlation, force, ignored = _export_request(event or {}, configured)
    if ignored:
        LOG.warning("export: nothing to do: %s", ignored)
        return {"cluster": settings.cluster, "trigger": trigger, "ignored": ignored, "results": []}
    s3, events = aws_client("s3"), aws_client("events")
    results: list[ExportResult] = []
    try:
        kube = kube_client(settings.cluster)
    except Exception as exc:
        for namespace in namespaces:
            results.append(
                record_failure(
                    s3=s3,
                    events=events,
                    settings=settings,
                    namespace=namespace,
                    trigger=trigger,
                    now=datetime.now(UTC),
                    error=ConfigBackupError(f"cannot connect to cluster {settings.cluster}: {type(exc).__name__}"),
                    correlation=correlation,
                )
            )
    else:
        for namespace in namespaces:
            results.append(
                export_namespace(
                    kube=kube,
                    s3=s3,
                    kms=_kms,
                    events=events,
                    settings=settings,
                    namespace=namespace,
                    trigger=trigger,
                    now=datetime.now(UTC),
                    force=force,
                    correlation=correlation,
                    after_backup=git_mirror_hook(settings),
                )
            )
    summary = {"cluster": settings.cluster, "trigger": trigger, "results": [r.to_dict() for r in results]}
    bad = [r.namespace for r in results if not r.ok or not r.event_put]
    if bad:
        raise ExportFailedError(f"config backup of cluster {settings.cluster} failed for: {', '.join(bad)}")
    return summary


def _parse_at(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    try:
        return parse_backup_id(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RestoreError(f"'at' must be an ISO 8601 time or a backup id, got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _str_list(value: Any, name: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RestoreError(f"{name!r} must be a list of strings")


def restore_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Restore a backup as asked by ``event``; returns the report, raises if anything failed."""
    settings = RestoreSettings.from_env(os.environ)
    allowed = list(settings.allowed_namespaces)
    namespace = str(event.get("namespace") or "")
    to_namespace = str(event.get("toNamespace") or "") or None
    if not namespace:
        raise RestoreError("the event needs a 'namespace'")
    sources = list(settings.source_namespaces) or allowed
    if namespace not in sources:
        raise RestoreError(
            f"namespace {namespace!r} is not allowed as a restore's source (allowed: {', '.join(sources) or 'none'})"
        )
    target = to_namespace or namespace
    if target not in allowed:
        raise RestoreError(
            f"namespace {target!r} is not allowed for restores (allowed: {', '.join(allowed) or 'none'})"
        )
    backup_id = str(event.get("backupId") or "") or None
    report = restore_namespace(
        kube=kube_client(settings.kube_cluster),
        s3=aws_client("s3"),
        kms=_kms,
        settings=settings,
        namespace=namespace,
        to_namespace=to_namespace,
        backup_id=backup_id,
        at=_parse_at(event.get("at")),
        only=_str_list(event.get("only"), "only"),
        # The guide's restore ends with the rollout restarts: the configured ones unless the event names others.
        restart=_str_list(event.get("restart"), "restart") or list(settings.restart_deployments),
        dry_run=_bool(event.get("dryRun", False)),
        recreate_immutable=_bool(event.get("recreateImmutable", False)),
        allow_unauthenticated=_bool(event.get("allowUnauthenticated", False)),
        now=datetime.now(UTC),
    )
    result = report.to_dict()
    if not report.ok:
        LOG.error("restore report: %s", result)
        raise RestoreFailedError(f"restore of backup {report.backup_id} failed: " + "; ".join(report.failures))
    return result
