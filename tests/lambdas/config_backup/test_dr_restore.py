"""The DR region's configuration restore, with the primary region gone: backups exported with the
multi-Region digest key, replicated into the DR bucket, restored by the restore handler configured as the
DR stack configures it (the replica bucket, the digest key's replica by alias, the DR cluster) through
DR-region clients only; and older backups, digested with the previous single-Region key, still verify."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from lambdas.config_backup import BackupIntegrityError, export_namespace, handlers, restore_namespace
from lambdas.contract.settings import RestoreSettings
from tests.fixtures.config_world import CB_DR_REGION, CB_PRIMARY_REGION, CB_SKIPPED, CbWorld
from tests.support.moto_aws import create_bucket_like_template

Seed = Callable[[str], list[dict[str, Any]]]
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def region_key(cb_world: CbWorld) -> Iterator[tuple[str, str]]:
    """A multi-Region HMAC key and its replica in the DR region under an alias: (primary ARN, DR alias ARN)."""
    primary = cb_world.aws.kms(CB_PRIMARY_REGION)
    key = primary.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC", MultiRegion=True)["KeyMetadata"]
    primary.replicate_key(KeyId=key["KeyId"], ReplicaRegion=CB_DR_REGION)
    alias = f"alias/config-digest-mr-{cb_world.suffix}"
    cb_world.aws.kms(CB_DR_REGION).create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    yield key["Arn"], f"arn:aws:kms:{CB_DR_REGION}:{key['Arn'].split(':')[4]}:{alias}"


def _replicate(cb_world: CbWorld, destination: str) -> None:
    """What S3 replication does: every object of the primary bucket into the DR bucket."""
    source, target = cb_world.s3, cb_world.aws.client("s3", CB_DR_REGION)
    for key in cb_world.stored_keys():
        target.put_object(
            Bucket=destination, Key=key, Body=source.get_object(Bucket=cb_world.bucket, Key=key)["Body"].read()
        )


def _dr_bucket(cb_world: CbWorld) -> str:
    name = f"{cb_world.bucket}-dr"
    create_bucket_like_template(cb_world.aws.client("s3", CB_DR_REGION), cb_world.aws.kms(CB_DR_REGION), name)
    return name


def test_the_dr_restore_handler_restores_replicated_backups_into_the_dr_cluster_with_dr_clients_only(
    cb_world: CbWorld, cb_seed: Seed, region_key: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary_key, dr_alias = region_key
    orders = cb_world.ns("orders")
    expected = cb_seed(orders)
    exported = export_namespace(
        kube=cb_world.kube,
        s3=cb_world.s3,
        kms=cb_world.aws.kms,
        events=cb_world.events_client,
        settings=cb_world.export_settings(digest_key_arn=primary_key),
        namespace=orders,
        trigger="manual",
        now=NOW,
    )
    assert exported.result == "created"
    dr_bucket = _dr_bucket(cb_world)
    _replicate(cb_world, dr_bucket)
    # The primary bucket is gone with its region: only the replica can be what the restore reads.
    for key in cb_world.stored_keys():
        cb_world.s3.delete_object(Bucket=cb_world.bucket, Key=key)
    target = cb_world.ns("orders-dr")
    cb_world.server.create_namespace(target)
    regions: list[tuple[str, str | None]] = []

    def aws_client(service: str, region: str | None = None) -> Any:
        regions.append((service, region))
        return cb_world.aws.client(service, region or CB_DR_REGION)

    clusters: list[str] = []

    def kube_client(cluster_name: str) -> Any:
        clusters.append(cluster_name)
        return cb_world.kube

    monkeypatch.setattr(handlers, "aws_client", aws_client)
    monkeypatch.setattr(handlers, "kube_client", kube_client)
    env = RestoreSettings.env(
        cluster=cb_world.cluster,
        target_cluster="dr-cluster",
        bucket=dr_bucket,
        digest_key_arn=dr_alias,
        allowed_namespaces=(orders, target),
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report = handlers.restore_handler({"namespace": orders, "toNamespace": target}, None)
    assert report["backupId"] == exported.backup_id and report["ok"] is True
    assert clusters == ["dr-cluster"]
    # S3 with the runtime's default region (the DR region in Lambda), KMS only in the DR region.
    assert {region for service, region in regions if service == "kms"} == {CB_DR_REGION}
    assert all(region in (None, CB_DR_REGION) for _, region in regions)
    restored = {
        (kind, o["metadata"]["name"])
        for kind in ("ConfigMap", "Secret")
        for o in cb_world.server.list_objects(kind, target)
    }
    wanted = {(o["kind"], o["metadata"]["name"]) for o in expected} - CB_SKIPPED
    assert wanted and wanted <= restored


def test_a_backup_digested_with_the_previous_key_still_verifies_and_a_tampered_one_does_not(
    cb_world: CbWorld, cb_seed: Seed, region_key: tuple[str, str]
) -> None:
    primary_key, _ = region_key
    orders = cb_world.ns("orders")
    cb_seed(orders)
    old = export_namespace(
        kube=cb_world.kube,
        s3=cb_world.s3,
        kms=cb_world.aws.kms,
        events=cb_world.events_client,
        settings=cb_world.export_settings(),  # the single-Region key of before
        namespace=orders,
        trigger="manual",
        now=NOW,
    )
    current_only = RestoreSettings(cluster=cb_world.cluster, bucket=cb_world.bucket, digest_key_arn=primary_key)
    with pytest.raises(BackupIntegrityError, match=r"manifest\.json is not authentic: its MAC does not verify"):
        restore_namespace(
            kube=cb_world.kube, s3=cb_world.s3, kms=cb_world.aws.kms, settings=current_only, namespace=orders,
            backup_id=old.backup_id, dry_run=True, now=NOW,
        )  # fmt: skip
    with_previous = RestoreSettings(
        cluster=cb_world.cluster,
        bucket=cb_world.bucket,
        digest_key_arn=primary_key,
        previous_digest_key_arns=(cb_world.aws.digest_key_arn,),
    )
    report = restore_namespace(
        kube=cb_world.kube, s3=cb_world.s3, kms=cb_world.aws.kms, settings=with_previous, namespace=orders,
        backup_id=old.backup_id, dry_run=True, now=NOW,
    )  # fmt: skip
    assert report.ok and report.backup_id == old.backup_id
    # Tampered: a Secret's digest in the manifest replaced. The manifest's MAC verifies under neither key.
    manifest_key = f"{cb_world.cluster}/{orders}/{old.backup_id}/manifest.json"
    manifest = json.loads(cb_world.read(manifest_key))
    secret = next(entry for entry in manifest["objects"] if entry["kind"] == "Secret")
    secret["digest"] = "hmac-sha256:" + "0" * 64
    cb_world.s3.put_object(Bucket=cb_world.bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    with pytest.raises(BackupIntegrityError, match=r"manifest\.json is not authentic"):
        restore_namespace(
            kube=cb_world.kube, s3=cb_world.s3, kms=cb_world.aws.kms, settings=with_previous, namespace=orders,
            backup_id=old.backup_id, dry_run=True, now=NOW,
        )  # fmt: skip
