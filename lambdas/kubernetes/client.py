"""A small Kubernetes REST client for the Lambda functions and the operator CLI.

Only what backup and restore need: list ConfigMaps/Secrets (paginated), get, server-side
apply and ``rollout restart`` of Deployments. Built on ``urllib3`` (a botocore dependency)
instead of the kubernetes client to keep Lambda cold starts short.

Failures raise :class:`KubeError` subclasses. 429, 5xx, connection errors and read timeouts
are retried with bounded exponential backoff (with jitter, honouring ``Retry-After``); 401 and
403 fail fast. Request bodies (which may carry Secret data) never appear in messages or logs.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import urllib3
import yaml
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import SSLError as Urllib3SSLError

__all__ = [
    "ApplyResult",
    "DeploymentPausedError",
    "KubeClient",
    "KubeConfigError",
    "KubeConflictError",
    "KubeConnection",
    "KubeError",
    "KubeExpiredError",
    "KubeForbiddenError",
    "KubeInvalidError",
    "KubeNotFoundError",
    "KubeUnauthorizedError",
    "KubeUnavailableError",
    "eks_connection",
    "eks_token",
    "load_kubeconfig",
]

LOG = logging.getLogger(__name__)

JSON = dict[str, Any]

SERVICE_ACCOUNT_DIR: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount")
RESTARTED_AT: Final = "kubectl.kubernetes.io/restartedAt"
EKS_TOKEN_PREFIX: Final = "k8s-aws-v1."
EKS_TOKEN_REFRESH_SECONDS: Final = 600.0
MAX_LIST_RESTARTS: Final = 3
_EKS_ARN: Final = re.compile(r"^arn:aws[a-z-]*:eks:[^:]*:[0-9]*:cluster/(?P<name>.+)$")
_FORBIDDEN: Final = re.compile(
    r'cannot (?P<verb>[\w-]+) resource "(?P<resource>[^"]+)" in API group "(?P<group>[^"]*)"'
    r'(?: in the namespace "(?P<namespace>[^"]+)"| at the cluster scope)?'
)
_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CLUSTER_SCOPED_KINDS: Final = frozenset(
    {"Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass",
     "CustomResourceDefinition", "PriorityClass"}
)  # fmt: skip


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


class KubeConfigError(Exception):
    """The kubeconfig (or in-cluster configuration) is missing, invalid or unsupported."""


class KubeError(Exception):
    """A failed Kubernetes API request. ``status``/``reason``/``message`` come from the server's
    ``Status`` body when there is one; ``str(error)`` is a human-readable summary."""

    def __init__(self, text: str, *, status: int | None = None, reason: str = "", message: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.reason = reason
        self.message = message if message is not None else text


class KubeUnauthorizedError(KubeError):
    """401: the credentials were rejected."""


class KubeForbiddenError(KubeError):
    """403: the identity lacks a permission (see the message for which)."""


class KubeNotFoundError(KubeError):
    """404."""


class KubeConflictError(KubeError):
    """409: a resourceVersion or field-manager conflict."""


class KubeExpiredError(KubeError):
    """410: e.g. an expired ``continue`` token."""


class KubeInvalidError(KubeError):
    """422: the object was rejected (e.g. a change to an immutable field)."""


class KubeUnavailableError(KubeError):
    """The API server stayed unavailable (429/5xx/timeouts) through every retry."""


class DeploymentPausedError(KubeError):
    """A paused Deployment cannot be restarted (the rollout would never happen)."""


_ERRORS: Final[dict[int, type[KubeError]]] = {
    401: KubeUnauthorizedError,
    403: KubeForbiddenError,
    404: KubeNotFoundError,
    409: KubeConflictError,
    410: KubeExpiredError,
    422: KubeInvalidError,
}


# --------------------------------------------------------------------------
# Connection settings
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeConnection:
    """Where and how to reach an API server. ``token_provider`` is called for every request
    (providers cache and refresh as needed); ``ca_data`` is PEM."""

    server: str
    token_provider: Callable[[], str] | None = None
    ca_data: bytes | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    insecure_skip_tls_verify: bool = False
    timeout: float = 30.0


def _static_token(token: str) -> Callable[[], str]:
    def provide() -> str:
        return token

    return provide


def _token_file(path: Path) -> Callable[[], str]:
    def provide() -> str:  # re-read every time: projected service account tokens rotate
        return path.read_text(encoding="utf-8").strip()

    return provide


EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
# Refresh this long before the credential's own expiry (clock skew, a request in flight).
_EXEC_EXPIRY_MARGIN_SECONDS = 30.0


class ExecCredential:
    """A token from a kubeconfig ``exec`` credential plugin, as client-go runs one: ``command`` with
    ``args`` and ``env`` added to this process's environment, ``KUBERNETES_EXEC_INFO`` describing the call
    (and the cluster when ``provideClusterInfo``), stdin inherited only for ``interactiveMode: Always``
    (``IfAvailable`` and ``Never`` get none here: the CLI and the runtime never prompt). The
    ``ExecCredential`` it prints is cached until ``status.expirationTimestamp`` (30 s before), and
    :meth:`invalidate` drops it (the client calls it on a 401 and retries once)."""

    def __init__(self, spec: Mapping[str, Any], *, server: str, ca_data: bytes | None, where: str) -> None:
        api_version = spec.get("apiVersion")
        if api_version not in EXEC_API_VERSIONS:
            raise KubeConfigError(f"{where}: exec apiVersion {api_version!r}; allowed: {', '.join(EXEC_API_VERSIONS)}")
        command = spec.get("command")
        if not isinstance(command, str) or not command:
            raise KubeConfigError(f"{where}: exec needs a command")
        args = spec.get("args") or []
        env = spec.get("env") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise KubeConfigError(f"{where}: exec args must be a list of strings")
        if not isinstance(env, list) or not all(isinstance(e, Mapping) and "name" in e for e in env):
            raise KubeConfigError(f"{where}: exec env must be a list of {{name, value}}")
        self.api_version = str(api_version)
        self.command = [command, *args]
        self.env = {str(e["name"]): str(e.get("value", "")) for e in env}
        self.interactive = spec.get("interactiveMode") == "Always"
        self.cluster_info: dict[str, Any] | None = None
        if spec.get("provideClusterInfo"):
            self.cluster_info = {"server": server}
            if ca_data:
                self.cluster_info["certificate-authority-data"] = base64.b64encode(ca_data).decode("ascii")
        self.where = where
        self._lock = threading.Lock()
        self._token = ""
        self._expires: float | None = None

    def invalidate(self) -> None:
        with self._lock:
            self._token, self._expires = "", None

    def __call__(self) -> str:
        with self._lock:
            if self._token and (self._expires is None or time.time() < self._expires):
                return self._token
            self._token, self._expires = self._run()
            return self._token

    def _run(self) -> tuple[str, float | None]:
        import subprocess

        info: dict[str, Any] = {"interactive": self.interactive}
        if self.cluster_info is not None:
            info["cluster"] = self.cluster_info
        exec_info = {"apiVersion": self.api_version, "kind": "ExecCredential", "spec": info}
        env = {**os.environ, **self.env, "KUBERNETES_EXEC_INFO": json.dumps(exec_info)}
        try:
            done = subprocess.run(
                self.command,
                env=env,
                stdin=None if self.interactive else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise KubeConfigError(f"{self.where}: exec plugin {self.command[0]!r} could not run: {exc}") from None
        if done.returncode != 0:
            detail = (done.stderr or "").strip().splitlines()[-1:] or ["no message"]
            raise KubeConfigError(
                f"{self.where}: exec plugin {self.command[0]!r} exited {done.returncode}: {detail[0]}"
            )
        try:
            credential = json.loads(done.stdout)
        except ValueError:
            raise KubeConfigError(
                f"{self.where}: exec plugin {self.command[0]!r} printed no ExecCredential JSON"
            ) from None
        status = credential.get("status") if isinstance(credential, Mapping) else None
        if credential.get("apiVersion") != self.api_version or not isinstance(status, Mapping):
            raise KubeConfigError(f"{self.where}: exec plugin answered {credential.get('apiVersion')!r}, not an "
                                  f"ExecCredential of {self.api_version} with a status")  # fmt: skip
        token = status.get("token")
        if not isinstance(token, str) or not token:
            raise KubeConfigError(
                f"{self.where}: exec plugin returned no token (client certificates from a plugin are not supported)"
            )
        expiry = status.get("expirationTimestamp")
        expires: float | None = None
        if expiry:
            try:
                at = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
            except ValueError:
                raise KubeConfigError(
                    f"{self.where}: exec plugin expirationTimestamp {expiry!r} is not RFC 3339"
                ) from None
            expires = at.timestamp() - _EXEC_EXPIRY_MARGIN_SECONDS
        return token, expires


def cluster_short_name(name: str) -> str:
    """``arn:aws:eks:region:acct:cluster/NAME`` -> ``NAME``; anything else unchanged."""
    match = _EKS_ARN.match(name)
    return match.group("name") if match else name


_TEMP_FILES: list[str] = []


def _remove_temp_files() -> None:
    for name in _TEMP_FILES:
        with contextlib.suppress(OSError):
            os.unlink(name)


atexit.register(_remove_temp_files)


def _data_to_file(data_b64: str, suffix: str) -> str:
    """urllib3 needs client certificates/keys as files: write ``*-data`` to a private temp file."""
    try:
        data = base64.b64decode(data_b64, validate=True)
    except (ValueError, TypeError) as exc:
        raise KubeConfigError(f"kubeconfig {suffix.strip('.')}-data is not valid base64") from exc
    fd, name = tempfile.mkstemp(prefix="kube-", suffix=suffix)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(name, 0o600)
    _TEMP_FILES.append(name)
    return name


def _named(entries: Any, name: str, what: str, path: str) -> Mapping[str, Any]:
    for entry in entries or []:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            value = entry.get(what)
            return value if isinstance(value, Mapping) else {}
    raise KubeConfigError(f"kubeconfig {path}: no {what} named {name!r}")


def _in_cluster() -> tuple[KubeConnection, str]:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token_path = SERVICE_ACCOUNT_DIR / "token"
    ca_path = SERVICE_ACCOUNT_DIR / "ca.crt"
    if not token_path.is_file():
        raise KubeConfigError(f"in-cluster configuration: service account token {token_path} not found")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    conn = KubeConnection(
        server=f"https://{host}:{port}",
        token_provider=_token_file(token_path),
        ca_file=str(ca_path) if ca_path.is_file() else None,
    )
    return conn, "in-cluster"


def load_kubeconfig(path: str | None = None, *, context: str | None = None) -> tuple[KubeConnection, str]:
    """Read a kubeconfig (``path``, else the first ``KUBECONFIG`` entry, else ``~/.kube/config``;
    the in-cluster service account when none exists and ``KUBERNETES_SERVICE_HOST`` is set).

    Returns the connection and the current cluster's name (for EKS ARNs, the bare cluster name).
    ``exec`` credential plugins (:class:`ExecCredential`) provide tokens; auth providers are not supported
    (raise :class:`KubeConfigError`).
    """
    if path is None:
        entries = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
        candidate = Path(entries[0]).expanduser() if entries else Path.home() / ".kube" / "config"
        if not candidate.is_file():
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                return _in_cluster()
            raise KubeConfigError(f"no kubeconfig found at {candidate} and not running in a cluster")
        config_path = candidate
    else:
        config_path = Path(path).expanduser()
        if not config_path.is_file():
            raise KubeConfigError(f"kubeconfig {config_path} not found")
    shown = str(config_path)
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"kubeconfig {shown} is not valid YAML") from exc
    except UnicodeDecodeError:
        raise KubeConfigError(f"kubeconfig {shown} is not a UTF-8 text file") from None
    except OSError as exc:
        raise KubeConfigError(f"kubeconfig {shown}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    if not isinstance(config, Mapping):
        raise KubeConfigError(f"kubeconfig {shown} is not a mapping")
    context_name = context or config.get("current-context")
    if not context_name:
        raise KubeConfigError(f"kubeconfig {shown}: no context given and no current-context set")
    ctx = _named(config.get("contexts"), str(context_name), "context", shown)
    cluster_name = str(ctx.get("cluster") or "")
    cluster = _named(config.get("clusters"), cluster_name, "cluster", shown)
    user_name = ctx.get("user")
    user = _named(config.get("users"), str(user_name), "user", shown) if user_name else {}
    base = config_path.parent

    def resolve(value: Any) -> str:
        file = Path(str(value)).expanduser()
        return str(file if file.is_absolute() else base / file)

    server = cluster.get("server")
    if not server:
        raise KubeConfigError(f"kubeconfig {shown}: cluster {cluster_name!r} has no server")
    parsed = urlsplit(str(server))
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        # Refused here, not retried: no request to a malformed address ever succeeds.
        raise KubeConfigError(f"kubeconfig {shown}: cluster {cluster_name!r} server {server!r} is not an http(s) URL")
    if "auth-provider" in user:
        raise KubeConfigError(f"kubeconfig {shown}: user {user_name!r} uses an auth-provider, which is not supported")
    ca_data: bytes | None = None
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(str(cluster["certificate-authority-data"]), validate=True)
        except ValueError as exc:
            raise KubeConfigError(f"kubeconfig {shown}: certificate-authority-data is not valid base64") from exc
    ca_file = resolve(cluster["certificate-authority"]) if cluster.get("certificate-authority") else None
    token_provider: Callable[[], str] | None = None
    if isinstance(user.get("exec"), Mapping):
        token_provider = ExecCredential(
            user["exec"], server=str(server), ca_data=ca_data, where=f"kubeconfig {shown}: user {user_name!r}"
        )
    elif user.get("token"):
        token_provider = _static_token(str(user["token"]))
    elif user.get("tokenFile"):
        token_provider = _token_file(Path(resolve(user["tokenFile"])))
    cert_file: str | None = None
    key_file: str | None = None
    if user.get("client-certificate-data"):
        cert_file = _data_to_file(str(user["client-certificate-data"]), ".crt")
    elif user.get("client-certificate"):
        cert_file = resolve(user["client-certificate"])
    if user.get("client-key-data"):
        key_file = _data_to_file(str(user["client-key-data"]), ".key")
    elif user.get("client-key"):
        key_file = resolve(user["client-key"])
    conn = KubeConnection(
        server=str(server),
        token_provider=token_provider,
        ca_data=ca_data,
        ca_file=ca_file,
        client_cert_file=cert_file,
        client_key_file=key_file,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify", False)),
    )
    return conn, cluster_short_name(cluster_name)


# --------------------------------------------------------------------------
# EKS
# --------------------------------------------------------------------------


def eks_token(cluster_name: str, sts_client: Any) -> str:
    """A bearer token for an EKS cluster (the ``aws eks get-token`` algorithm): a presigned STS
    ``GetCallerIdentity`` URL carrying the signed ``x-k8s-aws-id`` header, valid 60 s to
    present (EKS accepts it for ~15 minutes)."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster_name

    event = "before-sign.sts.GetCallerIdentity"
    sts_client.meta.events.register(event, add_header)
    try:
        url = sts_client.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    finally:
        sts_client.meta.events.unregister(event, add_header)
    encoded = base64.urlsafe_b64encode(str(url).encode("utf-8")).decode("ascii").rstrip("=")
    return EKS_TOKEN_PREFIX + encoded


