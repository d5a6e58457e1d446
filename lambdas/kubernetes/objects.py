"""Pure helpers for backing up Kubernetes ConfigMaps and Secrets.

Everything here is side-effect free (stdlib + PyYAML): cleaning objects read from the
API server, deciding what to skip, deterministic serialization, digests and the backup
manifest.

Digests
-------
* ConfigMaps: ``sha256:<hex>`` of :func:`canonical_bytes` of the cleaned object.
* Secrets: ``hmac-sha256:<hex>`` keyed with a per-export key from :func:`derive_digest_key`.
  A plain hash of a Secret would let anyone who can read the (unencrypted) manifest
  confirm guesses of short secret values offline; with the key coming from a KMS HMAC
  key, guessing requires ``kms:GenerateMac`` permission. The key is derived from a fixed
  message (cluster + namespace), so digests stay stable across backups of the same
  namespace and "unchanged" detection keeps working.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import yaml

from lambdas.common import yamlio
from lambdas.common.yamlio import SafeLoader
from lambdas.contract.layout import backup_id_for, parse_backup_id

__all__ = [
    "DIGEST_KEY_MESSAGE_PREFIX",
    "MANIFEST_FORMAT_VERSION",
    "Trigger",
    "backup_id_for",
    "build_manifest",
    "canonical_bytes",
    "clean_object",
    "cleaned_view",
    "configmap_digest",
    "derive_digest_key",
    "from_list_yaml",
    "manifest_bytes",
    "manifest_objects",
    "objects_fingerprint",
    "parse_backup_id",
    "secret_digest",
    "should_skip",
    "to_list_yaml",
    "verify_objects",
]

Trigger = Literal["schedule", "deploy", "manual"]

MANIFEST_FORMAT_VERSION = 1
DIGEST_KEY_MESSAGE_PREFIX = b"config-backup-digest-key/v1/"

_SERVER_METADATA_FIELDS = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SERVER_METADATA_SET = frozenset(_SERVER_METADATA_FIELDS)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_HEAD_KEYS = ("apiVersion", "kind", "metadata")
_SHA256_RE = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_MIN_DIGEST_KEY_BYTES = 16


# --- cleaning and skipping ---------------------------------------------------------------


def clean_object(obj: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
    """Return a copy of ``obj`` without server-managed fields, with ``apiVersion: v1`` and ``kind`` set."""
    return copy.deepcopy(cleaned_view(obj, kind=kind))


def cleaned_view(obj: Mapping[str, Any], *, kind: str) -> dict[str, Any]:
    """:func:`clean_object` without the deep copy: new dicts only where fields are dropped (the object, its
    metadata and annotations), everything below shared with ``obj``. For an ``obj`` nobody else changes."""
    result: dict[str, Any] = dict(obj)
    result["apiVersion"] = "v1"
    result["kind"] = kind
    result.pop("status", None)
    metadata = result.get("metadata")
    if isinstance(metadata, dict):
        metadata = {key: value for key, value in metadata.items() if key not in _SERVER_METADATA_SET}
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            if _LAST_APPLIED in annotations:
                annotations = {key: value for key, value in annotations.items() if key != _LAST_APPLIED}
                metadata["annotations"] = annotations
            if not annotations:
                del metadata["annotations"]
        elif annotations is None:
            metadata.pop("annotations", None)
        result["metadata"] = metadata
    return result


def should_skip(obj: Mapping[str, Any], *, kind: str, include_helm_releases: bool) -> str | None:
    """Return why ``obj`` should not be backed up, or ``None`` to back it up."""
    name = _name(obj)
    if kind == "ConfigMap" and name == "kube-root-ca.crt":
        return "ConfigMap kube-root-ca.crt is published by the cluster in every namespace"
    if kind == "Secret":
        secret_type = obj.get("type")
        if secret_type == "kubernetes.io/service-account-token":
            return f"Secret {name} is a service account token managed by the cluster"
        if secret_type == "helm.sh/release.v1" and not include_helm_releases:
            return f"Secret {name} is a Helm release record (include_helm_releases is off)"
    return None


# --- canonical form and digests ----------------------------------------------------------


def canonical_bytes(obj: Mapping[str, Any], *, kind: str | None = None) -> bytes:
    """Deterministic JSON (UTF-8) of the cleaned object: the input of every digest.

    ``kind`` defaults to ``obj["kind"]``; pass it for list items from the API server that lack it.
    """
    effective_kind = kind if kind is not None else obj.get("kind")
    if not isinstance(effective_kind, str) or not effective_kind:
        raise ValueError("canonical_bytes needs a kind: the object has none and none was given")
    cleaned = cleaned_view(obj, kind=effective_kind)
    return json.dumps(cleaned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def configmap_digest(obj: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical bytes of a ConfigMap."""
    return "sha256:" + hashlib.sha256(canonical_bytes(obj, kind="ConfigMap")).hexdigest()


