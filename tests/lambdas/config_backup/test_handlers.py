"""Tests of the Lambda entry points in `lambdas.config_backup.handlers` (clients pointed at moto and the fake
API server)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lambdas.config_backup import RestoreError, handlers, list_backups
from lambdas.contract.settings import SettingsError
from tests.fixtures.config_world import CbWorld

Seed = Callable[[str], list[dict[str, Any]]]

SCHEDULED = {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


@pytest.fixture
def cb_env(cb_world: CbWorld, monkeypatch: pytest.MonkeyPatch) -> CbWorld:
    """Environment of both handlers and the client seams pointed at this test's world."""

    def aws_client(service: str, region: str | None = None) -> Any:
        return cb_world.aws.client(service, region or "us-east-1")

    def kube_client(cluster_name: str) -> Any:
        assert cluster_name == cb_world.cluster
        return cb_world.kube

    monkeypatch.setattr(handlers, "aws_client", aws_client)
    monkeypatch.setattr(handlers, "kube_client", kube_client)
    env = {
        "CLUSTER_NAME": cb_world.cluster,
        "NAMESPACES": f"{cb_world.ns('orders')}, {cb_world.ns('payments')}",
        "BUCKET": cb_world.bucket,
        "SOPS_KMS_KEYS": f"{cb_world.aws.sops_primary_arn},{cb_world.aws.sops_dr_alias_arn}",
        "DIGEST_KMS_KEY": cb_world.aws.digest_key_arn,
        "REFRESH_INTERVAL_DAYS": "7",
        "INCLUDE_HELM_RELEASES": "false",
        "EVENT_BUS_NAME": cb_world.bus,
        "EVENT_SOURCE": "ecommerce.config-backup",
        "ALLOWED_NAMESPACES": f"{cb_world.ns('orders')},{cb_world.ns('orders-copy')}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return cb_world


def test_scheduled_and_deploy_exports(cb_env: CbWorld, cb_seed: Seed) -> None:
    orders, payments = cb_env.ns("orders"), cb_env.ns("payments")
    cb_seed(orders)
    cb_seed(payments)

    summary = handlers.export_handler(SCHEDULED, None)
    assert summary["trigger"] == "schedule"
    assert [(r["namespace"], r["result"], r["trigger"]) for r in summary["results"]] == [
        (orders, "created", "schedule"),
        (payments, "created", "schedule"),
    ]
    assert all(r["objects"] == {"configmaps": 3, "secrets": 3} for r in summary["results"])

    deploy: dict[str, Any] = {
        "detail-type": "Deployment Completed",
        "source": "ecommerce.deploy",
        "detail": {"namespace": orders, "deployId": "deploy-4711"},
    }
    summary = handlers.export_handler(deploy, None)
    assert [(r["namespace"], r["result"]) for r in summary["results"]] == [(orders, "unchanged")]
    forced = {**deploy, "detail": {**deploy["detail"], "deployId": "deploy-4712", "force": True}}
    assert [r["result"] for r in handlers.export_handler(forced, None)["results"]] == ["created"]

    events = cb_env.events()
    assert [(e["detail"]["namespace"], e["detail"]["trigger"], e["detail"].get("deployId")) for e in events] == [
        (orders, "schedule", None),
        (payments, "schedule", None),
        (orders, "deploy", "deploy-4711"),
        (orders, "deploy", "deploy-4712"),
    ]
    assert all(e["detail-type"] == "Config Backup Completed" for e in events)
    assert len(list_backups(cb_env.s3, cb_env.bucket, cb_env.cluster, orders)) == 2

    # A deploy of a namespace that is not configured exports nothing.
    other = {**deploy, "detail": {"namespace": "elsewhere", "deployId": "d-9"}}
    assert handlers.export_handler(other, None)["results"] == []


def test_export_handler_raises_after_putting_failed_events(
    cb_env: CbWorld, cb_seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = cb_env.ns("orders")
    cb_seed(orders)
    monkeypatch.setenv("NAMESPACES", orders)
    cb_env.server.faults.add(method="GET", path_prefix=f"/api/v1/namespaces/{orders}/secrets", status=403)
    with pytest.raises(handlers.ExportFailedError, match=orders):
        handlers.export_handler({"detail-type": "Deployment Completed", "detail": {"deployId": "d-1"}}, None)
    [event] = cb_env.events()
    assert event["detail-type"] == "Config Backup Failed"
    assert event["detail"]["deployId"] == "d-1" and "forbidden" in event["detail"]["error"]


def test_restore_handler(cb_env: CbWorld, cb_seed: Seed) -> None:
    orders, copy = cb_env.ns("orders"), cb_env.ns("orders-copy")
    cb_seed(orders)
    cb_env.server.create_namespace(copy)
    assert handlers.export_handler({"namespace": orders}, None)["results"][0]["trigger"] == "manual"

    with pytest.raises(RestoreError, match="not allowed"):
        handlers.restore_handler({"namespace": cb_env.ns("payments")}, None)
    with pytest.raises(RestoreError, match="not allowed"):
        handlers.restore_handler({"namespace": orders, "toNamespace": "kube-system"}, None)
    assert cb_env.server.requests_matching("PATCH") == []

    report = handlers.restore_handler(
        {"namespace": orders, "toNamespace": copy, "only": ["Secret/api-token"], "dryRun": True}, None
    )
    assert report["dryRun"] is True and report["counts"] == {"would create": 1}
    report = handlers.restore_handler({"namespace": orders, "toNamespace": copy, "at": "2999-01-01T00:00:00Z"}, None)
    assert report["ok"] and report["counts"] == {"created": 6}

    cb_env.server.put_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "assets", "namespace": copy}, "data": {}}
    )
    cb_env.server.faults.add(method="PATCH", path_prefix=f"/api/v1/namespaces/{copy}/configmaps", status=403)
    with pytest.raises(handlers.RestoreFailedError, match=r"ConfigMap/assets: PATCH .* forbidden"):
        handlers.restore_handler({"namespace": orders, "toNamespace": copy, "only": "ConfigMap/assets"}, None)
    report = handlers.restore_handler({"namespace": orders, "toNamespace": copy, "only": "ConfigMap/assets"}, None)
    assert report["objects"] == [{"kind": "ConfigMap", "name": "assets", "outcome": "updated", "reason": ""}]