class _RefreshingEksToken:
    def __init__(self, cluster_name: str, sts_client: Any, refresh_seconds: float) -> None:
        self._cluster = cluster_name
        self._sts = sts_client
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._token = ""
        self._minted = 0.0

    def __call__(self) -> str:
        with self._lock:
            now = time.monotonic()
            if not self._token or now - self._minted >= self._refresh:
                self._token = eks_token(self._cluster, self._sts)
                self._minted = now
            return self._token


def eks_connection(cluster_name: str, eks_client: Any, sts_client: Any, *, timeout: float = 30.0) -> KubeConnection:
    """Connection to an EKS cluster from ``DescribeCluster`` (endpoint and CA) with a token
    provider that mints a fresh token every ~10 minutes."""
    cluster = eks_client.describe_cluster(name=cluster_name)["cluster"]
    endpoint = cluster.get("endpoint")
    ca_b64 = (cluster.get("certificateAuthority") or {}).get("data")
    if not endpoint or not ca_b64:
        raise KubeConfigError(f"EKS cluster {cluster_name} has no endpoint or certificate authority yet")
    return KubeConnection(
        server=str(endpoint),
        token_provider=_RefreshingEksToken(cluster_name, sts_client, EKS_TOKEN_REFRESH_SECONDS),
        ca_data=base64.b64decode(str(ca_b64)),
        timeout=timeout,
    )


