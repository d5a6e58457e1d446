"""Tests of `lambdas.kubernetes.client` against the in-process fake Kubernetes API server."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from lambdas.kubernetes.client import (
    RESTARTED_AT,
    DeploymentPausedError,
    KubeClient,
    KubeConfigError,
    KubeConflictError,
    KubeConnection,
    KubeError,
    KubeExpiredError,
    KubeForbiddenError,
    KubeInvalidError,
    KubeUnauthorizedError,
    KubeUnavailableError,
    cluster_short_name,
    eks_connection,
    eks_token,
    load_kubeconfig,
)
from tests.support.k8s_apiserver import FakeKubeApiServer
from tests.support.moto_aws import moto_aws

NS = "production"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
CONFIGMAPS = f"/api/v1/namespaces/{NS}/configmaps"


def no_sleep(_: float) -> None:
    return None


@pytest.fixture(scope="module")
def server() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _reset(server: FakeKubeApiServer) -> None:
    server.faults.clear()
    server.clear_requests()


def connection(server: FakeKubeApiServer, *, token: str | None = None, timeout: float = 5.0) -> KubeConnection:
    value = server.token if token is None else token
    assert server.ca_pem is not None
    return KubeConnection(server=server.url, token_provider=lambda: value, ca_data=server.ca_pem, timeout=timeout)


def client(server: FakeKubeApiServer, sleeps: list[float] | None = None, **kwargs: Any) -> KubeClient:
    recorder = sleeps.append if sleeps is not None else no_sleep
    return KubeClient(connection(server), sleep=recorder, **kwargs)


def configmap(name: str, namespace: str = NS, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def secret(name: str, namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {"password": base64.b64encode(b"hunter2").decode()},
    }


@pytest.fixture
def five_secrets(server: FakeKubeApiServer) -> list[str]:
    names = [f"s{i}" for i in range(5)]
    for name in names:
        server.put_object(secret(name))
    return names


def deployment(name: str, *, paused: bool = False) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "nginx"}]}},
    }
    if paused:
        spec["paused"] = True
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS}, "spec": spec}


# -- kubeconfig ---------------------------------------------------------------


def test_load_kubeconfig_connects(server: FakeKubeApiServer, tmp_path: Path, five_secrets: list[str]) -> None:
    path = server.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    conn, cluster = load_kubeconfig(str(path))
    assert cluster == "fake"
    assert conn.server == server.url
    assert conn.token_provider is not None and conn.token_provider() == server.token
    names = [item["metadata"]["name"] for item in KubeClient(conn, sleep=no_sleep).list_items("secrets", NS)]
    assert set(five_secrets) <= set(names)


def test_load_kubeconfig_from_env_and_exec_rejected(
    server: FakeKubeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    config = yaml.safe_load(path.read_text())
    arn = "arn:aws:eks:eu-west-1:123456789012:cluster/prod-cluster"
    config["clusters"][0]["name"] = arn
    config["contexts"][0]["context"]["cluster"] = arn
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", f"{path}:{tmp_path / 'missing'}")
    conn, cluster = load_kubeconfig()
    assert cluster == "prod-cluster"
    assert KubeClient(conn, sleep=no_sleep).namespace_exists("default")

    config["users"][0]["user"] = {"exec": {"command": "aws", "args": ["eks", "get-token"]}}
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(KubeConfigError, match=r"exec apiVersion None; allowed: client\.authentication\.k8s\.io/v1"):
        load_kubeconfig()


def test_cluster_short_name() -> None:
    assert cluster_short_name("arn:aws:eks:us-east-1:123456789012:cluster/a/b") == "a/b"
    assert cluster_short_name("kind-dev") == "kind-dev"


# -- listing ------------------------------------------------------------------


def test_list_paginates(server: FakeKubeApiServer, five_secrets: list[str]) -> None:
    items = client(server).list_items("secrets", NS, limit=2)
    assert [i["metadata"]["name"] for i in items] == five_secrets
    assert all(i["kind"] == "Secret" and i["apiVersion"] == "v1" for i in items)
    pages = server.requests_matching("GET", SECRETS)
    assert len(pages) == 3
    assert [p.param("limit") for p in pages] == ["2", "2", "2"]
    assert pages[0].param("continue") is None
    assert pages[1].param("continue") and pages[2].param("continue")


def test_list_restarts_after_expired_continue(server: FakeKubeApiServer, five_secrets: list[str]) -> None:
    server.faults.expire_continue(nth=1, path_prefix=SECRETS)
    items = client(server).list_items("secrets", NS, limit=2)
    assert [i["metadata"]["name"] for i in items] == five_secrets
    statuses = [(r.param("continue") is not None, r.status) for r in server.requests_matching("GET", SECRETS)]
    assert statuses == [(False, 200), (True, 410), (False, 200), (True, 200), (True, 200)]


def test_list_gives_up_after_bounded_restarts(server: FakeKubeApiServer, five_secrets: list[str]) -> None:
    server.faults.expire_continue(nth=1, path_prefix=SECRETS, times=100)
    with pytest.raises(KubeExpiredError, match="410") as info:
        client(server).list_items("secrets", NS, limit=2)
    assert info.value.status == 410
    assert len(server.requests_matching("GET", SECRETS, query_param="continue")) == 4


def test_429_is_retried_honouring_retry_after(server: FakeKubeApiServer, five_secrets: list[str]) -> None:
    server.faults.add(method="GET", path_prefix=SECRETS, status=429, times=2, retry_after=2)
    sleeps: list[float] = []
    items = client(server, sleeps).list_items("secrets", NS)
    assert len(items) == 5
    assert sleeps == [2.0, 2.0]
    assert [r.status for r in server.requests_matching("GET", SECRETS)] == [429, 429, 200]


def test_retry_after_is_capped(server: FakeKubeApiServer, five_secrets: list[str]) -> None:
    server.faults.add(method="GET", path_prefix=SECRETS, status=429, times=1, retry_after=600)
    sleeps: list[float] = []
    client(server, sleeps, backoff_cap=3.0).list_items("secrets", NS)
    assert sleeps == [3.0]


def test_503_forever_gives_up(server: FakeKubeApiServer) -> None:
    server.faults.add(method="GET", path_prefix=CONFIGMAPS, status=503, times=None)
    sleeps: list[float] = []
    with pytest.raises(KubeUnavailableError, match="after 4 attempts") as info:
        client(server, sleeps, max_retries=3, backoff_base=0.2, backoff_cap=5.0).list_items("configmaps", NS)
    assert "503" in str(info.value)
    assert len(server.requests_matching("GET", CONFIGMAPS)) == 4
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):  # exponential with jitter in [ceiling/2, ceiling]
        ceiling = min(5.0, 0.2 * 2**attempt)
        assert ceiling / 2 <= slept <= ceiling


def test_401_fails_fast(server: FakeKubeApiServer) -> None:
    sleeps: list[float] = []
    kube = KubeClient(connection(server, token="wrong"), sleep=sleeps.append)
    with pytest.raises(KubeUnauthorizedError, match="rejected the credentials") as info:
        kube.list_items("secrets", NS)
    assert info.value.status == 401
    assert len(server.requests) == 1 and sleeps == []


def test_403_fails_fast_and_names_the_permission(server: FakeKubeApiServer) -> None:
    server.faults.add(method="GET", path_prefix=SECRETS, status=403, times=None)
    sleeps: list[float] = []
    with pytest.raises(KubeForbiddenError) as info:
        client(server, sleeps).list_items("secrets", NS)
    text = str(info.value)
    assert "needs list on secrets in namespace production" in text
    assert "AmazonEKSSecretReaderPolicy" in text
    assert info.value.status == 403 and info.value.reason == "Forbidden"
    assert len(server.requests) == 1 and sleeps == []


# -- get / namespaces ------------------------------------------------------------


def test_get_and_namespace_exists(server: FakeKubeApiServer) -> None:
    server.put_object(configmap("present", k="v"))
    kube = client(server)
    found = kube.get("configmaps", NS, "present")
    assert found is not None and found["data"] == {"k": "v"}
    assert kube.get("configmaps", NS, "absent") is None
    assert kube.namespace_exists(NS)
    assert not kube.namespace_exists("no-such-namespace")


# -- apply ------------------------------------------------------------------------


def test_apply_creates_then_updates(server: FakeKubeApiServer) -> None:
    kube = client(server)
    created = kube.apply(configmap("applied", a="1"), field_manager="backup-restore")
    assert created.status == 201 and created.created
    assert created.object["data"] == {"a": "1"}
    updated = kube.apply(configmap("applied", a="2"), field_manager="backup-restore")
    assert updated.status == 200 and not updated.created
    stored = server.get_object("ConfigMap", NS, "applied")
    assert stored is not None and stored["data"] == {"a": "2"}
    request = server.requests_matching("PATCH", f"{CONFIGMAPS}/applied")[0]
    assert request.content_type == "application/apply-patch+yaml"
    assert request.param("fieldManager") == "backup-restore" and request.param("force") == "true"
    assert request.param("dryRun") is None


def test_apply_dry_run_stores_nothing(server: FakeKubeApiServer) -> None:
    result = client(server).apply(secret("dry"), field_manager="backup-restore", dry_run=True)
    assert result.status == 201 and result.object["metadata"]["name"] == "dry"
    assert server.get_object("Secret", NS, "dry") is None
    assert server.requests_matching("PATCH", f"{SECRETS}/dry")[0].param("dryRun") == "All"


def test_apply_immutable_change_is_invalid(server: FakeKubeApiServer) -> None:
    server.put_object({**configmap("frozen", k="old"), "immutable": True})
    obj = {**configmap("frozen", k="new"), "immutable": True}
    with pytest.raises(KubeInvalidError) as info:
        client(server).apply(obj, field_manager="backup-restore")
    assert info.value.status == 422 and info.value.reason == "Invalid"
    assert "immutable" in info.value.message and "immutable" in str(info.value)
    assert "new" not in str(info.value).replace("frozen", "")  # no request body in the message


def test_apply_conflict_without_force(server: FakeKubeApiServer) -> None:
    server.put_object(configmap("owned", k="theirs"), manager="someone-else", operation="Apply")
    with pytest.raises(KubeConflictError) as info:
        client(server).apply(configmap("owned", k="mine"), field_manager="backup-restore", force=False)
    assert info.value.status == 409
    stored = server.get_object("ConfigMap", NS, "owned")
    assert stored is not None and stored["data"] == {"k": "theirs"}


def test_errors_never_carry_the_request_body(server: FakeKubeApiServer) -> None:
    server.faults.add(method="PATCH", path_prefix=SECRETS, status=500, times=None)
    obj = secret("leaky")
    with pytest.raises(KubeUnavailableError) as info:
        client(server, max_retries=1).apply(obj, field_manager="backup-restore")
    assert obj["data"]["password"] not in str(info.value)


# -- rollout restart ---------------------------------------------------------------


def test_rollout_restart_sets_annotation(server: FakeKubeApiServer) -> None:
    server.put_object(deployment("web"))
    at = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    result = client(server).patch_deployment_restart(NS, "web", at)
    assert result["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == "2025-03-04T05:06:07Z"
    stored = server.get_object("Deployment", NS, "web")
    assert stored is not None
    assert stored["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == "2025-03-04T05:06:07Z"
    patch = server.requests_matching("PATCH", f"/apis/apps/v1/namespaces/{NS}/deployments/web")[0]
    assert patch.content_type == "application/strategic-merge-patch+json"


def test_rollout_restart_refuses_paused(server: FakeKubeApiServer) -> None:
    server.put_object(deployment("paused", paused=True))
    with pytest.raises(DeploymentPausedError, match="paused"):
        client(server).patch_deployment_restart(NS, "paused", datetime.now(UTC))
    assert server.requests_matching("PATCH") == []


# -- timeouts -----------------------------------------------------------------------


def test_slow_response_is_retried_then_unavailable(server: FakeKubeApiServer) -> None:
    server.faults.add(method="GET", path_prefix=CONFIGMAPS, delay=1.5, times=None)
    sleeps: list[float] = []
    conn = connection(server, timeout=0.3)
    with pytest.raises(KubeUnavailableError, match="after 3 attempts") as info:
        KubeClient(conn, max_retries=2, sleep=sleeps.append).list_items("configmaps", NS)
    assert "timed out" in str(info.value).lower() or "timeout" in str(info.value).lower()
    assert len(sleeps) == 2
    assert len(server.requests_matching("GET", CONFIGMAPS)) == 3


def test_slow_response_then_success(server: FakeKubeApiServer) -> None:
    server.put_object(configmap("eventually", k="v"))
    server.faults.add(method="GET", path_prefix=CONFIGMAPS, delay=1.0, times=1)
    conn = connection(server, timeout=0.3)
    items = KubeClient(conn, sleep=no_sleep).list_items("configmaps", NS)
    assert "eventually" in [i["metadata"]["name"] for i in items]


# -- EKS -------------------------------------------------------------------------------


def test_eks_token_format() -> None:
    sts = boto3.client(
        "sts", region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret-example"
    )
    token = eks_token("prod-cluster", sts)
    assert token.startswith("k8s-aws-v1.")
    encoded = token.removeprefix("k8s-aws-v1.")
    assert "=" not in encoded
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.hostname is not None and "sts" in parts.hostname
    query = parse_qs(parts.query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-Expires"] == ["60"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")
    # The handler is removed again: a second token for another cluster is independent.
    assert eks_token("other", sts) != token


def test_eks_connection_takes_endpoint_and_ca_from_describe_cluster() -> None:
    with moto_aws() as aws:
        eks = aws.client("eks")
        created = eks.create_cluster(
            name="ecommerce-conn",
            roleArn="arn:aws:iam::123456789012:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
        )["cluster"]
        conn = eks_connection("ecommerce-conn", eks, aws.client("sts"))
    assert conn.server == created["endpoint"]
    assert conn.ca_data == base64.b64decode(created["certificateAuthority"]["data"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda path, cfg: path.write_bytes(b"\xff\xfe\x00binary\x81"), "is not a UTF-8 text file"),
        (lambda path, cfg: path.write_text("clusters: [unclosed", encoding="utf-8"), "is not valid YAML"),
        (lambda path, cfg: _rewrite(path, cfg, "certificate-authority-data", "Zm9v\u00e9"), "is not valid base64"),
        (lambda path, cfg: _rewrite(path, cfg, "server", "not a url"), "server 'not a url' is not an http(s) URL"),
        (lambda path, cfg: _rewrite(path, cfg, "server", "ftp://cluster"), "is not an http(s) URL"),
    ],
    ids=["binary", "malformed", "non-ascii-ca", "server-not-url", "server-not-http"],
)
def test_a_bad_kubeconfig_is_refused_with_a_clear_message_and_no_request(
    server: FakeKubeApiServer, tmp_path: Path, change: Any, message: str
) -> None:
    import yaml

    path = server.write_kubeconfig(tmp_path / "kubeconfig")
    change(path, yaml.safe_load(path.read_text()))
    with pytest.raises(KubeConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_kubeconfig(str(path))
    assert server.requests == []


def _rewrite(path: Path, config: dict[str, Any], key: str, value: str) -> None:
    import yaml

    config["clusters"][0]["cluster"][key] = value
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def test_a_tls_handshake_the_peer_closes_is_retried_and_a_bad_certificate_is_not(
    server: FakeKubeApiServer, tmp_path: Path
) -> None:
    import socket
    import threading

    target = urlsplit(server.url)
    listener = socket.create_server(("127.0.0.1", 0))
    drops = {"left": 2}

    def relay(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if drops["left"] > 0:  # the first connections: closed before the handshake completes
                drops["left"] -= 1
                client.close()
                continue
            upstream = socket.create_connection((target.hostname, target.port))
            threading.Thread(target=relay, args=(client, upstream), daemon=True).start()
            threading.Thread(target=relay, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        path = server.write_kubeconfig(tmp_path / "kubeconfig")
        conn, _ = load_kubeconfig(str(path))
        port = listener.getsockname()[1]
        # The certificate names 127.0.0.1 / localhost: the relay keeps the host, changes the port.
        relayed = dataclasses.replace(conn, server=f"https://{target.hostname}:{port}")
        waits: list[float] = []
        assert KubeClient(relayed, sleep=waits.append).namespace_exists("default")
        assert len(waits) == 2  # two dropped handshakes, each retried after a back-off
    finally:
        listener.close()
    # A certificate the client does not trust is an identity problem: refused at once, not retried.
    untrusted = dataclasses.replace(conn, ca_file=None, ca_data=None)
    waits = []
    with pytest.raises(KubeError, match="TLS error"):
        KubeClient(untrusted, sleep=waits.append).namespace_exists("default")
    assert waits == []


PLUGIN = """#!{python}
import json, os, sys
calls = os.environ["PLUGIN_CALLS"]
with open(calls, "a") as f:
    f.write(os.environ["KUBERNETES_EXEC_INFO"] + "\\n")