def test_a_drill_only_restore_reads_the_source_namespaces_and_writes_the_drill_namespace_only(
    cb_env: CbWorld, cb_seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders, drill = cb_env.ns("orders"), cb_env.ns("orders-copy")
    cb_seed(orders)
    cb_env.server.create_namespace(drill)
    handlers.export_handler({"namespace": orders}, None)
    # As the DR drill's restore function is deployed: the source's backups in, the drill namespace out.
    monkeypatch.setenv("ALLOWED_NAMESPACES", drill)
    monkeypatch.setenv("SOURCE_NAMESPACES", orders)
    with pytest.raises(RestoreError, match=rf"namespace '{orders}' is not allowed for restores \(allowed: {drill}\)"):
        handlers.restore_handler({"namespace": orders}, None)  # into the source namespace itself
    with pytest.raises(RestoreError, match=rf"'{drill}' is not allowed as a restore's source"):
        handlers.restore_handler({"namespace": drill, "toNamespace": drill}, None)
    assert cb_env.server.requests_matching("PATCH") == []
    report = handlers.restore_handler({"namespace": orders, "toNamespace": drill}, None)
    assert report["ok"] and report["counts"] == {"created": 6}
    written = {r.path.split("/")[4] for r in cb_env.server.requests_matching("PATCH")}
    assert written == {drill}


def test_missing_configuration_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CLUSTER_NAME", "NAMESPACES", "BUCKET", "SOPS_KMS_KEYS", "DIGEST_KMS_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="CLUSTER_NAME is not set"):
        handlers.export_handler(SCHEDULED, None)


def test_export_handler_mirrors_created_backups_into_git(
    cb_env: CbWorld, cb_seed: Seed, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import json
    import os
    import subprocess

    git_env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    remote = tmp_path / "config-backups.git"
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], check=True, env=git_env)
    secret = cb_env.aws.client("secretsmanager").create_secret(
        Name=f"git-{cb_env.suffix}", SecretString=json.dumps({"username": "backup", "password": "t0ken"})
    )
    monkeypatch.setenv("GIT_MIRROR_URL", str(remote))
    monkeypatch.setenv("GIT_MIRROR_SECRET_ARN", secret["ARN"])
    monkeypatch.setenv("NAMESPACES", cb_env.ns("orders"))
    cb_seed(cb_env.ns("orders"))

    summary = handlers.export_handler(SCHEDULED, None)
    (result,) = summary["results"]
    assert result["result"] == "created" and result["afterBackupError"] is None

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True, env=git_env)
    folder = clone / cb_env.cluster / cb_env.ns("orders")
    assert sorted(p.name for p in folder.iterdir()) == ["configmaps.yaml", "manifest.json", "secrets.sops.yaml"]
    stored = f"{cb_env.cluster}/{cb_env.ns('orders')}/{result['backupId']}/secrets.sops.yaml"
    assert (folder / "secrets.sops.yaml").read_bytes() == cb_env.read(stored)
    log = subprocess.run(["git", "-C", str(clone), "log", "--format=%s"], capture_output=True, text=True, env=git_env)
    assert result["backupId"] in log.stdout and "(schedule)" in log.stdout

    again = handlers.export_handler(SCHEDULED, None)
    assert again["results"][0]["result"] == "unchanged"
    count = subprocess.run(["git", "-C", str(remote), "rev-list", "--count", "main"], capture_output=True, text=True)
    assert count.stdout.strip() == "1"


@pytest.mark.parametrize(("value", "expected"), [("16", 16), ("1", 1), (None, 8)])
def test_restore_concurrency_comes_from_the_environment(value: str | None, expected: int) -> None:
    from lambdas.contract.settings import RestoreSettings

    environ = {"CLUSTER_NAME": "c", "BUCKET": "b", "DIGEST_KMS_KEY": "arn:aws:kms:us-east-1:111111111111:key/k"}
    if value is not None:
        environ["RESTORE_CONCURRENCY"] = value
    assert RestoreSettings.from_env(environ).max_workers == expected


@pytest.mark.parametrize("value", ["0", "65", "eight"])
def test_restore_concurrency_out_of_range_is_refused(value: str) -> None:
    from lambdas.contract.settings import RestoreSettings

    environ = {"CLUSTER_NAME": "c", "BUCKET": "b", "DIGEST_KMS_KEY": "arn:aws:kms:us-east-1:111111111111:key/k"}
    with pytest.raises(SettingsError, match="RESTORE_CONCURRENCY"):
        RestoreSettings.from_env({**environ, "RESTORE_CONCURRENCY": value})
