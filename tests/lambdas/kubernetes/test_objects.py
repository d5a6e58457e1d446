from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lambdas.kubernetes import objects as k

KEY = b"k" * 32
SECRET_VALUE = "c3VwZXItc2VjcmV0LXZhbHVl"


def _raw_configmap(name: str = "app-config", **data: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "prod",
            "uid": "1234",
            "resourceVersion": "99",
            "generation": 3,
            "creationTimestamp": "2024-01-01T00:00:00Z",
            "managedFields": [{"manager": "kubectl"}],
            "selfLink": "/api/v1/x",
            "ownerReferences": [{"kind": "Deployment"}],
            "deletionTimestamp": "2024-01-02T00:00:00Z",
            "deletionGracePeriodSeconds": 30,
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "a"},
        },
        "data": data or {"key": "value"},
        "binaryData": {"bin": "AAE="},
        "immutable": True,
        "status": {"whatever": 1},
    }


def _secret(name: str = "db", value: str = SECRET_VALUE) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "prod"}, "type": "Opaque", "data": {"password": value}}


def test_clean_object_drops_exactly_server_fields_and_does_not_mutate() -> None:
    raw = _raw_configmap()
    before = copy.deepcopy(raw)
    cleaned = k.clean_object(raw, kind="ConfigMap")
    assert raw == before
    assert cleaned == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "prod", "labels": {"app": "web"}, "annotations": {"team": "a"}},
        "data": {"key": "value"},
        "binaryData": {"bin": "AAE="},
        "immutable": True,
    }
    cleaned["metadata"]["labels"]["app"] = "changed"
    assert raw["metadata"]["labels"]["app"] == "web"