n = sum(1 for _ in open(calls))
tokens = os.environ["PLUGIN_TOKENS"].split(",")
status = {{"token": tokens[min(n, len(tokens)) - 1]}}
if os.environ.get("PLUGIN_EXPIRY"):
    status["expirationTimestamp"] = os.environ["PLUGIN_EXPIRY"]
print(json.dumps({{"apiVersion": os.environ["PLUGIN_API"], "kind": "ExecCredential", "status": status}}))
"""


def _exec_kubeconfig(
    server: FakeKubeApiServer, tmp_path: Path, *, api: str, tokens: list[str], expiry: str | None = None
) -> tuple[Path, Path]:
    import sys

    import yaml

    tmp_path.mkdir(parents=True, exist_ok=True)
    server.create_namespace(NS)  # whichever tests ran before on this server
    plugin = tmp_path / "fake-plugin"
    plugin.write_text(PLUGIN.format(python=sys.executable), encoding="utf-8")
    plugin.chmod(0o755)
    calls = tmp_path / "calls"
    path = server.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS)
    config = yaml.safe_load(path.read_text())
    values = {"PLUGIN_CALLS": str(calls), "PLUGIN_TOKENS": ",".join(tokens), "PLUGIN_API": api}
    if expiry:
        values["PLUGIN_EXPIRY"] = expiry
    env = [{"name": k, "value": v} for k, v in values.items()]
    config["users"][0]["user"] = {
        "exec": {
            "apiVersion": api,
            "command": str(plugin),
            "args": [],
            "env": env,
            "interactiveMode": "Never",
            "provideClusterInfo": True,
        }
    }
    path.write_text(yaml.safe_dump(config))
    return path, calls


@pytest.mark.parametrize("api", ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"])
def test_an_exec_credential_plugin_provides_the_token_once_until_it_expires(
    server: FakeKubeApiServer, tmp_path: Path, api: str
) -> None:
    import json

    path, calls = _exec_kubeconfig(server, tmp_path, api=api, tokens=[server.token])
    conn, _ = load_kubeconfig(str(path))
    client = KubeClient(conn, sleep=no_sleep)
    assert client.namespace_exists(NS) and client.namespace_exists("default")
    infos = [json.loads(line) for line in calls.read_text().splitlines()]
    assert len(infos) == 1  # cached: no expiry given
    assert infos[0]["apiVersion"] == api and infos[0]["spec"]["interactive"] is False
    assert infos[0]["spec"]["cluster"]["server"] == server.url  # provideClusterInfo
    # An expiry in the past: every request runs the plugin again.
    path, calls = _exec_kubeconfig(server, tmp_path / "expired", api=api, tokens=[server.token],
                                   expiry="2000-01-01T00:00:00Z")  # fmt: skip
    conn, _ = load_kubeconfig(str(path))
    client = KubeClient(conn, sleep=no_sleep)
    assert client.namespace_exists(NS) and client.namespace_exists(NS)
    assert len(calls.read_text().splitlines()) == 2


def test_a_401_refreshes_the_exec_credential_once(server: FakeKubeApiServer, tmp_path: Path) -> None:
    path, calls = _exec_kubeconfig(
        server, tmp_path, api="client.authentication.k8s.io/v1", tokens=["stale", server.token]
    )
    conn, _ = load_kubeconfig(str(path))
    assert KubeClient(conn, sleep=no_sleep).namespace_exists(NS)
    assert len(calls.read_text().splitlines()) == 2  # the stale token, then a fresh one after the 401
    path, calls = _exec_kubeconfig(server, tmp_path / "bad", api="client.authentication.k8s.io/v1", tokens=["bad"])
    conn, _ = load_kubeconfig(str(path))
    with pytest.raises(KubeUnauthorizedError):
        KubeClient(conn, sleep=no_sleep).namespace_exists(NS)
    assert len(calls.read_text().splitlines()) == 2  # refreshed once, then the 401 stands


def test_a_failing_or_silent_plugin_is_a_clear_error(server: FakeKubeApiServer, tmp_path: Path) -> None:
    path, _ = _exec_kubeconfig(server, tmp_path, api="client.authentication.k8s.io/v1", tokens=[server.token])
    import yaml

    config = yaml.safe_load(path.read_text())
    config["users"][0]["user"]["exec"]["command"] = "/bin/false"
    path.write_text(yaml.safe_dump(config))
    conn, _ = load_kubeconfig(str(path))
    with pytest.raises(KubeConfigError, match="exec plugin '/bin/false' exited 1"):
        KubeClient(conn, sleep=no_sleep).namespace_exists(NS)
    config["users"][0]["user"]["exec"]["command"] = "/bin/true"
    path.write_text(yaml.safe_dump(config))
    conn, _ = load_kubeconfig(str(path))
    with pytest.raises(KubeConfigError, match="printed no ExecCredential JSON"):
        KubeClient(conn, sleep=no_sleep).namespace_exists(NS)


def test_kubectl_reads_the_same_exec_kubeconfig(server: FakeKubeApiServer, tmp_path: Path) -> None:
    """The real kubectl and this client, one kubeconfig with an exec plugin: both authenticate."""
    import subprocess

    from tests.support.test_k8s_apiserver import KUBECTL

    path, calls = _exec_kubeconfig(server, tmp_path, api="client.authentication.k8s.io/v1", tokens=[server.token])
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "KUBECONFIG": str(path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(KUBECTL), "get", "namespace", NS, "-o", "name"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"namespace/{NS}"
    assert len(calls.read_text().splitlines()) >= 1  # kubectl ran the plugin
    conn, _ = load_kubeconfig(str(path))
    assert KubeClient(conn, sleep=no_sleep).namespace_exists(NS)


# -- push-back shared by every thread ----------------------------------------------------------


def test_a_429_pauses_every_thread_of_the_client_not_only_the_one_that_got_it(server: FakeKubeApiServer) -> None:
    """One thread's 429 with Retry-After: 1 makes the others wait too, before their next request."""
    import threading
    import time

    for i in range(4):
        server.put_object(configmap(f"cm-{i}", k="v"))
    server.faults.add(method="GET", path_prefix=f"{CONFIGMAPS}/cm-0", status=429, times=1, retry_after=1)
    kube = KubeClient(connection(server))  # real sleeps
    first = threading.Thread(target=kube.get, args=("configmaps", NS, "cm-0"))
    started = time.monotonic()
    first.start()
    deadline = time.monotonic() + 5
    while not server.requests_matching("GET", f"{CONFIGMAPS}/cm-0") and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # the 429 is in: the client is paused
    others = [kube.get("configmaps", NS, f"cm-{i}") for i in (1, 2, 3)]
    first.join()
    assert all(o is not None for o in others)
    assert time.monotonic() - started >= 1.0
    answered = [r for r in server.requests_matching("GET", CONFIGMAPS) if r.status == 200]
    assert len(answered) == 4  # nothing was sent while paused and then failed
