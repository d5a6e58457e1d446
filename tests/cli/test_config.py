"""backupctl config export|list|restore end to end: moto's server for AWS (through the standard
AWS_ENDPOINT_URL), the Kubernetes API test server through a kubeconfig, exit codes and refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backup_constructs.cli.main import main
from tests.conftest import ROOT
from tests.fixtures.config_world import CB_PLAIN_SECRETS, CB_PRIMARY_REGION, CbWorld


@pytest.fixture
def cli(cb_world: CbWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    kubeconfig = cb_world.server.write_kubeconfig(tmp_path / "kubeconfig")
    for name, value in {
        "AWS_ENDPOINT_URL": cb_world.aws.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": CB_PRIMARY_REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "KUBECONFIG": str(kubeconfig),
        "BACKUPCTL_DIGEST_KEY_ID": cb_world.aws.digest_key_arn,
    }.items():
        monkeypatch.setenv(name, value)

    def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _export(world: CbWorld, namespace: str, *extra: str) -> list[str]:
    return [
        "config", "export", "--bucket", world.bucket, "--cluster-name", world.cluster, "--namespace", namespace,
        "--kms-key-id", world.aws.sops_primary_arn, "--kms-key-id", world.aws.sops_dr_alias_arn,
        "--digest-key-id", world.aws.digest_key_arn, *extra,
    ]  # fmt: skip


def test_export_list_and_restore_into_another_namespace(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = cb_world.ns("prod"), cb_world.ns("drill")
    cb_seed(source)
    cb_world.server.create_namespace(target)

    code, out, err = cli(*_export(cb_world, source, "--json"), capsys=capsys)
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["result"] == "created" and result["objects"] == {"configmaps": 3, "secrets": 3}
    assert f"exporting {cb_world.cluster}/{source}" in err

    code, out, _ = cli(*_export(cb_world, source), capsys=capsys)
    assert code == 0 and f"{source}: unchanged backup {result['backupId']}" in out

    code, out, _ = cli("config", "list", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                       "--namespace", source, capsys=capsys)  # fmt: skip
    assert code == 0 and result["backupId"] in out and "manual" in out

    code, out, err = cli("config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                         "--namespace", source, "--to-namespace", target, "--json", capsys=capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] and report["counts"] == {"created": 6}
    secret = cb_world.server.get_object("Secret", target, "db-credentials")
    assert secret is not None and secret["metadata"]["labels"]["tier"] == "gold"
    for value in CB_PLAIN_SECRETS:
        assert value not in out + err


def test_dry_run_reports_and_stores_nothing(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = cb_world.ns("prod"), cb_world.ns("empty")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    assert cli(*_export(cb_world, source), capsys=capsys)[0] == 0
    code, out, _ = cli("config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                       "--namespace", source, "--to-namespace", target, "--dry-run", capsys=capsys)  # fmt: skip
    assert code == 0 and "(dry run)" in out and "would create" in out
    assert cb_world.server.get_object("ConfigMap", target, "app-config") is None


def test_unknown_backup_id_is_refused_with_exit_2_and_the_existing_backups(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = cb_world.ns("prod")
    cb_seed(source)
    assert cli(*_export(cb_world, source), capsys=capsys)[0] == 0
    code, _, err = cli("config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                       "--namespace", source, "--backup-id", "20000101T000000Z", capsys=capsys)  # fmt: skip
    assert code == 2
    assert "backup 20000101T000000Z not found" in err and "1 complete backup(s) exist" in err


def test_tampered_backup_fails_with_exit_1_before_touching_the_cluster(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = cb_world.ns("prod")
    cb_seed(source)
    assert cli(*_export(cb_world, source), capsys=capsys)[0] == 0
    (key,) = [k for k in cb_world.stored_keys() if k.endswith("configmaps.yaml")]
    body = cb_world.read(key).replace(b"production", b"producti0n")
    cb_world.s3.put_object(Bucket=cb_world.bucket, Key=key, Body=body)
    cb_world.server.clear_requests()
    code, _, err = cli("config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                       "--namespace", source, capsys=capsys)  # fmt: skip
    assert code == 1 and "refused" in err and "configmaps.yaml" in err
    assert not [r for r in cb_world.server.requests if r.method == "PATCH"]


def test_missing_digest_key_is_a_usage_error(
    cli: Any, cb_world: CbWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BACKUPCTL_DIGEST_KEY_ID")
    code, _, err = cli("config", "restore", "--bucket", cb_world.bucket, "--namespace", "x", capsys=capsys)
    assert code == 2 and "--digest-key-id" in err


def test_the_bucket_folder_defaults_to_the_kubeconfigs_cluster_name(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = cb_world.ns("prod")
    cb_seed(source)
    argv = [a for a in _export(cb_world, source) if a not in ("--cluster-name", cb_world.cluster)]
    assert cli(*argv, capsys=capsys)[0] == 0
    assert any(k.startswith(f"fake/{source}/") and k.endswith("manifest.json") for k in cb_world.stored_keys())


def test_a_failed_export_exits_1(cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    source = cb_world.ns("prod")
    cb_seed(source)
    cb_world.server.faults.add(method="GET", path_prefix=f"/api/v1/namespaces/{source}/secrets", status=403, times=None)
    code, out, _ = cli(*_export(cb_world, source), capsys=capsys)
    assert code == 1 and "failed" in out and "secrets" in out


BAD_NAMESPACES = ["..", ".", "a/b", "", "Production", "trailing-", "x" * 64, "prod ", "tab\tname"]


@pytest.mark.parametrize("bad", BAD_NAMESPACES, ids=repr)
@pytest.mark.parametrize("command", ["export", "list", "restore", "restore --to-namespace"])
def test_a_namespace_that_is_not_a_dns_label_is_refused_with_exit_2_before_any_request(
    cli: Any, cb_world: CbWorld, capsys: pytest.CaptureFixture[str], command: str, bad: str
) -> None:
    cb_world.server.clear_requests()
    before = set(cb_world.stored_keys())
    if command == "export":
        argv = _export(cb_world, bad)
    elif command == "list":
        argv = ["config", "list", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster, "--namespace", bad]
    else:
        namespace, target = ("orders", bad) if "--to-namespace" in command else (bad, "orders")
        argv = ["config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                "--namespace", namespace, "--to-namespace", target]  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert repr(bad) in err and "DNS-1123 label" in err
    assert cb_world.server.requests == [] and set(cb_world.stored_keys()) == before


def test_list_verifies_every_manifest_and_marks_incomplete_unsigned_and_forged_folders(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = cb_world.ns("listed")
    cb_seed(source)
    ids = []
    for extra in ("a", "b", "c"):
        cb_world.server.put_object(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": extra, "namespace": source}, "data": {}}
        )
        code, out, _ = cli(*_export(cb_world, source, "--json", "--force"), capsys=capsys)
        ids.append(json.loads(out)[0]["backupId"])
        cb_world.server.clear_requests()
    assert code == 0 and len(set(ids)) == 3
    unsigned_id, forged_id, newest_id = ids
    base = f"{cb_world.cluster}/{source}/"

    def rewrite(backup_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        manifest = json.loads(cb_world.read(f"{base}{backup_id}/manifest.json"))
        change(manifest)
        cb_world.s3.put_object(
            Bucket=cb_world.bucket, Key=f"{base}{backup_id}/manifest.json", Body=json.dumps(manifest)
        )

    rewrite(unsigned_id, lambda m: m.pop("authentication"))
    rewrite(forged_id, lambda m: m.update(trigger="schedule"))
    cb_world.s3.put_object(Bucket=cb_world.bucket, Key=f"{base}{newest_id}/manifest.json", Body=b'{"backupId": ')
    argv = ["config", "list", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster, "--namespace", source]
    code, out, _ = cli(*argv, "--json", capsys=capsys)
    folders = {f["backupId"]: f for f in json.loads(out)}
    assert code == 0
    assert folders[newest_id]["status"] == "incomplete"
    assert folders[forged_id]["authentication"] == "NOT AUTHENTIC"
    assert folders[unsigned_id]["authentication"] == "unsigned"
    code, out, _ = cli(*argv, capsys=capsys)
    assert f"the newest backup {newest_id} is incomplete: a default restore refuses" in out
    restore = ["config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
               "--namespace", source]  # fmt: skip
    code, _, err = cli(*restore, capsys=capsys)
    assert code == 1 and f"the newest backup {newest_id}" in err and "--backup-id" in err
    code, _, err = cli(*restore, "--backup-id", forged_id, "--dry-run", capsys=capsys)
    assert code == 1 and "manifest.json is not authentic" in err
    code, _, err = cli(*restore, "--backup-id", unsigned_id, "--dry-run", capsys=capsys)
    assert code == 1 and "--allow-unauthenticated" in err
    code, _, err = cli(*restore, "--backup-id", unsigned_id, "--dry-run", "--allow-unauthenticated", capsys=capsys)
    assert code == 0, err
    # Without the digest key nothing is claimed about authenticity.
    code, out, _ = cli(*argv, "--digest-key-id", "", "--json", capsys=capsys)
    assert {f.get("authentication") for f in json.loads(out) if f["status"] == "complete"} == {"not verified"}


@pytest.mark.parametrize("bad", ["not-an-arn", "arn:aws:kms:us-east-1:111111111111:key", "alias/x"])
def test_a_kms_key_that_is_not_an_arn_is_refused_with_exit_2_before_any_request(
    cli: Any, cb_world: CbWorld, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    cb_world.server.clear_requests()
    argv = [*_export(cb_world, "orders")]
    argv[argv.index(cb_world.aws.sops_primary_arn)] = bad
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and repr(bad) in capsys.readouterr().err
    assert cb_world.server.requests == []
    code, _, err = cli("config", "restore", "--bucket", cb_world.bucket, "--namespace", "orders",
                       "--digest-key-id", bad, capsys=capsys)  # fmt: skip
    assert code == 2 and f"--digest-key-id: got {bad!r}" in err


def test_kms_refusing_to_decrypt_is_a_failure_exit_1_not_refused_input(
    cli: Any, cb_world: CbWorld, cb_seed: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from backup_constructs.cli import config as cli_config

    source, target = cb_world.ns("nokms"), cb_world.ns("nokms-copy")
    cb_seed(source)
    cb_world.server.create_namespace(target)
    assert cli(*_export(cb_world, source), capsys=capsys)[0] == 0
    real = cli_config._kms_factory()

    class Refusing:
        def __init__(self, client: Any) -> None:
            self._client = client

        def decrypt(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Decrypt")

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

    monkeypatch.setattr(cli_config, "_kms_factory", lambda: lambda region: Refusing(real(region)))
    cb_world.server.clear_requests()
    code, _, err = cli("config", "restore", "--bucket", cb_world.bucket, "--cluster-name", cb_world.cluster,
                       "--namespace", source, "--to-namespace", target, capsys=capsys)  # fmt: skip
    assert code == 1 and "cannot decrypt secrets.sops.yaml" in err and "AccessDenied" in err
    assert cb_world.server.requests_matching("PATCH") == []


def _resolved(*argv: str) -> Any:
    from backup_constructs.cli.config import resolve_environment
    from backup_constructs.cli.main import build_parser

    args = build_parser().parse_args(["config", *argv, "--cdk-json", str(ROOT / "cdk.json")])
    resolve_environment(args)
    return args


def test_env_finds_cluster_bucket_keys_and_namespaces_as_the_stacks_name_them(synthesized: Any) -> None:
    args = _resolved("export", "--env", "production")
    assert args.cluster_name == "ecommerce-production" and args.namespaces == ["production"]
    assert args.bucket == "ecommerce-backup-production-config-111111111111-us-east-1"
    sops = "alias/ecommerce-backup-production-config-sops"
    assert args.kms_keys == [f"arn:aws:kms:{r}:111111111111:{sops}" for r in ("us-east-1", "us-west-2")]
    digest = "alias/ecommerce-backup-production-config-digest-mr"
    assert args.digest_key_id == f"arn:aws:kms:us-east-1:111111111111:{digest}"
    # The names the stacks give them.
    buckets = synthesized.resources("ecommerce-production-config-backup", "AWS::S3::Bucket").values()
    assert args.bucket in {b["Properties"].get("BucketName") for b in buckets}
    for stack in ("ecommerce-production-config-backup", "ecommerce-production-backup-dr"):
        aliases = {a["Properties"]["AliasName"] for a in synthesized.resources(stack, "AWS::KMS::Alias").values()}
        assert sops in aliases, stack
    aliases = {
        a["Properties"]["AliasName"]
        for a in synthesized.resources("ecommerce-production-config-backup", "AWS::KMS::Alias").values()
    }
    assert digest in aliases
    staging = _resolved("restore", "--env", "staging", "--namespace", "staging")
    assert staging.digest_key_id == "arn:aws:kms:us-east-1:111111111111:alias/ecommerce-backup-staging-config-digest"


def test_explicit_flags_override_what_env_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKUPCTL_DIGEST_KEY_ID", raising=False)
    args = _resolved("list", "--env", "production", "--namespace", "production", "--bucket", "my-bucket")
    assert args.bucket == "my-bucket" and args.cluster_name == "ecommerce-production"


def test_without_env_the_bucket_and_keys_are_required(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli("config", "list", "--namespace", "orders", capsys=capsys)
    assert code == 2 and "--bucket: not given" in err and "--env" in err
    code, _, err = cli("config", "export", "--bucket", "b", "--namespace", "orders", capsys=capsys)
    assert code == 2 and "--kms-key-id: not given" in err
