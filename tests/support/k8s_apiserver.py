"""An in-process fake Kubernetes API server for the test suite.

``FakeKubeApiServer`` speaks enough of the real Kubernetes REST API for the real
``kubectl`` (and lightkube, urllib, ...) to ``get``, paginate, ``apply --server-side``,
``create``/``replace``/``label`` and ``rollout restart``/``rollout status`` against it:

* discovery (``/version``, ``/api``, ``/apis``, per group-version resource lists,
  aggregated discovery v2) and the minimum of OpenAPI kubectl's validation needs: an
  empty v2 protobuf document (for ``kind: List`` files) and a skeletal v3 document
  declaring ``fieldValidation`` on PATCH (for single objects);
* ConfigMaps, Secrets, Deployments (namespaced) and Namespaces (cluster-scoped)
  kept in memory with server-assigned metadata (uid, a global monotonically
  increasing resourceVersion, creationTimestamp, generation, managedFields);
* LIST with ``limit``/``continue``, label and field selectors, Table output;
* GET, POST, PUT, PATCH (server-side apply, JSON merge patch, strategic merge
  patch) with ``dryRun=All``, resourceVersion preconditions, field-manager
  conflicts and immutable ConfigMaps/Secrets;
* bearer-token authentication, a fault injector and a request log;
* protobuf request bodies for Namespaces/ConfigMaps/Secrets (``kubectl create namespace``
  etc. use typed clients); responses are always JSON. No watch (405); DELETE only for single namespaced objects.

Errors are ``Status`` objects shaped like the real API server's. HTTPS (self-signed) or plain HTTP on
127.0.0.1 with an ephemeral port; stdlib plus PyYAML (and ``cryptography`` or the ``openssl`` CLI to
mint the throwaway TLS certificate).
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import ipaddress
import json
import re
import secrets
import shutil
import ssl
import subprocess
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlsplit

import yaml

__all__ = [
    "CONFIGMAP",
    "DEPLOYMENT",
    "NAMESPACE",
    "RESOURCE_TYPES",
    "SECRET",
    "ApiError",
    "FakeKubeApiServer",
    "Fault",
    "FaultInjector",
    "RequestRecord",
    "ResourceType",
    "resource_type_for",
]

JSON = dict[str, Any]
FieldPath = tuple[str, ...]

_MISSING: Final = object()

APPLY_PATCH: Final = "application/apply-patch+yaml"
MERGE_PATCH: Final = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH: Final = "application/strategic-merge-patch+json"
JSON_PATCH: Final = "application/json-patch+json"
AGGREGATED_DISCOVERY: Final = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# The media type kube-openapi answers with (the "@v1.0" form clients ask for is not a valid MIME token).
OPENAPI_V2_PROTOBUF: Final = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
MAX_DATA_BYTES: Final = 1024 * 1024
_HEALTH_PATHS: Final = frozenset({"/healthz", "/livez", "/readyz"})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Resource types
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourceType:
    """One served REST resource."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    known_fields: frozenset[str] = frozenset()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version_path(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified(self) -> str:
        """``configmaps`` or ``deployments.apps``, as in real error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        parts = [self.group_version_path]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
        return "/".join(parts)


_COMMON_FIELDS = frozenset({"apiVersion", "kind", "metadata"})
NAMESPACE: Final = ResourceType(
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    False,
    ("ns",),
    known_fields=_COMMON_FIELDS | {"spec", "status"},
)
CONFIGMAP: Final = ResourceType(
    "",
    "v1",
    "ConfigMap",
    "configmaps",
    "configmap",
    True,
    ("cm",),
    known_fields=_COMMON_FIELDS | {"data", "binaryData", "immutable"},
)
SECRET: Final = ResourceType(
    "",
    "v1",
    "Secret",
    "secrets",
    "secret",
    True,
    known_fields=_COMMON_FIELDS | {"data", "stringData", "type", "immutable"},
)
DEPLOYMENT: Final = ResourceType(
    "apps",
    "v1",
    "Deployment",
    "deployments",
    "deployment",
    True,
    ("deploy",),
    ("all",),
    known_fields=_COMMON_FIELDS | {"spec", "status"},
)
RESOURCE_TYPES: Final = (NAMESPACE, CONFIGMAP, SECRET, DEPLOYMENT)
SERVED_VERBS: Final = ("create", "get", "list", "patch", "update")
_KNOWN_METADATA: Final = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def resource_type_for(kind_or_resource: str) -> ResourceType:
    """Look a served type up by kind, plural, singular or short name (any case)."""
    key = kind_or_resource.lower()
    for rt in RESOURCE_TYPES:
        if key in (rt.kind.lower(), rt.plural, rt.singular, *rt.short_names):
            return rt
    raise KeyError(f"FakeKubeApiServer does not serve {kind_or_resource!r}")


def _type_for_object(obj: Mapping[str, Any]) -> ResourceType:
    for rt in RESOURCE_TYPES:
        if obj.get("kind") == rt.kind and obj.get("apiVersion") == rt.api_version:
            return rt
    raise KeyError(f"unsupported object {obj.get('apiVersion')}/{obj.get('kind')}")


# --------------------------------------------------------------------------
# Status errors
# --------------------------------------------------------------------------


def status_object(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    """A ``Status`` body as the real API server returns it for failures."""
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """An error answered as a ``Status`` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: JSON | None = None,
        headers: Mapping[str, str] | None = None,
        metadata: JSON | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = dict(headers or {})
        self.metadata = metadata

    def status(self) -> JSON:
        body = status_object(self.code, self.reason, self.message, self.details)
        if self.metadata:
            body["metadata"] = dict(self.metadata)
        return body


def _details(rt: ResourceType | None, name: str | None, *, kind: bool = False) -> JSON:
    details: JSON = {}
    if name:
        details["name"] = name
    if rt is not None:
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.kind if kind else rt.plural
    return details


def _bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.qualified} "{name}" not found', _details(rt, name))


def _conflict(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.qualified} "{name}": the object has been'
        " modified; please apply your changes to the latest version and try again",
        _details(rt, name),
    )


_CAUSE_TEXT: Final = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueTooLong": "Too long",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueNotSupported": "Unsupported value",
}


def _invalid(rt: ResourceType, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; each cause is ``(field, reason, detail)``, e.g.
    ``("data", "FieldValueForbidden", "field is immutable when `immutable` is set")``."""
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return _invalid_kind(kind, rt.group, rt.kind, name, causes)


def _invalid_kind(
    qualified_kind: str, group: str, kind: str, name: str, causes: list[tuple[str, str, str]]
) -> ApiError:
    texts = [f"{_CAUSE_TEXT.get(reason, reason)}: {detail}" for _, reason, detail in causes]
    rendered = [f"{fld}: {text}" for (fld, _, _), text in zip(causes, texts, strict=True)]
    summary = rendered[0] if len(rendered) == 1 else "[" + ", ".join(rendered) + "]"
    details: JSON = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [
        {"reason": reason, "message": text, "field": fld} for (fld, reason, _), text in zip(causes, texts, strict=True)
    ]
    return ApiError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


# --------------------------------------------------------------------------
# Faults and request log
# --------------------------------------------------------------------------


@dataclass
class Fault:
    """One injected fault; see :meth:`FaultInjector.add`."""

    status: int | None = None
    method: str | None = None
    path_prefix: str = "/"
    verb: str | None = None
    query_param: str | None = None
    times: int | None = 1
    after: int = 0
    delay: float = 0.0
    retry_after: int | None = None
    reason: str | None = None
    message: str | None = None
    user: str | None = None
    seen: int = 0
    fired: int = 0

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, method: str, path: str, query: Mapping[str, list[str]], verb: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.verb is not None and self.verb != verb:
            return False
        if not path.startswith(self.path_prefix):
            return False
        return self.query_param is None or bool(query.get(self.query_param, [""])[-1])


class FaultInjector:
    """Per-path/verb fault injection, e.g.::

    server.faults.add(method="GET", path_prefix="/api/v1/namespaces/production/secrets",
                      status=429, times=2)
    server.faults.add(path_prefix="/apis/apps", delay=2.0)            # slow, then normal
    server.faults.add(method="PATCH", status=403, times=None)          # always forbidden
    server.faults.expire_continue(nth=1)                                # 410 on 1st continue
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        *,
        method: str | None = None,
        path_prefix: str = "/",
        status: int | None = None,
        times: int | None = 1,
        after: int = 0,
        delay: float = 0.0,
        verb: str | None = None,
        query_param: str | None = None,
        retry_after: int | None = None,
        reason: str | None = None,
        message: str | None = None,
        user: str | None = None,
    ) -> Fault:
        """Register a fault and return it (its ``fired`` counter tells how often it hit).

        A request matches when its HTTP ``method``, API ``verb`` (get, list, watch, create,
        update, patch, delete), path prefix and the presence of a non-empty ``query_param``
        match whatever was given. The first ``after`` matching requests pass untouched, the
        next ``times`` ones (``None`` = forever) are delayed by ``delay`` seconds and then,
        if ``status`` is set, answered with a realistic Status for that code (``message`` /
        ``reason`` override it; 429 gets a ``Retry-After`` header). ``status=None`` with a
        delay makes a slow but otherwise normal response.
        """
        fault = Fault(
            status=status,
            method=method,
            path_prefix=path_prefix,
            verb=verb,
            query_param=query_param,
            times=times,
            after=after,
            delay=delay,
            retry_after=retry_after,
            reason=reason,
            message=message,
            user=user,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def expire_continue(self, nth: int = 1, *, path_prefix: str = "/", times: int = 1) -> Fault:
        """Answer the ``nth`` LIST request carrying a ``continue`` token with 410 Expired."""
        return self.add(
            method="GET", path_prefix=path_prefix, status=410, query_param="continue", after=nth - 1, times=times
        )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, query: Mapping[str, list[str]], verb: str) -> Fault | None:
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path, query, verb):
                    continue
                fault.seen += 1
                if chosen is None and fault.seen > fault.after:
                    fault.fired += 1
                    chosen = fault
        return chosen


