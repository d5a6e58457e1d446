"""Lambda entry points of the config backup: thin wrappers around :mod:`lambdas.config_backup`.

Configuration comes from environment variables; AWS and Kubernetes clients are created on first
use and reused by warm invocations. ``aws_client`` and ``kube_client`` are the seams tests replace.

``export_handler`` environment: CLUSTER_NAME, NAMESPACES (comma-separated), BUCKET, SOPS_KMS_KEYS
(comma-separated key or alias ARNs), DIGEST_KMS_KEY, REFRESH_INTERVAL_DAYS (7), INCLUDE_HELM_RELEASES
("false"), EVENT_BUS_NAME ("default"), EVENT_SOURCE ("ecommerce.config-backup").

``restore_handler`` environment: CLUSTER_NAME, BUCKET, DIGEST_KMS_KEY, ALLOWED_NAMESPACES (comma-separated).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from lambdas.aws import cached_client, clear_clients
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
from lambdas.k8s_objects import Trigger, parse_backup_id
from lambdas.kube import KubeClient, eks_connection

__all__ = [
    "ExportFailedError",
    "RestoreFailedError",
    "aws_client",
    "export_handler",
    "kube_client",
    "reset_clients",
    "restore_handler",
]

LOG = logging.getLogger(__name__)
if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # the Lambda runtime's root logger defaults to WARNING
    logging.getLogger("lambdas").setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

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


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigBackupError(f"environment variable {name} is not set")
    return value


def _env_list(name: str, default: str | None = None) -> list[str]:
    return [part.strip() for part in _env(name, default).split(",") if part.strip()]


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigBackupError(f"environment variable {name} must be true or false, got {value!r}")


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _export_settings() -> ExportSettings:
    try:
        refresh = int(_env("REFRESH_INTERVAL_DAYS", "7"))
    except ValueError:
        raise ConfigBackupError("environment variable REFRESH_INTERVAL_DAYS must be an integer") from None
    return ExportSettings(
        cluster=_env("CLUSTER_NAME"),
        bucket=_env("BUCKET"),
        sops_key_arns=tuple(_env_list("SOPS_KMS_KEYS")),
        digest_key_arn=_env("DIGEST_KMS_KEY"),
        refresh_interval_days=refresh,
        include_helm_releases=_env_bool("INCLUDE_HELM_RELEASES", False),
        event_bus_name=_env("EVENT_BUS_NAME", "default"),
        event_source=_env("EVENT_SOURCE", "ecommerce.config-backup"),
    )


def _export_request(
    event: Mapping[str, Any], configured: list[str]
) -> tuple[Trigger, list[str], dict[str, str], bool, str | None]:
    """(trigger, namespaces, correlation, force, why nothing is exported)."""
    detail_type = event.get("detail-type")
    detail = event.get("detail") if isinstance(event.get("detail"), Mapping) else {}
    assert isinstance(detail, Mapping)
    if detail_type == "Scheduled Event":
        return "schedule", configured, {}, False, None
    if detail_type == "Deployment Completed":
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


def git_mirror_hook() -> Callable[[BackupFiles], None] | None:
    """With GIT_MIRROR_URL and GIT_MIRROR_SECRET_ARN set, a hook that commits every created backup."""
    url = os.environ.get("GIT_MIRROR_URL")
    if not url:
        return None
    secret_arn = _env("GIT_MIRROR_SECRET_ARN")

    def mirror(files: BackupFiles) -> None:
        import tempfile
        from pathlib import Path

        from lambdas.git_mirror import GitMirrorSettings, credentials_from_secret, mirror_backup

        username, password = credentials_from_secret(aws_client("secretsmanager"), secret_arn)
        settings = GitMirrorSettings(remote_url=url, username=username, password=password)
        manifest = json.loads(files.files["manifest.json"])
        with tempfile.TemporaryDirectory(prefix="git-mirror-") as workdir:
            result = mirror_backup(
                settings,
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
    settings = _export_settings()
    configured = _env_list("NAMESPACES")
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
                    after_backup=git_mirror_hook(),
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
    allowed = _env_list("ALLOWED_NAMESPACES", ",")
    namespace = str(event.get("namespace") or "")
    to_namespace = str(event.get("toNamespace") or "") or None
    if not namespace:
        raise RestoreError("the event needs a 'namespace'")
    for name in (namespace, to_namespace or namespace):
        if name not in allowed:
            raise RestoreError(
                f"namespace {name!r} is not allowed for restores (allowed: {', '.join(allowed) or 'none'})"
            )
    settings = RestoreSettings(
        cluster=_env("CLUSTER_NAME"), bucket=_env("BUCKET"), digest_key_arn=_env("DIGEST_KMS_KEY")
    )
    backup_id = str(event.get("backupId") or "") or None
    report = restore_namespace(
        kube=kube_client(settings.cluster),
        s3=aws_client("s3"),
        kms=_kms,
        settings=settings,
        namespace=namespace,
        to_namespace=to_namespace,
        backup_id=backup_id,
        at=_parse_at(event.get("at")),
        only=_str_list(event.get("only"), "only"),
        restart=_str_list(event.get("restart"), "restart"),
        dry_run=_bool(event.get("dryRun", False)),
        recreate_immutable=_bool(event.get("recreateImmutable", False)),
        now=datetime.now(UTC),
    )
    result = report.to_dict()
    if not report.ok:
        LOG.error("restore report: %s", result)
        raise RestoreFailedError(f"restore of backup {report.backup_id} failed: " + "; ".join(report.failures))
    return result