def test_clean_object_drops_annotations_when_only_last_applied() -> None:
    raw = _secret()
    raw["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    raw["stringData"] = {"a": "b"}
    cleaned = k.clean_object(raw, kind="Secret")
    assert "annotations" not in cleaned["metadata"]
    assert cleaned["type"] == "Opaque" and cleaned["stringData"] == {"a": "b"}


@pytest.mark.parametrize(
    ("kind", "obj", "helm", "skipped"),
    [
        ("ConfigMap", {"metadata": {"name": "kube-root-ca.crt"}}, False, True),
        ("ConfigMap", {"metadata": {"name": "app"}}, False, False),
        ("Secret", {"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}, True, True),
        ("Secret", {"metadata": {"name": "sh.helm.release.v1.x.v1"}, "type": "helm.sh/release.v1"}, False, True),
        ("Secret", {"metadata": {"name": "sh.helm.release.v1.x.v1"}, "type": "helm.sh/release.v1"}, True, False),
        ("Secret", {"metadata": {"name": "kube-root-ca.crt"}, "type": "Opaque"}, False, False),
    ],
)
def test_should_skip(kind: str, obj: dict[str, Any], helm: bool, skipped: bool) -> None:
    reason = k.should_skip(obj, kind=kind, include_helm_releases=helm)
    assert (reason is not None) == skipped
    if reason is not None:
        assert reason.strip()


def test_configmap_digest_stable_and_content_sensitive() -> None:
    raw = _raw_configmap(a="1", b="2")
    reordered = json.loads(json.dumps(raw, sort_keys=True))
    reordered["data"] = {"b": "2", "a": "1"}
    reordered["metadata"]["resourceVersion"] = "100"  # server-managed: ignored
    digest = k.configmap_digest(raw)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert k.configmap_digest(reordered) == digest
    assert k.configmap_digest(_raw_configmap(a="1", b="3")) != digest
    expected = hashlib.sha256(k.canonical_bytes(k.clean_object(raw, kind="ConfigMap"))).hexdigest()
    assert digest == "sha256:" + expected


def test_secret_digest_keyed() -> None:
    secret = _secret()
    digest = k.secret_digest(secret, KEY)
    assert digest.startswith("hmac-sha256:")
    assert digest == k.secret_digest(copy.deepcopy(secret), KEY)
    assert digest != k.secret_digest(secret, b"x" * 32)
    plain = hashlib.sha256(k.canonical_bytes(secret, kind="Secret")).hexdigest()
    assert digest.split(":", 1)[1] != plain
    assert k.secret_digest(_secret(value="b3RoZXI="), KEY) != digest


def test_derive_digest_key_uses_fixed_message() -> None:
    calls: list[bytes] = []

    def mac(message: bytes) -> bytes:
        calls.append(message)
        return hmac.new(b"kms", message, hashlib.sha256).digest()

    key1 = k.derive_digest_key(mac, cluster="c1", namespace="prod")
    assert k.derive_digest_key(mac, cluster="c1", namespace="prod") == key1
    assert k.derive_digest_key(mac, cluster="c1", namespace="dev") != key1
    assert calls[0] == b"config-backup-digest-key/v1/c1/prod"
    with pytest.raises(ValueError, match="namespace"):
        k.derive_digest_key(mac, cluster="c1", namespace="a/b")


def _manifest(configmaps: list[dict[str, Any]], secrets: list[dict[str, Any]]) -> dict[str, Any]:
    return k.build_manifest(
        backup_id="20240131T235959Z",
        cluster="c1",
        namespace="prod",
        created_at=datetime(2024, 2, 1, 0, 59, 59, tzinfo=timezone(timedelta(hours=1))),
        trigger="schedule",
        objects=k.manifest_objects(configmaps, secrets, KEY),
        files={"secrets.sops.yaml": "a" * 64, "configmaps.yaml": "sha256:" + "b" * 64},
    )


def test_manifest_round_trip_and_verify() -> None:
    cms = [_raw_configmap("z"), _raw_configmap("a")]
    secrets = [_secret("db")]
    manifest = _manifest(cms, secrets)
    assert manifest["formatVersion"] == 1
    assert manifest["createdAt"] == "2024-01-31T23:59:59Z"
    assert [(o["kind"], o["name"]) for o in manifest["objects"]] == [
        ("ConfigMap", "a"),
        ("ConfigMap", "z"),
        ("Secret", "db"),
    ]
    assert manifest["files"] == {"configmaps.yaml": "sha256:" + "b" * 64, "secrets.sops.yaml": "sha256:" + "a" * 64}

    data = k.manifest_bytes(manifest)
    assert data.endswith(b"\n") and data == k.manifest_bytes(json.loads(data))
    loaded = json.loads(data)
    assert loaded == manifest
    assert k.verify_objects(loaded, cms, secrets, KEY) == []
    assert k.objects_fingerprint(loaded) == k.objects_fingerprint(_manifest(list(reversed(cms)), secrets))

    tampered = _secret("db", value="dGFtcGVyZWQ=")
    extra = _secret("extra", value="ZXh0cmEtc2VjcmV0")
    problems = k.verify_objects(loaded, cms[:1], [tampered, extra], KEY)
    assert problems == [
        "ConfigMap/a: in the manifest but missing from the backup",
        "Secret/db: digest does not match the manifest",
        "Secret/extra: in the backup but not listed in the manifest",
    ]
    for message in problems:
        for value in (SECRET_VALUE, "dGFtcGVyZWQ=", "ZXh0cmEtc2VjcmV0"):
            assert value not in message
    assert k.objects_fingerprint(_manifest(cms, [tampered])) != k.objects_fingerprint(loaded)


def test_build_manifest_rejects_bad_file_digest() -> None:
    with pytest.raises(ValueError, match="sha256"):
        k.build_manifest(
            backup_id="20240131T235959Z",
            cluster="c1",
            namespace="prod",
            created_at=datetime(2024, 1, 31, tzinfo=UTC),
            trigger="manual",
            objects=[],
            files={"f": "not-a-digest"},
        )


def test_list_yaml_round_trip_and_determinism() -> None:
    items = [
        k.clean_object(_raw_configmap("b", greeting="héllo\nwörld"), kind="ConfigMap"),
        k.clean_object(_raw_configmap("a", n="1", yes="true"), kind="ConfigMap"),
    ]
    text = k.to_list_yaml(items)
    assert text.startswith("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:")
    assert "héllo" in text
    parsed = k.from_list_yaml(text)
    assert parsed == [items[1], items[0]]
    shuffled = [json.loads(json.dumps(item, sort_keys=True)) for item in reversed(items)]
    assert k.to_list_yaml(shuffled) == text


@pytest.mark.parametrize(
    "text", ["apiVersion: v1\nkind: ConfigMap\n", "- a\n", "apiVersion: v1\nkind: List\nitems: 3\n", "{"]
)
def test_from_list_yaml_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        k.from_list_yaml(text)


def test_backup_id_round_trip_and_errors() -> None:
    moment = datetime(2024, 3, 5, 7, 8, 9, 123, tzinfo=timezone(timedelta(hours=-2)))
    backup_id = k.backup_id_for(moment)
    assert backup_id == "20240305T090809Z"
    assert k.parse_backup_id(backup_id) == moment.replace(microsecond=0)
    for bad in ("2024-03-05T09:08:09Z", "20241305T090809Z", "20240305T090809"):
        with pytest.raises(ValueError, match="YYYYMMDDTHHMMSSZ"):
            k.parse_backup_id(bad)
    with pytest.raises(ValueError, match="timezone-aware"):
        k.backup_id_for(datetime(2024, 1, 1))