def secret_digest(obj: Mapping[str, Any], key: bytes) -> str:
    """``hmac-sha256:<hex>`` of the canonical bytes of a Secret, keyed with ``key``."""
    if not key:
        raise ValueError("secret_digest needs a non-empty key")
    return "hmac-sha256:" + hmac.new(key, canonical_bytes(obj, kind="Secret"), hashlib.sha256).hexdigest()


def derive_digest_key(kms_mac: Callable[[bytes], bytes], *, cluster: str, namespace: str) -> bytes:
    """Derive the per-export HMAC key for Secret digests.

    ``kms_mac`` is called once with ``DIGEST_KEY_MESSAGE_PREFIX + cluster + b"/" + namespace``
    (in production: KMS ``GenerateMac`` with an HMAC_256 key) and its result is the key.
    The message is fixed, so the key (and the digests) are the same for every backup of the
    namespace, yet cannot be computed without access to the KMS key.
    """
    for label, value in (("cluster", cluster), ("namespace", namespace)):
        if not value or "/" in value:
            raise ValueError(f"{label} must be non-empty and contain no '/': {value!r}")
    message = DIGEST_KEY_MESSAGE_PREFIX + cluster.encode("utf-8") + b"/" + namespace.encode("utf-8")
    key = kms_mac(message)
    if len(key) < _MIN_DIGEST_KEY_BYTES:
        raise ValueError(f"MAC function returned {len(key)} bytes; need at least {_MIN_DIGEST_KEY_BYTES}")
    return key


# --- YAML List documents -----------------------------------------------------------------


def list_document(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``items`` as a deterministic ``v1 List``: items sorted by ``metadata.name`` (then kind); each
    item's keys come as ``apiVersion, kind, metadata`` and then the rest sorted; nested mappings sorted."""
    ordered_items = [_ordered_item(item) for item in sorted(items, key=lambda i: (_name(i), str(i.get("kind", ""))))]
    return {"apiVersion": "v1", "kind": "List", "items": ordered_items}


def to_list_yaml(items: Sequence[Mapping[str, Any]]) -> str:
    """Serialize ``items`` as a deterministic ``v1 List`` YAML document (see :func:`list_document`)."""
    return yamlio.dump(list_document(items))


def from_list_yaml(text: str) -> list[dict[str, Any]]:
    """Parse a ``v1 List`` YAML document and return its items."""
    try:
        document = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"expected a v1 List mapping, got {type(document).__name__}")
    if document.get("apiVersion") != "v1" or document.get("kind") != "List":
        raise ValueError(
            f"expected apiVersion: v1 and kind: List, got apiVersion={document.get('apiVersion')!r} "
            f"kind={document.get('kind')!r}"
        )
    items = document.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValueError(f"expected 'items' to be a list, got {type(items).__name__}")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"items[{index}] is a {type(item).__name__}, expected a mapping")
    return items