@dataclass
class RequestRecord:
    """One request as received (``status`` is filled in once answered)."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    content_type: str | None
    accept: str | None
    user_agent: str | None
    body: bytes = b""
    status: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


# --------------------------------------------------------------------------
# Managed fields (a small model of server-side apply field ownership)
# --------------------------------------------------------------------------

_TRACKED_METADATA: Final = ("labels", "annotations", "finalizers", "ownerReferences")


def _walk(value: Any, prefix: FieldPath, out: set[FieldPath]) -> None:
    if isinstance(value, Mapping):  # an empty map owns nothing (and merges nothing)
        for key, item in value.items():
            _walk(item, (*prefix, str(key)), out)
    else:
        out.add(prefix)


def _field_paths(obj: Mapping[str, Any]) -> set[FieldPath]:
    """Leaf field paths of an object (maps are recursed into, lists are atomic)."""
    paths: set[FieldPath] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            if isinstance(value, Mapping):
                for meta_key in _TRACKED_METADATA:
                    if meta_key in value:
                        _walk(value[meta_key], ("metadata", meta_key), paths)
            continue
        _walk(value, (key,), paths)
    return paths


def _encode_fields(paths: Iterable[FieldPath], *, dot: bool) -> JSON:
    root: JSON = {}
    for path in sorted(paths):
        node = root
        for index, segment in enumerate(path):
            child = node.setdefault(f"f:{segment}", {})
            if dot and index < len(path) - 1 and path[: index + 1] != ("metadata",):
                child.setdefault(".", {})
            node = child
    return root


def _decode_fields(fields: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    out: set[FieldPath] = set()
    if prefix and any(key != "." and not key.startswith("f:") for key in fields):
        out.add(prefix)  # list items (k:/v:/i:) -> treat the list as one atomic field
    for key, value in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if isinstance(value, Mapping) and any(sub != "." for sub in value):
            out |= _decode_fields(value, path)
        else:
            out.add(path)
    return out


def _overlaps(a: FieldPath, b: FieldPath) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _dotted(path: FieldPath) -> str:
    return "".join(f"[{seg}]" if "." in seg or "/" in seg else f".{seg}" for seg in path)


@dataclass
class _ManagedEntry:
    manager: str
    operation: str
    api_version: str
    time: str
    paths: set[FieldPath]
    subresource: str = ""

    def owns(self, path: FieldPath) -> bool:
        return any(_overlaps(owned, path) for owned in self.paths)

    def render(self) -> JSON:
        entry: JSON = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": _encode_fields(self.paths, dot=self.operation == "Update"),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _parse_entries(obj: Mapping[str, Any] | None) -> list[_ManagedEntry]:
    if obj is None:
        return []
    entries: list[_ManagedEntry] = []
    for raw in obj.get("metadata", {}).get("managedFields") or []:
        if not isinstance(raw, Mapping):
            continue
        entries.append(
            _ManagedEntry(
                manager=str(raw.get("manager", "")),
                operation=str(raw.get("operation", "Update")),
                api_version=str(raw.get("apiVersion", "")),
                time=str(raw.get("time", "")),
                paths=_decode_fields(raw.get("fieldsV1") or {}),
                subresource=str(raw.get("subresource", "")),
            )
        )
    return entries


def _entry(entries: list[_ManagedEntry], manager: str, operation: str, api_version: str) -> _ManagedEntry:
    for existing in entries:
        if existing.manager == manager and existing.operation == operation and not existing.subresource:
            existing.api_version = api_version
            return existing
    created = _ManagedEntry(manager, operation, api_version, _now(), set())
    entries.append(created)
    return created


def _get_path(obj: Any, path: FieldPath) -> Any:
    current = obj
    for segment in path:
        if not isinstance(current, Mapping) or segment not in current:
            return _MISSING
        current = current[segment]
    return current


def _delete_path(obj: JSON, path: FieldPath) -> None:
    parents: list[tuple[JSON, str]] = []
    current = obj
    for segment in path[:-1]:
        child = current.get(segment)
        if not isinstance(child, dict):
            return
        parents.append((current, segment))
        current = child
    current.pop(path[-1], None)
    for parent, segment in reversed(parents):
        if parent[segment] or (parent is obj and segment == "metadata"):
            break
        del parent[segment]


# --------------------------------------------------------------------------
# Patches
# --------------------------------------------------------------------------


def _deep_merge(base: JSON, overlay: Mapping[str, Any]) -> JSON:
    for key, value in overlay.items():
        current = base.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            _deep_merge(current, value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


_SMP_MERGE_KEYS: Final = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def strategic_merge_patch(target: Any, patch: Any, key: str = "") -> Any:
    """Strategic merge patch, enough for built-in workload types: maps merge, ``null``
    deletes, known lists (containers, env, volumes, ...) merge by their merge key,
    ``$patch: replace|delete`` and other ``$`` directives are understood or ignored."""
    if isinstance(patch, list):
        merge_key = _SMP_MERGE_KEYS.get(key)
        if merge_key is not None and isinstance(target, list):
            return _smp_list(target, patch, merge_key)
        return copy.deepcopy(patch)
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if name.startswith("$"):
            continue
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge_patch(result.get(name), value, name)
    return result


def _smp_list(target: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    result = copy.deepcopy(target)
    for item in patch:
        if not isinstance(item, Mapping) or merge_key not in item:
            return copy.deepcopy(patch)
        index = next(
            (i for i, cur in enumerate(result) if isinstance(cur, Mapping) and cur.get(merge_key) == item[merge_key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(strategic_merge_patch(None, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


# --------------------------------------------------------------------------
# Selectors and continue tokens
# --------------------------------------------------------------------------

_SET_REQ = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_REQ = re.compile(r"^\s*([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)\s*$")
_EXISTS_REQ = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")
Selector = list[Callable[[Mapping[str, str]], bool]]


def _eq_requirement(key: str, value: str, negate: bool) -> Callable[[Mapping[str, str]], bool]:
    def check(values: Mapping[str, str]) -> bool:
        return (values.get(key) == value) != negate

    return check


def _set_requirement(key: str, allowed: frozenset[str], negate: bool) -> Callable[[Mapping[str, str]], bool]:
    def check(values: Mapping[str, str]) -> bool:
        return (values.get(key) in allowed) != negate

    return check


def _exists_requirement(key: str, negate: bool) -> Callable[[Mapping[str, str]], bool]:
    def check(values: Mapping[str, str]) -> bool:
        return (key in values) != negate

    return check


def parse_label_selector(text: str) -> Selector:
    """Equality (``=``, ``==``, ``!=``), set (``in``, ``notin``) and existence (``k``, ``!k``)."""
    requirements: Selector = []
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    for part in (p for p in parts if p.strip()):
        if match := _SET_REQ.match(part):
            key, op, raw = match.groups()
            values = frozenset(v.strip() for v in raw.split(","))
            requirements.append(_set_requirement(key, values, op == "notin"))
        elif match := _EQ_REQ.match(part):
            key, op, value = match.groups()
            requirements.append(_eq_requirement(key, value, op == "!="))
        elif match := _EXISTS_REQ.match(part):
            negate, key = match.groups()
            requirements.append(_exists_requirement(key, bool(negate)))
        else:
            raise _bad_request(f"unable to parse requirement: {part.strip()!r}")
    return requirements


def _field_selector(text: str, rt: ResourceType) -> Selector:
    allowed = {"metadata.name", "metadata.namespace"} | ({"type"} if rt is SECRET else set())
    requirements: Selector = []
    for part in (p for p in text.split(",") if p.strip()):
        match = _EQ_REQ.match(part)
        if not match:
            raise _bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        key, op, value = match.groups()
        if key not in allowed:
            raise _bad_request(f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        requirements.append(_eq_requirement(key, value, op == "!="))
    return requirements


def _encode_continue(rv: int, namespace: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{namespace}/{name}\x00"})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        namespace, _, name = str(raw["start"]).rstrip("\x00").partition("/")
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown version")
        return int(raw["rv"]), (namespace, name)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise _bad_request(f"continue key is not valid: {exc}") from exc


# --------------------------------------------------------------------------
# YAML that behaves like the API server's (no timestamps as datetime objects)
# --------------------------------------------------------------------------


class _YamlLoader(yaml.SafeLoader):
    pass


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# --------------------------------------------------------------------------
# Protobuf request bodies (kubectl's typed clients: create namespace/configmap/secret)
# --------------------------------------------------------------------------

PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
_PROTOBUF_MAGIC: Final = b"k8s\x00"


def _pb_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _pb_fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs of one message: varints as int, length-delimited as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _pb_varint(buf, pos)
        wire_type = key & 7
        value: int | bytes
        if wire_type == 0:
            value, pos = _pb_varint(buf, pos)
        elif wire_type == 2:
            length, pos = _pb_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire_type in (1, 5):
            size = 8 if wire_type == 1 else 4
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        fields.append((key >> 3, value))
    return fields


def _pb_bytes(fields: list[tuple[int, int | bytes]], number: int) -> list[bytes]:
    return [v for n, v in fields if n == number and isinstance(v, bytes)]


def _pb_str(fields: list[tuple[int, int | bytes]], number: int) -> str | None:
    values = _pb_bytes(fields, number)
    return values[-1].decode() if values and values[-1] else None


def _pb_map(fields: list[tuple[int, int | bytes]], number: int, *, binary: bool = False) -> dict[str, str] | None:
    entries = [_pb_fields(entry) for entry in _pb_bytes(fields, number)]
    if not entries:
        return None
    result: dict[str, str] = {}
    for entry in entries:
        key = (_pb_bytes(entry, 1) or [b""])[-1].decode()
        raw = (_pb_bytes(entry, 2) or [b""])[-1]
        result[key] = base64.b64encode(raw).decode() if binary else raw.decode()
    return result


def _pb_object_meta(buf: bytes) -> JSON:
    fields = _pb_fields(buf)
    meta: JSON = {}
    for name, number in (("name", 1), ("generateName", 2), ("namespace", 3), ("uid", 5), ("resourceVersion", 6)):
        if (value := _pb_str(fields, number)) is not None:
            meta[name] = value
    for name, number in (("labels", 11), ("annotations", 12)):
        if (mapping := _pb_map(fields, number)) is not None:
            meta[name] = mapping
    if finalizers := [f.decode() for f in _pb_bytes(fields, 14)]:
        meta["finalizers"] = finalizers
    return meta


def decode_protobuf_object(body: bytes) -> JSON:
    """Decode a Kubernetes protobuf envelope holding a Namespace, ConfigMap or Secret to JSON."""
    if not body.startswith(_PROTOBUF_MAGIC):
        raise ValueError("missing k8s protobuf envelope")
    unknown = _pb_fields(body[len(_PROTOBUF_MAGIC) :])
    type_meta = _pb_fields((_pb_bytes(unknown, 1) or [b""])[-1])
    api_version, kind = _pb_str(type_meta, 1) or "", _pb_str(type_meta, 2) or ""
    fields = _pb_fields((_pb_bytes(unknown, 2) or [b""])[-1])
    obj: JSON = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": _pb_object_meta((_pb_bytes(fields, 1) or [b""])[-1]),
    }
    flags = {n: v for n, v in fields if isinstance(v, int)}
    if (api_version, kind) == ("v1", "ConfigMap"):
        for name, number, binary in (("data", 2, False), ("binaryData", 3, True)):
            if (mapping := _pb_map(fields, number, binary=binary)) is not None:
                obj[name] = mapping
        if 4 in flags:
            obj["immutable"] = bool(flags[4])
    elif (api_version, kind) == ("v1", "Secret"):
        for name, number, binary in (("data", 2, True), ("stringData", 4, False)):
            if (mapping := _pb_map(fields, number, binary=binary)) is not None:
                obj[name] = mapping
        if (secret_type := _pb_str(fields, 3)) is not None:
            obj["type"] = secret_type
        if 5 in flags:
            obj["immutable"] = bool(flags[5])
    elif (api_version, kind) == ("v1", "Namespace"):
        spec = _pb_fields((_pb_bytes(fields, 2) or [b""])[-1])
        if finalizers := [f.decode() for f in _pb_bytes(spec, 1)]:
            obj["spec"] = {"finalizers": finalizers}
    else:
        raise ValueError(f"protobuf decoding of {api_version}/{kind} is not supported by FakeKubeApiServer")
    return obj


# --------------------------------------------------------------------------
# Kind-specific behaviour: defaults, validation, immutability
# --------------------------------------------------------------------------

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IMMUTABLE_MSG: Final = "field is immutable when `immutable` is set"


def _secret_string_data(obj: JSON) -> None:
    """Fold Secret ``stringData`` into base64 ``data`` like the real server does."""
    string_data = obj.pop("stringData", None)
    if string_data is None:
        return
    if not isinstance(string_data, Mapping):
        raise _bad_request(
            "json: cannot unmarshal stringData into Go struct field Secret.stringData of type map[string]string"
        )
    data = obj.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    for key, value in string_data.items():
        data[str(key)] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data


def _apply_defaults(rt: ResourceType, obj: JSON) -> None:
    meta = obj["metadata"]
    if rt is SECRET:
        obj.setdefault("type", "Opaque")
    elif rt is NAMESPACE:
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif rt is DEPLOYMENT:
        spec = obj.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
        pod = spec.setdefault("template", {}).setdefault("spec", {})
        pod.setdefault("restartPolicy", "Always")
        pod.setdefault("terminationGracePeriodSeconds", 30)
        pod.setdefault("dnsPolicy", "ClusterFirst")
        pod.setdefault("schedulerName", "default-scheduler")
        pod.setdefault("securityContext", {})


def _decoded_size(value: str) -> int:
    return len(base64.b64decode(value, validate=True))


def _validate(rt: ResourceType, obj: JSON) -> None:
    meta = obj["metadata"]
    name = meta.get("name") or ""
    causes: list[tuple[str, str, str]] = []
    if not name:
        causes.append(("metadata.name", "FieldValueRequired", "name or generateName is required"))
    elif rt is NAMESPACE and (len(name) > 63 or not _DNS_LABEL.match(name)):
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'"{name}": a lowercase RFC 1123 label must consist of lower case'
                " alphanumeric characters or '-', and must start and end with an"
                " alphanumeric character",
            )
        )
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case'
                " alphanumeric characters, '-' or '.', and must start and end with an"
                " alphanumeric character",
            )
        )
    for meta_key in ("labels", "annotations"):
        values = meta.get(meta_key)
        if values is not None and (
            not isinstance(values, Mapping) or not all(isinstance(v, str) for v in values.values())
        ):
            raise _bad_request(
                f"json: cannot unmarshal metadata.{meta_key} into Go struct field"
                f" ObjectMeta.metadata.{meta_key} of type map[string]string"
            )
    if rt in (CONFIGMAP, SECRET):
        causes += _validate_data(rt, obj)
    if rt is DEPLOYMENT:
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not spec.get("selector"):
            causes.append(("spec.selector", "FieldValueRequired", ""))
        elif selector and any(labels.get(k) != v for k, v in selector.items()):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "FieldValueInvalid",
                    f"{json.dumps(labels)}: `selector` does not match template `labels`",
                )
            )
    if causes:
        raise _invalid(rt, name, causes)


def _validate_data(rt: ResourceType, obj: JSON) -> list[tuple[str, str, str]]:
    causes: list[tuple[str, str, str]] = []
    total = 0
    fields = ("data", "binaryData") if rt is CONFIGMAP else ("data",)
    for fld in fields:
        values = obj.get(fld)
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise _bad_request(
                f"json: cannot unmarshal {fld} into Go struct field {rt.kind}.{fld} of type map[string]string"
            )
        for key, value in values.items():
            if not isinstance(value, str):
                raise _bad_request(
                    f"json: cannot unmarshal {type(value).__name__} into Go struct field {rt.kind}.{fld} of type string"
                )
            if len(key) > 253 or not _CONFIG_KEY.match(key):
                causes.append(
                    (
                        f"{fld}[{key}]",
                        "FieldValueInvalid",
                        f"\"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    )
                )
            if rt is SECRET or fld == "binaryData":
                try:
                    total += _decoded_size(value)
                except (binascii.Error, ValueError) as exc:
                    raise _bad_request(f"illegal base64 data in {fld}[{key}]: {exc}") from exc
            else:
                total += len(value.encode())
    if rt is CONFIGMAP:
        for key in set(obj.get("data") or {}) & set(obj.get("binaryData") or {}):
            causes.append((f"data[{key}]", "FieldValueInvalid", f'"{key}": duplicate of key present in binaryData'))
    if total > MAX_DATA_BYTES:
        causes.append(("data", "FieldValueTooLong", f"must have at most {MAX_DATA_BYTES} bytes"))
    return causes


def _check_immutable(rt: ResourceType, old: JSON, new: JSON) -> None:
    name = old["metadata"]["name"]
    causes: list[tuple[str, str, str]] = []
    if rt in (CONFIGMAP, SECRET) and old.get("immutable") is True:
        for fld in ("data", "binaryData"):
            if (old.get(fld) or {}) != (new.get(fld) or {}):
                causes.append((fld, "FieldValueForbidden", _IMMUTABLE_MSG))
        if new.get("immutable") is not True:
            causes.append(("immutable", "FieldValueForbidden", _IMMUTABLE_MSG))
    if rt is SECRET and old.get("type") != new.get("type"):
        causes.append(("type", "FieldValueInvalid", f'"{new.get("type")}": field is immutable'))
    if rt is DEPLOYMENT:
        old_sel = (old.get("spec") or {}).get("selector")
        new_sel = (new.get("spec") or {}).get("selector")
        if old_sel != new_sel:
            causes.append(("spec.selector", "FieldValueInvalid", f"{json.dumps(new_sel)}: field is immutable"))
    if causes:
        raise _invalid(rt, name, causes)


def _deployment_status(spec: Mapping[str, Any], generation: int) -> JSON:
    replicas = int(spec.get("replicas", 1))
    when = _now()
    status: JSON = {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }
    status["conditions"] = [
        {
            "type": "Available",
            "status": "True",
            "lastUpdateTime": when,
            "lastTransitionTime": when,
            "reason": "MinimumReplicasAvailable",
            "message": "Deployment has minimum availability.",
        },
        {
            "type": "Progressing",
            "status": "True",
            "lastUpdateTime": when,
            "lastTransitionTime": when,
            "reason": "NewReplicaSetAvailable",
            "message": "ReplicaSet has successfully progressed.",
        },
    ]
    return status


def _comparable(obj: Mapping[str, Any]) -> JSON:
    result = copy.deepcopy(dict(obj))
    meta = result.get("metadata", {})
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    return result


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    rt: ResourceType | None = None
    namespace: str | None = None
    name: str | None = None
    subresource: str | None = None
    verb: str = "get"
    warnings: list[str] = field(default_factory=list)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class _Response:
    code: int
    body: JSON | bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@functools.cache
def self_signed_certificate() -> tuple[bytes, bytes]:
    """A throwaway self-signed (CA:TRUE) certificate and key, PEM, for 127.0.0.1/localhost.

    Made with ``cryptography`` (a pinned dependency of this project), or the ``openssl`` CLI
    when it is not importable. Cached for the process: one key serves every fake server.
    """
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:  # pragma: no cover - depends on the environment
        return _openssl_certificate()
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-apiserver")])
    now = datetime.now(UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    alt_names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _openssl_certificate() -> tuple[bytes, bytes]:  # pragma: no cover - fallback only
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("FakeKubeApiServer(tls=True) needs the cryptography package or the openssl CLI")
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "7", "-subj", "/CN=fake-kube-apiserver", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return cert.read_bytes(), key.read_bytes()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeKubeApiServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects and failed TLS handshakes are routine here; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeKubeApiServer/1.0"
    timeout = 60

    def do_GET(self) -> None:
        cast(_HTTPServer, self.server).fake._serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; use ``FakeKubeApiServer.requests``."""

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class FakeKubeApiServer:
    """In-memory Kubernetes API server on ``https://127.0.0.1:<ephemeral port>``.

    TLS (a throwaway self-signed certificate, see :attr:`ca_pem`) is on by default because
    kubectl never sends bearer tokens over plain HTTP; ``tls=False`` serves plain HTTP.

    Use as a context manager (started on enter, stopped on exit)::

        with FakeKubeApiServer() as server:
            server.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "app", "namespace": "production"},
                               "data": {"k": "v"}})
            kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="production")
            server.faults.add(method="GET", path_prefix="/api/v1/namespaces/production/secrets",
                              status=429, times=2)
            ...  # run kubectl / the tool with KUBECONFIG=kubeconfig
            stored = server.get_object("ConfigMap", "production", "app")
            [request.path for request in server.requests]

    ``faults`` is a :class:`FaultInjector`, ``requests`` the request log and ``errors``
    the tracebacks of unexpected exceptions inside the server (answered with 500).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        user: str = "test-user",
        kubernetes_version: str = "v1.37.1",
        aggregated_discovery: bool = True,
        simulate_rollouts: bool = True,
        tls: bool = True,
        namespaces: Iterable[str] = ("default", "kube-node-lease", "kube-public", "kube-system"),
    ) -> None:
        """``token``: the one valid bearer token (random by default); ``user``: the name used in
        403 messages; ``aggregated_discovery``: answer ``/api`` and ``/apis`` in the aggregated
        v2 format when asked (else kubectl falls back to per-group-version discovery);
        ``simulate_rollouts``: keep Deployment ``status`` at "rolled out" for every spec change;
        ``tls``: serve HTTPS (needed for kubectl to send the token); ``namespaces``: created
        up front, like a fresh cluster's."""
        self.token = token if token is not None else f"fake-{secrets.token_hex(16)}"
        self.tls = tls
        self._cert_dir: Path | None = None
        self.user = user
        self.kubernetes_version = kubernetes_version
        self.aggregated_discovery = aggregated_discovery
        self.simulate_rollouts = simulate_rollouts
        self.faults = FaultInjector()
        self.errors: list[str] = []
        self._objects: dict[tuple[str, str, str], JSON] = {}
        self._rv = 1000
        self._lock = threading.RLock()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for namespace in namespaces:
            self.create_namespace(namespace)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeKubeApiServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        if self.tls:
            cert_pem, key_pem = self_signed_certificate()
            self._cert_dir = Path(tempfile.mkdtemp(prefix="fake-kube-apiserver-"))
            (self._cert_dir / "ca.crt").write_bytes(cert_pem)
            key_file = self._cert_dir / "tls.key"
            key_file.write_bytes(key_pem)
            key_file.chmod(0o600)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self._cert_dir / "ca.crt", key_file)
            context.set_alpn_protocols(["http/1.1"])
            # Handshake lazily in the handler thread so a stuck client cannot block accept().
            self._httpd.socket = context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-kube-apiserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None
        if self._cert_dir is not None:
            shutil.rmtree(self._cert_dir, ignore_errors=True)
            self._cert_dir = None

    def __enter__(self) -> FakeKubeApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeKubeApiServer is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_pem(self) -> bytes | None:
        """The PEM certificate clients must trust (None without TLS)."""
        return self_signed_certificate()[0] if self.tls else None

    @property
    def ca_file(self) -> Path | None:
        """``ca_pem`` as a file while the server runs (for ``verify=``/``--certificate-authority``)."""
        return self._cert_dir / "ca.crt" if self._cert_dir is not None else None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting this server, for ``urllib.request.urlopen(..., context=)``."""
        pem = self.ca_pem
        return ssl.create_default_context(cadata=pem.decode()) if pem is not None else None

    def write_kubeconfig(
        self, path: str | PathLike[str], namespace: str | None = None, *, token: str | None = None
    ) -> Path:
        """Write a kubeconfig for this server (bearer token auth) and return its path.

        With TLS (the default) the server certificate is embedded as
        ``certificate-authority-data``. Note that kubectl/client-go only send credentials over
        TLS: against ``tls=False`` kubectl requests arrive without a token (and get 401).
        """
        context: JSON = {"cluster": "fake", "user": "fake-user"}
        if namespace:
            context["namespace"] = namespace
        cluster: JSON = {"server": self.url}
        if self.ca_pem is not None:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        config: JSON = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "fake-user", "user": {"token": self.token if token is None else token}}],
            "contexts": [{"name": "fake", "context": context}],
            "current-context": "fake",
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        target.chmod(0o600)
        return target

    # -- direct store access for tests --------------------------------------

    def put_object(
        self,
        obj: Mapping[str, Any],
        *,
        manager: str | None = None,
        operation: str = "Update",
        create_namespace: bool = True,
    ) -> JSON:
        """Store (create or overwrite) an object directly, bypassing HTTP, auth and faults.

        Server metadata (uid, resourceVersion, creationTimestamp, generation) and defaults are
        filled in (a given ``uid``, ``creationTimestamp`` or ``status`` is kept), Secret
        ``stringData`` is folded into ``data``. With ``manager`` every field is recorded as owned
        by it (``operation`` ``Update`` or ``Apply``), which lets a test set up field-manager
        conflicts. A missing namespace is created unless ``create_namespace=False``. Returns a
        copy of what was stored.
        """
        new = copy.deepcopy(dict(obj))
        rt = _type_for_object(new)
        meta = new.setdefault("metadata", {})
        name = meta.get("name") or ""
        namespace = (meta.get("namespace") or "default") if rt.namespaced else ""
        if rt.namespaced:
            meta["namespace"] = namespace
        with self._lock:
            if rt.namespaced and create_namespace and not self._exists(NAMESPACE, "", namespace):
                self.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            old = self._objects.get((rt.plural, namespace, name))
            kept = {k: meta.pop(k) for k in ("uid", "creationTimestamp") if meta.get(k)}
            meta.pop("resourceVersion", None)
            meta.pop("managedFields", None)
            prepared = self._prepare(rt, old, new)
            prepared["metadata"].update(kept)
            if "status" in obj:
                prepared["status"] = copy.deepcopy(obj["status"])
            entries: list[_ManagedEntry] = []
            if manager:
                entries.append(_ManagedEntry(manager, operation, rt.api_version, _now(), _field_paths(prepared)))
            return self._store(rt, old, prepared, entries, dry_run=False, keep_status="status" in obj)

    def get_object(self, kind: str, namespace: str | None, name: str) -> JSON | None:
        """A copy of a stored object (``kind`` may also be a plural/short name), or None."""
        rt = resource_type_for(kind)
        with self._lock:
            obj = self._objects.get((rt.plural, (namespace or "") if rt.namespaced else "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, kind: str, namespace: str | None = None) -> list[JSON]:
        """Copies of stored objects of one type, sorted by namespace and name."""
        rt = resource_type_for(kind)
        with self._lock:
            return [
                copy.deepcopy(obj)
                for key, obj in sorted(self._objects.items())
                if key[0] == rt.plural and (namespace is None or key[1] == namespace)
            ]

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> JSON:
        metadata: JSON = {"name": name}
        if labels:
            metadata["labels"] = dict(labels)
        return self.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})

    @property
    def resource_version(self) -> int:
        """The current global resourceVersion counter."""
        with self._lock:
            return self._rv

    # -- request log ---------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    def requests_matching(
        self, method: str | None = None, path_prefix: str = "/", query_param: str | None = None
    ) -> list[RequestRecord]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and r.path.startswith(path_prefix)
            and (query_param is None or query_param in r.query)
        ]

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    # -- HTTP entry point ------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        path = split.path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        body = handler.read_body()
        record = RequestRecord(
            method=handler.command,
            path=path,
            query=query,
            raw_query=split.query,
            content_type=handler.headers.get("Content-Type"),
            accept=handler.headers.get("Accept"),
            user_agent=handler.headers.get("User-Agent"),
            body=body,
        )
        with self._log_lock:
            self._log.append(record)
        request = _Request(handler.command, path, query, handler.headers, body)
        try:
            response = self._route(request)
        except ApiError as err:
            response = _Response(err.code, err.status(), headers=err.headers)
        except Exception as exc:  # pragma: no cover - surfaced through .errors
            self.errors.append(traceback.format_exc())
            response = _Response(500, status_object(500, "InternalError", f"Internal error occurred: {exc}"))
        if request.warnings:
            response.headers["Warning"] = ", ".join(
                '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in request.warnings
            )
        record.status = response.code
        payload = (
            response.body
            if isinstance(response.body, bytes)
            else json.dumps(response.body, separators=(",", ":")).encode()
        )
        handler.send_response(response.code)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Cache-Control", "no-cache, private")
        handler.send_header("Audit-Id", str(uuid.uuid4()))
        for key, value in response.headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)

    def _route(self, req: _Request) -> _Response:
        if req.path in _HEALTH_PATHS:
            return _Response(200, b"ok", "text/plain; charset=utf-8")
        self._authenticate(req)
        self._resolve(req)
        fault = self.faults.take(req.method, req.path, req.query, req.verb)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status is not None:
                raise self._fault_error(fault, req)
        if req.rt is not None:
            return self._resource_request(req)
        if req.method not in ("GET", "HEAD"):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return self._non_resource(req)

    def _authenticate(self, req: _Request) -> None:
        scheme, _, credentials = (req.headers.get("Authorization") or "").partition(" ")
        if (
            scheme.lower() != "bearer"
            or not credentials.strip()
            or not secrets.compare_digest(credentials.strip(), self.token)
        ):
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _resolve(self, req: _Request) -> None:
        """Fill in resource type, namespace, name and API verb for resource paths."""
        req.verb = req.method.lower()
        parts = [p for p in req.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return
        if not rest:
            return
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        if len(rest) > 3:
            raise self._path_not_found()
        rt = next((t for t in RESOURCE_TYPES if (t.group, t.version, t.plural) == (group, version, rest[0])), None)
        if rt is None or (namespace is not None and not rt.namespaced):
            raise self._path_not_found()
        req.rt, req.namespace = rt, namespace
        req.name = rest[1] if len(rest) > 1 else None
        req.subresource = rest[2] if len(rest) > 2 else None
        collection_verbs = {"GET": "list", "POST": "create", "DELETE": "deletecollection"}
        object_verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        if req.name is None:
            req.verb = collection_verbs.get(req.method, req.method.lower())
            if req.verb == "list" and (req.param("watch") or "").lower() in ("true", "1"):
                req.verb = "watch"
        else:
            req.verb = object_verbs.get(req.method, req.method.lower())

    @staticmethod
    def _path_not_found() -> ApiError:
        return ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _fault_error(self, fault: Fault, req: _Request) -> ApiError:
        code = fault.status or 500
        rt, name = req.rt, req.name
        subject = (f'{rt.qualified} "{name}"' if name else rt.qualified) if rt else ""
        details = _details(rt, name)
        headers: dict[str, str] = {}
        user = fault.user or self.user
        reason, message = {
            400: ("BadRequest", "the server rejected our request for an unknown reason"),
            401: ("Unauthorized", "Unauthorized"),
            404: ("NotFound", f"{subject} not found" if rt else "the server could not find the requested resource"),
            405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
            409: (
                "Conflict",
                f"Operation cannot be fulfilled on {subject}: the object has been"
                " modified; please apply your changes to the latest version and try again",
            ),
            410: (
                "Expired",
                "The provided continue parameter is too old to display a consistent"
                " list result. You can start a new list without the continue parameter, or use"
                " the continue token in this response to retrieve the remainder of the results."
                " Continuing with the provided token results in an inconsistent list - objects"
                " that were created, modified, or deleted between the time the first chunk was"
                " returned and now may show up in the list.",
            ),
            422: ("Invalid", f"{subject} is invalid"),
            429: ("TooManyRequests", "Too many requests, please try again later."),
            500: ("InternalError", "Internal error occurred: injected fault"),
            503: ("ServiceUnavailable", "The server is currently unable to handle the request"),
            504: (
                "Timeout",
                "The server was unable to return a response in the time allotted,"
                " but may still be processing the request",
            ),
        }.get(code, ("", f"injected fault {code}"))
        if code == 403:
            reason = "Forbidden"
            if rt is not None:
                resource = rt.plural + (f"/{req.subresource}" if req.subresource else "")
                scope = f' in the namespace "{req.namespace}"' if req.namespace else " at the cluster scope"
                message = (
                    f'{subject} is forbidden: User "{user}" cannot {req.verb} resource'
                    f' "{resource}" in API group "{rt.group}"{scope}'
                )
            else:
                message = f'forbidden: User "{user}" cannot {req.verb} path "{req.path}"'
        metadata: JSON = {}
        if code == 410:
            details = {}
            try:  # like etcd compaction: offer a token to continue inconsistently from "now"
                _, start = _decode_continue(req.param("continue") or "")
                metadata["continue"] = _encode_continue(self.resource_version, *start)
            except ApiError:
                pass
        if code == 429 or fault.retry_after is not None:
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            headers["Retry-After"] = str(retry_after)
            details = {"retryAfterSeconds": retry_after}
        return ApiError(code, fault.reason or reason, fault.message or message, details, headers, metadata)

    # -- discovery and other non-resource paths ---------------------------------

    def _non_resource(self, req: _Request) -> _Response:
        path = req.path
        aggregated = self.aggregated_discovery and self._wants_aggregated(req)
        if path == "/version":
            minor = self.kubernetes_version.lstrip("v").split(".")[1]
            return _Response(
                200,
                {
                    "major": "1",
                    "minor": minor,
                    "emulationMajor": "1",
                    "emulationMinor": minor,
                    "minCompatibilityMajor": "1",
                    "minCompatibilityMinor": minor,
                    "gitVersion": self.kubernetes_version,
                    "gitCommit": "0" * 40,
                    "gitTreeState": "clean",
                    "buildDate": "2026-01-01T00:00:00Z",
                    "goVersion": "go1.26.0",
                    "compiler": "gc",
                    "platform": "linux/amd64",
                },
            )
        if path == "/api":
            if aggregated:
                return self._aggregated([""])
            return _Response(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                    ],
                },
            )
        groups = sorted({rt.group for rt in RESOURCE_TYPES if rt.group})
        if path == "/apis":
            if aggregated:
                return self._aggregated(groups)
            return _Response(
                200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._api_group(g) for g in groups]}
            )
        if path.startswith("/apis/") and path.count("/") == 2 and path[6:] in groups:
            return _Response(200, self._api_group(path[6:]))
        for gv_path in sorted({rt.group_version_path for rt in RESOURCE_TYPES}):
            if path == gv_path:
                rts = [rt for rt in RESOURCE_TYPES if rt.group_version_path == gv_path]
                return _Response(
                    200,
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": rts[0].api_version,
                        "resources": [self._api_resource(rt) for rt in rts],
                    },
                )
        if path == "/openapi/v2":
            # kubectl validates `kind: List` files client-side against the v2 document, which it
            # only accepts as protobuf. An empty protobuf message is a valid, empty Document:
            # kubectl finds no schema for the kinds and leaves validation to the server.
            if "protobuf" in (req.headers.get("Accept") or ""):
                return _Response(200, b"", OPENAPI_V2_PROTOBUF)
            return _Response(
                200,
                {"swagger": "2.0", "info": {"title": "Kubernetes", "version": self.kubernetes_version}, "paths": {}},
            )
        if path == "/openapi/v3":
            return _Response(
                200,
                {
                    "paths": {
                        gv_path.lstrip("/"): {"serverRelativeURL": f"/openapi/v3{gv_path}?hash={h}"}
                        for gv_path, h in self._openapi_hashes().items()
                    }
                },
            )
        if path.startswith("/openapi/v3/"):
            gv_path = path[len("/openapi/v3") :]
            if gv_path in self._openapi_hashes():
                return _Response(200, self._openapi_v3(gv_path))
        if path.startswith("/api") or path.startswith("/openapi"):
            raise self._path_not_found()
        return _Response(404, b"404 page not found\n", "text/plain; charset=utf-8")

    @staticmethod
    def _wants_aggregated(req: _Request) -> bool:
        for media_range in (req.headers.get("Accept") or "").split(","):
            params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in media_range.split(";")[1:])}
            if (
                params.get("g") == "apidiscovery.k8s.io"
                and params.get("v") == "v2"
                and params.get("as") == "APIGroupDiscoveryList"
            ):
                return True
        return False

    @staticmethod
    def _api_group(group: str) -> JSON:
        versions = [{"groupVersion": f"{group}/v1", "version": "v1"}]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    @staticmethod
    def _api_resource(rt: ResourceType) -> JSON:
        digest = hashlib.sha256(f"{rt.api_version}/{rt.kind}".encode()).digest()[:8]
        resource: JSON = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(SERVED_VERBS),
        }
        if rt.short_names:
            resource["shortNames"] = list(rt.short_names)
        if rt.categories:
            resource["categories"] = list(rt.categories)
        resource["storageVersionHash"] = base64.b64encode(digest).decode()
        return resource

    def _aggregated(self, groups: list[str]) -> _Response:
        items: list[JSON] = []
        for group in groups:
            resources = []
            for rt in (t for t in RESOURCE_TYPES if t.group == group):
                resource: JSON = {
                    "resource": rt.plural,
                    "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": list(SERVED_VERBS),
                }
                if rt.short_names:
                    resource["shortNames"] = list(rt.short_names)
                if rt.categories:
                    resource["categories"] = list(rt.categories)
                resources.append(resource)
            metadata: JSON = {"creationTimestamp": None}
            if group:
                metadata["name"] = group
            items.append(
                {"metadata": metadata, "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]}
            )
        return _Response(
            200,
            {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items},
            AGGREGATED_DISCOVERY,
            {"Vary": "Accept"},
        )

    @staticmethod
    def _openapi_hashes() -> dict[str, str]:
        gv_paths = sorted({rt.group_version_path for rt in RESOURCE_TYPES})
        return {p: hashlib.sha512(p.encode()).hexdigest().upper()[:128] for p in gv_paths}

    @staticmethod
    def _openapi_v3(gv_path: str) -> JSON:
        """A skeletal OpenAPI v3 document: just the PATCH operations with their
        ``x-kubernetes-group-version-kind`` and query parameters, which is what kubectl
        inspects to learn that the server supports ``fieldValidation``."""
        query_params = [
            {"name": n, "in": "query", "schema": {"type": "string"}}
            for n in ("dryRun", "fieldManager", "fieldValidation", "force")
        ]
        paths: JSON = {}
        for rt in (t for t in RESOURCE_TYPES if t.group_version_path == gv_path):
            gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
            object_path = (
                f"{gv_path}/namespaces/{{namespace}}/{rt.plural}/{{name}}"
                if rt.namespaced
                else f"{gv_path}/{rt.plural}/{{name}}"
            )
            paths[object_path] = {
                "patch": {
                    "operationId": f"patch{rt.kind}",
                    "parameters": query_params,
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                }
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.37.1"},
            "paths": paths,
            "components": {"schemas": {}},
        }

    # -- resources -------------------------------------------------------------

    def _resource_request(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None
        if req.subresource is not None:
            raise self._path_not_found()
        if rt.namespaced and req.namespace is None and (req.name is not None or req.method != "GET"):
            raise self._path_not_found()  # only LIST works across namespaces
        if req.method == "GET":
            if req.verb == "watch":
                raise ApiError(405, "MethodNotAllowed", "watch is not supported by FakeKubeApiServer")
            return self._get(req) if req.name else self._list(req)
        if req.method == "POST" and req.name is None:
            return self._create(req)
        if req.method == "PUT" and req.name is not None:
            return self._replace(req)
        if req.method == "PATCH" and req.name is not None:
            return self._patch(req)
        if req.method == "DELETE" and req.name is not None and rt.namespaced:
            return self._delete(req)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _delete(self, req: _Request) -> _Response:
        """Delete one namespaced object (immediately: no finalizers or grace periods here)."""
        assert req.rt is not None and req.name is not None
        with self._lock:
            key = self._key(req.rt, req.namespace, req.name)
            if key not in self._objects:
                raise _not_found(req.rt, req.name)
            del self._objects[key]
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                  "details": {"name": req.name, "kind": req.rt.plural}}  # fmt: skip
        return _Response(200, status)

    def _exists(self, rt: ResourceType, namespace: str, name: str) -> bool:
        return (rt.plural, namespace, name) in self._objects

    def _require_namespace(self, rt: ResourceType, namespace: str | None) -> None:
        if rt.namespaced and not self._exists(NAMESPACE, "", namespace or ""):
            raise _not_found(NAMESPACE, namespace or "")

    @staticmethod
    def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (rt.plural, (namespace or "") if rt.namespaced else "", name)

    def _get(self, req: _Request) -> _Response:
        assert req.rt is not None and req.name is not None
        with self._lock:
            obj = self._objects.get(self._key(req.rt, req.namespace, req.name))
            if obj is None:
                raise _not_found(req.rt, req.name)
            obj = copy.deepcopy(obj)
        if self._wants_table(req):
            return self._table(req.rt, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]})
        return _Response(200, obj)

    def _list(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None
        limit = self._int_param(req, "limit")
        token = req.param("continue") or ""
        labels = parse_label_selector(req.param("labelSelector") or "")
        fields = _field_selector(req.param("fieldSelector") or "", rt)
        with self._lock:
            list_rv = self._rv
            candidates = sorted(
                (key, obj)
                for key, obj in self._objects.items()
                if key[0] == rt.plural and (req.namespace is None or key[1] == req.namespace)
            )
            if token:
                list_rv, start = _decode_continue(token)
                candidates = [(k, o) for k, o in candidates if (k[1], k[2]) > start]
            items = [copy.deepcopy(obj) for _, obj in candidates if self._selected(obj, labels, fields)]
        metadata: JSON = {"resourceVersion": str(list_rv)}
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            metadata["continue"] = _encode_continue(list_rv, last.get("namespace", ""), last["name"])
            if not labels and not fields:
                metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if self._wants_table(req):
            return self._table(rt, items, metadata)
        for item in items:  # like the real server: list items carry no kind/apiVersion
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return _Response(
            200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": metadata, "items": items}
        )

    @staticmethod
    def _selected(obj: JSON, labels: Selector, fields: Selector) -> bool:
        meta = obj["metadata"]
        obj_labels = meta.get("labels") or {}
        obj_fields = {
            "metadata.name": meta["name"],
            "metadata.namespace": meta.get("namespace", ""),
            "type": str(obj.get("type", "")),
        }
        return all(r(obj_labels) for r in labels) and all(r(obj_fields) for r in fields)

    @staticmethod
    def _int_param(req: _Request, name: str) -> int:
        raw = req.param(name)
        if not raw:
            return 0
        try:
            value = int(raw)
        except ValueError:
            raise _bad_request(f'invalid value "{raw}" for {name}') from None
        return max(value, 0)

    @staticmethod
    def _wants_table(req: _Request) -> bool:
        return any(
            "as=Table" in media_range and "g=meta.k8s.io" in media_range
            for media_range in (req.headers.get("Accept") or "").split(",")
        )

    @staticmethod
    def _table(rt: ResourceType, items: list[JSON], metadata: JSON) -> _Response:
        columns: list[tuple[str, str]] = [("Name", "name")]
        if rt is CONFIGMAP:
            columns.append(("Data", "integer"))
        elif rt is SECRET:
            columns += [("Type", "string"), ("Data", "integer")]
        elif rt is DEPLOYMENT:
            columns += [("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")]
        elif rt is NAMESPACE:
            columns.append(("Status", "string"))
        columns.append(("Age", "string"))
        rows = []
        for obj in items:
            meta = obj["metadata"]
            cells: list[Any] = [meta["name"]]
            status = obj.get("status") or {}
            if rt is CONFIGMAP:
                cells.append(len(obj.get("data") or {}) + len(obj.get("binaryData") or {}))
            elif rt is SECRET:
                cells += [obj.get("type", "Opaque"), len(obj.get("data") or {})]
            elif rt is DEPLOYMENT:
                cells += [
                    f"{status.get('readyReplicas', 0)}/{obj['spec'].get('replicas', 1)}",
                    status.get("updatedReplicas", 0),
                    status.get("availableReplicas", 0),
                ]
            elif rt is NAMESPACE:
                cells.append(status.get("phase", "Active"))
            cells.append(_age(meta.get("creationTimestamp")))
            partial = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}
            rows.append({"cells": cells, "object": partial})
        return _Response(
            200,
            {
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "columnDefinitions": [
                    {
                        "name": name,
                        "type": "string" if kind == "name" else kind,
                        "format": "name" if kind == "name" else "",
                        "description": name,
                        "priority": 0,
                    }
                    for name, kind in columns
                ],
                "rows": rows,
            },
        )

    # -- writes ------------------------------------------------------------------

    @staticmethod
    def _check_options(req: _Request, options_kind: str, *, apply: bool = False) -> bool:
        """Validate query options as the real server does (422 on e.g. ``PatchOptions``).

        Returns whether this is a dry run (``dryRun=All``).
        """
        causes: list[tuple[str, str, str]] = []
        dry_run = req.query.get("dryRun", [])
        causes += [
            ("dryRun", "FieldValueNotSupported", f'"{v}": supported values: "All"') for v in dry_run if v != "All"
        ]
        directive = req.param("fieldValidation")
        if directive not in (None, "", "Ignore", "Strict", "Warn"):
            causes.append(
                (
                    "fieldValidation",
                    "FieldValueNotSupported",
                    f'"{directive}": supported values: "Ignore", "Strict", "Warn"',
                )
            )
        manager = req.param("fieldManager") or ""
        if len(manager) > 128:
            causes.append(("fieldManager", "FieldValueTooLong", "may not be more than 128 bytes"))
        if apply and not manager:
            causes.append(("fieldManager", "FieldValueRequired", "is required for apply patch"))
        if options_kind == "PatchOptions" and not apply and "force" in req.query:
            causes.append(("force", "FieldValueForbidden", "may not be specified for non-apply patch"))
        if causes:
            raise _invalid_kind(f"{options_kind}.meta.k8s.io", "meta.k8s.io", options_kind, "", causes)
        return bool(dry_run)

    @staticmethod
    def _update_manager(req: _Request) -> str:
        manager = req.param("fieldManager")
        if manager:
            return manager
        agent = req.headers.get("User-Agent") or "unknown"
        return agent.split("/", 1)[0] or "unknown"

    def _decode(self, req: _Request) -> JSON:
        """Decode a request body by its Content-Type: JSON, YAML or (a few kinds) protobuf."""
        media = _media_type(req.headers.get("Content-Type"))
        if not req.body.strip():
            raise _bad_request("the body of the request was empty")
        try:
            if media == PROTOBUF:
                return decode_protobuf_object(req.body)
            if media in ("application/yaml", APPLY_PATCH):
                data = yaml.load(req.body, Loader=_YamlLoader)
            elif media in ("", "application/json", MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                data = json.loads(req.body)
            else:
                raise ValueError(f"unsupported media type {media!r}")
        except (ValueError, IndexError, yaml.YAMLError) as exc:
            if media in ("", "application/json", "application/yaml", APPLY_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                raise _bad_request(f"error decoding request body: {exc}") from exc
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format ({exc}) - accepted media types include:"
                f" application/json, application/yaml, {PROTOBUF} (Namespace, ConfigMap and Secret only)",
            ) from exc
        if not isinstance(data, dict):
            raise _bad_request("the request body must be an object")
        return data

    def _check_body(self, req: _Request, obj: JSON, *, apply: bool = False) -> None:
        """Type, name and namespace consistency with the URL, unknown-field validation."""
        rt = req.rt
        assert rt is not None
        if apply and obj.get("apiVersion") != rt.api_version:
            raise _bad_request(
                "Incorrect version specified in apply patch. Specified patch"
                f" version: {obj.get('apiVersion', '')}, expected:"
                f" {rt.api_version}"
            )
        if obj.get("apiVersion", rt.api_version) != rt.api_version:
            raise _bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) does not"
                f" match the expected API version ({rt.api_version})"
            )
        if obj.get("kind", rt.kind) != rt.kind:
            raise _bad_request(f"the kind in the data ({obj.get('kind')}) does not match the expected kind ({rt.kind})")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise _bad_request("metadata must be an object")
        if req.name is not None and meta.get("name", req.name) != req.name:
            raise _bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({req.name})"
            )
        if req.name is not None:
            meta["name"] = req.name
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", req.namespace):
                raise _bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = req.namespace
        self._field_validation(req, rt, obj)

    @staticmethod
    def _field_validation(req: _Request, rt: ResourceType, obj: JSON) -> None:
        directive = req.param("fieldValidation") or "Warn"
        unknown = [k for k in obj if k not in rt.known_fields]
        meta = obj.get("metadata") or {}
        unknown += [f"metadata.{k}" for k in meta if k not in _KNOWN_METADATA]
        if not unknown:
            return
        if directive == "Strict":
            fields = ", ".join(f'unknown field "{k}"' for k in unknown)
            raise _bad_request(f"strict decoding error: {fields}")
        if directive == "Warn":
            req.warnings += [f'unknown field "{k}"' for k in unknown]
        for key in unknown:
            if key.startswith("metadata."):
                meta.pop(key[len("metadata.") :], None)
            else:
                obj.pop(key, None)

    @staticmethod
    def _reject_rv_on_create(obj: Mapping[str, Any]) -> None:
        rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        if rv.isdigit() and int(rv) > 0:
            raise ApiError(500, "", "resourceVersion should not be set on objects to be created")

    def _create(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None
        dry_run = self._check_options(req, "CreateOptions")
        obj = self._decode(req)
        self._check_body(req, obj)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{secrets.token_hex(3)[:5]}"
        name = meta.get("name") or ""
        with self._lock:
            self._require_namespace(rt, req.namespace)
            if name and self._exists(rt, req.namespace or "", name):
                raise ApiError(409, "AlreadyExists", f'{rt.qualified} "{name}" already exists', _details(rt, name))
            self._reject_rv_on_create(obj)
            stored = self._commit_update(rt, None, obj, self._update_manager(req), dry_run)
        return _Response(201, stored)

    def _replace(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None and req.name is not None
        dry_run = self._check_options(req, "UpdateOptions")
        obj = self._decode(req)
        self._check_body(req, obj)
        with self._lock:
            old = self._objects.get(self._key(rt, req.namespace, req.name))
            if old is None:
                raise _not_found(rt, req.name)
            stored = self._commit_update(rt, old, obj, self._update_manager(req), dry_run)
        return _Response(200, stored)

    def _patch(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None and req.name is not None
        media = _media_type(req.headers.get("Content-Type"))
        if media == APPLY_PATCH:
            return self._apply(req)
        if media not in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
            raise ApiError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media"
                f" types include: {JSON_PATCH}, {MERGE_PATCH}, {APPLY_PATCH},"
                f" {STRATEGIC_MERGE_PATCH}",
            )
        dry_run = self._check_options(req, "PatchOptions")
        patch = self._decode(req)
        with self._lock:
            old = self._objects.get(self._key(rt, req.namespace, req.name))
            if old is None:
                raise _not_found(rt, req.name)
            merge = json_merge_patch if media == MERGE_PATCH else strategic_merge_patch
            patched = merge(old, patch)
            self._check_body(req, patched)
            stored = self._commit_update(rt, old, patched, self._update_manager(req), dry_run)
        return _Response(200, stored)

    def _apply(self, req: _Request) -> _Response:
        rt = req.rt
        assert rt is not None and req.name is not None
        dry_run = self._check_options(req, "PatchOptions", apply=True)
        manager = req.param("fieldManager") or ""
        force_param = (req.param("force") or "false").lower()
        if force_param not in ("true", "false"):
            raise _bad_request(f'invalid boolean value "{force_param}" for force')
        force = force_param == "true"
        applied = self._decode(req)
        if (applied.get("metadata") or {}).get("managedFields") is not None:
            raise _bad_request("metadata.managedFields must be nil")
        self._check_body(req, applied, apply=True)
        applied.pop("status", None)
        if rt is SECRET:
            _secret_string_data(applied)
        applied_paths = _field_paths(applied)
        with self._lock:
            old = self._objects.get(self._key(rt, req.namespace, req.name))
            if old is None:
                self._require_namespace(rt, req.namespace)
                self._reject_rv_on_create(applied)
                new = self._prepare(rt, None, applied)
                entries = [_ManagedEntry(manager, "Apply", rt.api_version, _now(), applied_paths)]
                return _Response(201, self._store(rt, None, new, entries, dry_run))
            entries = _parse_entries(old)
            mine = next(
                (e for e in entries if e.manager == manager and e.operation == "Apply" and not e.subresource), None
            )
            conflicts: list[tuple[_ManagedEntry, FieldPath]] = []
            for path in sorted(applied_paths):
                current = _get_path(old, path)
                if current is _MISSING or current == _get_path(applied, path):
                    continue
                conflicts += [(e, path) for e in entries if e is not mine and e.owns(path)]
            if conflicts and not force:
                raise self._apply_conflict(rt, req.name, conflicts)
            for entry, path in conflicts:
                entry.paths = {p for p in entry.paths if not _overlaps(p, path)}
            merged = _deep_merge(copy.deepcopy(old), applied)
            for path in (mine.paths - applied_paths) if mine else set():
                still_wanted = any(_overlaps(path, p) for p in applied_paths)
                owned_elsewhere = any(e is not mine and e.owns(path) for e in entries)
                if not still_wanted and not owned_elsewhere:
                    _delete_path(merged, path)
            if mine is None:
                mine = _entry(entries, manager, "Apply", rt.api_version)
            mine.paths, mine.time = set(applied_paths), _now()
            new = self._prepare(rt, old, merged)
            return _Response(200, self._store(rt, old, new, entries, dry_run))

    @staticmethod
    def _apply_conflict(rt: ResourceType, name: str, conflicts: list[tuple[_ManagedEntry, FieldPath]]) -> ApiError:
        causes = [
            {
                "reason": "FieldManagerConflict",
                "message": f'conflict with "{e.manager}" using {e.api_version}',
                "field": _dotted(path),
            }
            for e, path in conflicts
        ]
        if len(conflicts) == 1:
            entry, path = conflicts[0]
            message = (
                f'Apply failed with 1 conflict: conflict with "{entry.manager}" using'
                f" {entry.api_version}: {_dotted(path)}"
            )
        else:
            by_manager: dict[tuple[str, str], list[str]] = {}
            for entry, path in conflicts:
                by_manager.setdefault((entry.manager, entry.api_version), []).append(_dotted(path))
            message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(
                f'conflicts with "{m}" using {v}:\n' + "\n".join(f"- {f}" for f in fields)
                for (m, v), fields in by_manager.items()
            )
        details = _details(rt, name)
        details["causes"] = causes
        return ApiError(409, "Conflict", message, details)

    def _commit_update(self, rt: ResourceType, old: JSON | None, obj: JSON, manager: str, dry_run: bool) -> JSON:
        """Create/replace/patch as an ``Update`` operation by ``manager``: it takes ownership
        of every field whose value it changed."""
        new = self._prepare(rt, old, obj)
        entries = _parse_entries(old)
        old_paths = _field_paths(old) if old is not None else set()
        new_paths = _field_paths(new)
        changed = {p for p in new_paths if old is None or _get_path(old, p) != _get_path(new, p)}
        touched = changed | (old_paths - new_paths)
        for entry in entries:
            entry.paths = {p for p in entry.paths if not any(_overlaps(p, t) for t in touched)}
        if changed:
            mine = _entry(entries, manager, "Update", rt.api_version)
            mine.paths |= changed
            mine.time = _now()
        return self._store(rt, old, new, entries, dry_run)

    def _prepare(self, rt: ResourceType, old: JSON | None, obj: JSON) -> JSON:
        """Server-side metadata, defaults, validation and immutability for a write."""
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        for key in ("managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(key, None)
        if old is None:
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            meta.pop("resourceVersion", None)
            meta.pop("generation", None)
            new.pop("status", None)
        else:
            old_meta = old["metadata"]
            if meta.get("resourceVersion") not in (None, "", old_meta["resourceVersion"]):
                raise _conflict(rt, old_meta["name"])
            if meta.get("uid") not in (None, "", old_meta["uid"]):
                raise _invalid(
                    rt,
                    old_meta["name"],
                    [("metadata.uid", "FieldValueInvalid", f'"{meta["uid"]}": field is immutable')],
                )
            for key in ("uid", "creationTimestamp", "resourceVersion", "generation"):
                if key in old_meta:
                    meta[key] = old_meta[key]
                else:
                    meta.pop(key, None)
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if rt is SECRET:
            _secret_string_data(new)
        _apply_defaults(rt, new)
        _validate(rt, new)
        if old is not None:
            _check_immutable(rt, old, new)
        return new

    def _store(
        self,
        rt: ResourceType,
        old: JSON | None,
        new: JSON,
        entries: list[_ManagedEntry],
        dry_run: bool,
        *,
        keep_status: bool = False,
    ) -> JSON:
        """Persist ``new`` (unless a no-op or dry run) and return what the client sees."""
        meta = new["metadata"]
        rendered = [e.render() for e in entries if e.paths]
        if rendered:
            meta["managedFields"] = rendered
        else:
            meta.pop("managedFields", None)
        if rt is DEPLOYMENT:
            spec_changed = old is None or old.get("spec") != new.get("spec")
            generation = int((old or {}).get("metadata", {}).get("generation", 0))
            meta["generation"] = generation + 1 if spec_changed else max(generation, 1)
            if self.simulate_rollouts and not keep_status and (spec_changed or "status" not in new):
                new["status"] = _deployment_status(new["spec"], meta["generation"])
        if old is not None and _comparable(old) == _comparable(new):
            return copy.deepcopy(old)
        if dry_run:
            return copy.deepcopy(new)
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        self._objects[self._key(rt, meta.get("namespace"), meta["name"])] = new
        return copy.deepcopy(new)


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(int((datetime.now(UTC) - created).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