# --------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyResult:
    """Outcome of a server-side apply: HTTP status (201 created, 200 updated/unchanged) and the
    object as the server returned it."""

    status: int
    object: JSON

    @property
    def created(self) -> bool:
        return self.status == 201


@dataclass(frozen=True)
class _Target:
    """What a request is about, for error messages (never the body)."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


def _certificate_problem(exc: BaseException) -> bool:
    """Whether a TLS error is about the server's identity (never retried) rather than a dropped handshake."""
    text = str(exc).lower()
    return any(marker in text for marker in ("certificate verify failed", "certificate_verify_failed", "hostname"))


def _api_prefix(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def _resource_path(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    path = _api_prefix(api_version)
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
    return path


def _eks_policy(verb: str, resource: str) -> str:
    if verb in ("get", "list", "watch"):
        return "AmazonEKSSecretReaderPolicy" if resource.split("/")[0] == "secrets" else "AmazonEKSViewPolicy"
    return "AmazonEKSEditPolicy"


def _rfc3339(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeClient:
    """Kubernetes REST client over one ``urllib3.PoolManager`` (thread-safe; up to 8 pooled
    connections per host for concurrent applies)."""

    def __init__(
        self,
        conn: KubeConnection,
        *,
        max_retries: int = 5,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.conn = conn
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = time.monotonic
        # Push-back from the server (429, or a 5xx with Retry-After) pauses every thread of this client,
        # not only the one that got it: concurrent requests back off as a whole.
        self._pause_lock = threading.Lock()
        self._paused_until = 0.0
        self._server = conn.server.rstrip("/")
        pool_kwargs: dict[str, Any] = {
            "maxsize": 8,
            "retries": False,
            "timeout": urllib3.Timeout(connect=min(conn.timeout, 10.0), read=conn.timeout),
        }
        if self._server.startswith("https://"):
            if conn.insecure_skip_tls_verify:
                pool_kwargs["cert_reqs"] = "CERT_NONE"
                pool_kwargs["assert_hostname"] = False
            else:
                pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
                if conn.ca_data is not None:
                    pool_kwargs["ca_cert_data"] = conn.ca_data.decode("ascii")
                if conn.ca_file is not None:
                    pool_kwargs["ca_certs"] = conn.ca_file
            if conn.client_cert_file is not None:
                pool_kwargs["cert_file"] = conn.client_cert_file
                pool_kwargs["key_file"] = conn.client_key_file
        self._pool = urllib3.PoolManager(**pool_kwargs)

    def close(self) -> None:
        self._pool.clear()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------

    def list_items(self, kind_path: str, namespace: str, *, limit: int = 500) -> list[JSON]:
        """All objects of a core v1 namespaced type (``configmaps``, ``secrets``) in a namespace,
        paginated with ``limit``/``continue``. An expired continue token (410) restarts the list
        from scratch, at most 3 times. Items get ``apiVersion``/``kind`` filled in."""
        path = _resource_path("v1", kind_path, namespace)
        target = _Target("list", kind_path, namespace)
        restarts = 0
        while True:
            items: list[JSON] = []
            token = ""
            try:
                while True:
                    query: dict[str, str | int] = {"limit": limit}
                    if token:
                        query["continue"] = token
                    page = self._request("GET", path, target, query=query)
                    item_kind = str(page.get("kind") or "").removesuffix("List")
                    for item in page.get("items") or []:
                        item.setdefault("apiVersion", page.get("apiVersion") or "v1")
                        if item_kind:
                            item.setdefault("kind", item_kind)
                        items.append(item)
                    token = str((page.get("metadata") or {}).get("continue") or "")
                    if not token:
                        return items
            except KubeExpiredError:
                if not token or restarts >= MAX_LIST_RESTARTS:
                    raise
                restarts += 1
                LOG.warning("list %s in %s: continue token expired, restarting (%d)", kind_path, namespace, restarts)

    def get(self, kind_path: str, namespace: str | None, name: str, *, api_version: str = "v1") -> JSON | None:
        """One object, or None when it does not exist."""
        path = _resource_path(api_version, kind_path, namespace, name)
        try:
            return self._request("GET", path, _Target("get", kind_path, namespace, name))
        except KubeNotFoundError:
            return None

    def delete(self, kind_path: str, namespace: str, name: str, *, api_version: str = "v1") -> None:
        """Delete one namespaced object. Only a restore's explicit recreate of an immutable object uses it."""
        path = _resource_path(api_version, kind_path, namespace, name)
        self._request("DELETE", path, _Target("delete", kind_path, namespace, name))

    def namespace_exists(self, name: str) -> bool:
        return self.get("namespaces", None, name) is not None

    def apply(
        self, obj: Mapping[str, Any], *, field_manager: str, force: bool = True, dry_run: bool = False
    ) -> ApplyResult:
        """Server-side apply of ``obj`` (its apiVersion/kind/metadata.name/namespace pick the URL)."""
        api_version = str(obj.get("apiVersion") or "")
        kind = str(obj.get("kind") or "")
        metadata = obj.get("metadata") or {}
        name = str(metadata.get("name") or "")
        if not api_version or not kind or not name:
            raise ValueError("apply needs apiVersion, kind and metadata.name")
        namespace = None if kind in _CLUSTER_SCOPED_KINDS else (metadata.get("namespace") or None)
        plural = _plural(kind)
        path = _resource_path(api_version, plural, namespace, name)
        query: dict[str, str | int] = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        status, returned = self._request_with_status(
            "PATCH",
            path,
            _Target("patch", plural, namespace, name),
            query=query,
            body=body,
            content_type="application/apply-patch+yaml",
        )
        return ApplyResult(status, returned)

    def patch_deployment_restart(self, namespace: str, name: str, at: datetime) -> JSON:
        """``kubectl rollout restart``: set the ``restartedAt`` pod template annotation.
        Raises :class:`DeploymentPausedError` for a paused Deployment."""
        path = _resource_path("apps/v1", "deployments", namespace, name)
        current = self._request("GET", path, _Target("get", "deployments", namespace, name))
        if (current.get("spec") or {}).get("paused"):
            raise DeploymentPausedError(
                f"deployment {namespace}/{name} is paused; resume it (kubectl rollout resume) before restarting",
                reason="Paused",
            )
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: _rfc3339(at)}}}}}
        return self._request(
            "PATCH",
            path,
            _Target("patch", "deployments", namespace, name),
            body=json.dumps(patch).encode("utf-8"),
            content_type="application/strategic-merge-patch+json",
        )

    # -- transport --------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        target: _Target,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> JSON:
        return self._request_with_status(method, path, target, query=query, body=body, content_type=content_type)[1]

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            return None
        return min(max(seconds, 0.0), self.backoff_cap)

    def _request_with_status(
        self,
        method: str,
        path: str,
        target: _Target,
        *,
        query: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[int, JSON]:
        url = self._server + path + (f"?{urlencode(query)}" if query else "")
        attempts = self.max_retries + 1
        last = ""
        refreshed = False
        for attempt in range(attempts):
            self._wait_out_pushback()
            paused: float | None = None
            headers = {"Accept": "application/json", "User-Agent": "aws-backup-strategy-lambdas"}
            if self.conn.token_provider is not None:
                headers["Authorization"] = f"Bearer {self.conn.token_provider()}"
            if content_type is not None:
                headers["Content-Type"] = content_type
            try:
                response = self._pool.request(method, url, body=body, headers=headers, redirect=False)
            except Urllib3SSLError as exc:
                if _certificate_problem(exc):
                    raise KubeError(f"{method} {path}: TLS error talking to {self._server}: {exc}") from exc
                # A handshake the server (or a proxy) closed half-way is transient, like a reset connection.
                last = f"TLS handshake interrupted: {exc}"
            except Urllib3HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status
                if 200 <= status < 300:
                    return status, self._decode(method, path, response.data)
                invalidate = getattr(self.conn.token_provider, "invalidate", None)
                if status == 401 and callable(invalidate) and not refreshed:
                    # An expired or revoked exec credential: fetch a new one and retry once.
                    invalidate()
                    refreshed = True
                    LOG.info("%s %s: 401; refreshing the exec credential and retrying", method, path)
                    continue
                if status != 429 and status < 500:
                    raise self._error(method, path, target, status, response.data)
                last = f"{status} {self._status_text(response.data)}"
                delay = self._retry_after(response.headers.get("Retry-After"))
                if status == 429 or delay is not None:
                    paused = delay if delay is not None else self._backoff(attempt)
                    self._push_back(paused)
            if attempt + 1 >= attempts:
                break
            wait = paused if paused is not None else self._backoff(attempt)
            LOG.warning("%s %s: %s; retrying in %.2fs (attempt %d/%d)", method, path, last, wait, attempt + 1, attempts)
            if paused is None:  # a pause is waited out at the next attempt, with every other thread
                self._sleep(wait)
        raise KubeUnavailableError(
            f"{method} {path}: API server unavailable after {attempts} attempts; last error: {last}",
            reason="Unavailable",
        )

    def _push_back(self, seconds: float) -> None:
        with self._pause_lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _wait_out_pushback(self) -> None:
        with self._pause_lock:
            remaining = self._paused_until - self._clock()
        if remaining > 0:
            self._sleep(round(remaining, 3))

    @staticmethod
    def _decode(method: str, path: str, data: bytes) -> JSON:
        try:
            value = json.loads(data) if data else {}
        except ValueError as exc:
            raise KubeError(f"{method} {path}: the server answered with invalid JSON") from exc
        if not isinstance(value, dict):
            raise KubeError(f"{method} {path}: the server answered with a non-object JSON document")
        return value

    @staticmethod
    def _status(data: bytes) -> tuple[str, str]:
        try:
            value = json.loads(data)
        except ValueError:
            return "", data[:200].decode("utf-8", "replace").strip()
        if isinstance(value, dict):
            return str(value.get("reason") or ""), str(value.get("message") or "")
        return "", ""

    def _status_text(self, data: bytes) -> str:
        reason, message = self._status(data)
        return ": ".join(p for p in (reason, message) if p)

    def _error(self, method: str, path: str, target: _Target, status: int, data: bytes) -> KubeError:
        reason, message = self._status(data)
        cls = _ERRORS.get(status, KubeError)
        if status == 401:
            text = (
                f"{method} {path}: the API server rejected the credentials (401 Unauthorized);"
                " the token or client certificate is invalid or expired"
            )
        elif status == 403:
            match = _FORBIDDEN.search(message)
            verb = match.group("verb") if match else target.verb
            resource = match.group("resource") if match else target.resource
            namespace = (match.group("namespace") if match else target.namespace) or None
            scope = f"in namespace {namespace}" if namespace else "at cluster scope"
            text = (
                f"{method} {path}: forbidden: needs {verb} on {resource} {scope}"
                f" (for EKS: the access entry's {_eks_policy(verb, resource)}); server said: {message}"
            )
        else:
            text = f"{method} {path}: {status} {reason or 'error'}: {message}"
        return cls(text, status=status, reason=reason, message=message)