def _ordered_item(item: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {key: _sorted_deep(item[key]) for key in _HEAD_KEYS if key in item}
    for key in sorted(k for k in item if k not in _HEAD_KEYS):
        result[key] = _sorted_deep(item[key])
    return result


def _sorted_deep(value: Any) -> Any:
    kind = type(value)
    if kind is str:  # most values: no ABC check
        return value
    if kind is dict or isinstance(value, Mapping):
        return {key: _sorted_deep(value[key]) for key in sorted(value)}
    if kind is list or isinstance(value, list | tuple):
        return [_sorted_deep(v) for v in value]
    return value


# --- manifest ------------------------------------------------------------------------------


def build_manifest(
    *,
    backup_id: str,
    cluster: str,
    namespace: str,
    created_at: datetime,
    trigger: Trigger,
    objects: Sequence[Mapping[str, str]],
    files: Mapping[str, str],
) -> dict[str, Any]:
    """Build the manifest of one backup: the object digests (from :func:`manifest_objects`) and the
    sha256 of every stored file.

    ``files`` maps a file name to the sha256 of its stored bytes (``<hex>`` or ``sha256:<hex>``).
    """
    parse_backup_id(backup_id)
    if trigger not in ("schedule", "deploy", "manual"):
        raise ValueError(f"trigger must be schedule, deploy or manual, got {trigger!r}")
    file_digests: dict[str, str] = {}
    for filename in sorted(files):
        match = _SHA256_RE.fullmatch(files[filename])
        if match is None:
            raise ValueError(f"file {filename!r}: expected a lower-case hex sha256, got {files[filename]!r}")
        file_digests[filename] = "sha256:" + match.group(1)
    return {
        "formatVersion": MANIFEST_FORMAT_VERSION,
        "backupId": backup_id,
        "cluster": cluster,
        "namespace": namespace,
        "createdAt": _rfc3339(created_at),
        "trigger": trigger,
        "objects": [dict(entry) for entry in objects],
        "files": file_digests,
    }


def manifest_objects(
    configmaps: Sequence[Mapping[str, Any]], secrets: Sequence[Mapping[str, Any]], digest_key: bytes
) -> list[dict[str, str]]:
    """The manifest's ``objects``: kind, name and digest of every object, sorted; computed once per export
    (a Secret's digest is an HMAC under ``digest_key``). Raises ``ValueError`` for an object present twice."""
    digests = _object_digests(configmaps, secrets, digest_key)
    duplicates = [f"{kind}/{name}" for (kind, name), found in digests.items() if len(found) > 1]
    if duplicates:
        raise ValueError(f"duplicate objects: {', '.join(duplicates)}")
    return [{"kind": kind, "name": name, "digest": found[0]} for (kind, name), found in sorted(digests.items())]


# The manifest's MAC: HMAC-SHA256 under a sub-key of the namespace's digest key (derived from the KMS
# multi-Region HMAC key, so it verifies in the DR region too), over the manifest's canonical JSON
# without the ``authentication`` member. It covers the cluster, namespace, backup id, creation time,
# every object's digest (and so their number) and every file's sha256: a file or digest replayed from
# another backup, an edited manifest or one written without the key does not verify.
AUTHENTICATION = "authentication"
MANIFEST_MAC_ALGORITHM = "HMAC-SHA256"
_MANIFEST_KEY_LABEL = b"config-backup-manifest-mac/v1"


def _canonical_manifest(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != AUTHENTICATION}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_mac(manifest: Mapping[str, Any], digest_key: bytes) -> str:
    """The manifest's MAC (hex) under ``digest_key``'s manifest sub-key."""
    key = hmac.new(digest_key, _MANIFEST_KEY_LABEL, hashlib.sha256).digest()
    return hmac.new(key, _canonical_manifest(manifest), hashlib.sha256).hexdigest()


def sign_manifest(manifest: Mapping[str, Any], digest_key: bytes) -> dict[str, Any]:
    """``manifest`` with its ``authentication`` member (algorithm and MAC)."""
    return {
        **manifest,
        AUTHENTICATION: {"algorithm": MANIFEST_MAC_ALGORITHM, "mac": manifest_mac(manifest, digest_key)},
    }


def manifest_is_authentic(manifest: Mapping[str, Any], digest_key: bytes) -> bool | None:
    """True when the manifest's MAC verifies under ``digest_key``, False when it does not (or is malformed),
    None when the manifest carries no authentication at all (written before manifests were signed)."""
    auth = manifest.get(AUTHENTICATION)
    if auth is None:
        return None
    if not isinstance(auth, Mapping) or auth.get("algorithm") != MANIFEST_MAC_ALGORITHM:
        return False
    mac = auth.get("mac")
    return isinstance(mac, str) and hmac.compare_digest(mac, manifest_mac(manifest, digest_key))


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Deterministic JSON of the manifest (sorted keys, indented, UTF-8) with a trailing newline."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def objects_fingerprint(manifest: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the sorted (kind, name, digest) triples; equal iff the objects are unchanged."""
    triples = sorted((str(o["kind"]), str(o["name"]), str(o["digest"])) for o in manifest.get("objects", []))
    digest = hashlib.sha256()
    for triple in triples:
        digest.update(json.dumps(triple, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
    return "sha256:" + digest.hexdigest()


def verify_objects(
    manifest: Mapping[str, Any],
    configmaps: Sequence[Mapping[str, Any]],
    secrets: Sequence[Mapping[str, Any]],
    digest_key: bytes,
) -> list[str]:
    """Compare restored objects with the manifest; return problems (never containing object content)."""
    expected: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for entry in manifest.get("objects", []):
        ident = (str(entry.get("kind")), str(entry.get("name")))
        if ident in expected:
            problems.append(f"{ident[0]}/{ident[1]}: listed more than once in the manifest")
        expected[ident] = str(entry.get("digest"))
    actual = _object_digests(configmaps, secrets, digest_key)
    for kind, name in sorted(expected.keys() | actual.keys()):
        label = f"{kind}/{name}"
        if (kind, name) not in actual:
            problems.append(f"{label}: in the manifest but missing from the backup")
        elif (kind, name) not in expected:
            problems.append(f"{label}: in the backup but not listed in the manifest")
        else:
            digests = actual[(kind, name)]
            if len(digests) > 1:
                problems.append(f"{label}: present {len(digests)} times in the backup")
            if any(d != expected[(kind, name)] for d in digests):
                problems.append(f"{label}: digest does not match the manifest")
    return problems


def _object_digests(
    configmaps: Sequence[Mapping[str, Any]], secrets: Sequence[Mapping[str, Any]], digest_key: bytes
) -> dict[tuple[str, str], list[str]]:
    result: dict[tuple[str, str], list[str]] = {}
    for cm in configmaps:
        result.setdefault(("ConfigMap", _name(cm)), []).append(configmap_digest(cm))
    for secret in secrets:
        result.setdefault(("Secret", _name(secret)), []).append(secret_digest(secret, digest_key))
    return result


# --- backup ids and time -----------------------------------------------------------------


def _as_utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return dt.astimezone(UTC)


def _rfc3339(dt: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix, second precision."""
    return _as_utc(dt).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or not isinstance(metadata.get("name"), str):
        raise ValueError("object has no metadata.name")
    name: str = metadata["name"]
    return name
