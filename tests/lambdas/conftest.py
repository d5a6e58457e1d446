"""Fixtures of the config backup tests (all prefixed ``cb_``): moto's server for S3/KMS/EventBridge/SQS
over HTTP, the fake Kubernetes API server, and seeded namespaces."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from lambdas.config_backup import ExportSettings, RestoreSettings
from lambdas.kubernetes.client import KubeClient, KubeConnection
from tests.k8s_apiserver import FakeKubeApiServer
from tests.moto_aws import create_bucket_like_template, drain_events

CB_PRIMARY_REGION = "us-east-1"
CB_DR_REGION = "us-west-2"
CB_DR_ALIAS = "alias/config-backup-dr"
_COUNTER = itertools.count(1)


def _b64(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


@dataclass
class CbAws:
    """moto's server and the keys every test uses."""

    endpoint: str
    sops_primary_arn: str = ""
    sops_dr_key_arn: str = ""
    sops_dr_alias_arn: str = ""
    digest_key_arn: str = ""
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, service: str, region: str = CB_PRIMARY_REGION) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
            return self._clients[key]

    def kms(self, region: str) -> Any:
        return self.client("kms", region)

    def sops_env(self, home: str) -> dict[str, str]:
        """Environment for the real ``sops`` binary, isolated from the host's AWS configuration."""
        import os

        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": home,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": CB_PRIMARY_REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL_KMS": self.endpoint,
            "AWS_CONFIG_FILE": f"{home}/no-aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": f"{home}/no-aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
        }


@pytest.fixture(scope="module")
def cb_aws() -> Iterator[CbAws]:
    """Per module: moto's backends are process-global and other modules may reset them (``mock_aws``)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = CbAws(endpoint=f"http://{host}:{port}")
        primary = aws.kms(CB_PRIMARY_REGION)
        dr = aws.kms(CB_DR_REGION)
        aws.sops_primary_arn = primary.create_key(Description="sops primary")["KeyMetadata"]["Arn"]
        dr_key = dr.create_key(Description="sops dr")["KeyMetadata"]
        alias = f"{CB_DR_ALIAS}-{next(_COUNTER)}"  # moto's backends outlive this server: keep names unique
        dr.create_alias(AliasName=alias, TargetKeyId=dr_key["KeyId"])
        aws.sops_dr_key_arn = dr_key["Arn"]
        aws.sops_dr_alias_arn = dr_key["Arn"].split(":key/")[0] + ":" + alias
        aws.digest_key_arn = primary.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
            "Arn"
        ]
        yield aws
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cb_kube_server() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer() as server:
        yield server


def _no_sleep(_: float) -> None:
    return None


@dataclass
class CbWorld:
    """One test's slice of the world: its own bucket, event bus (+ queue), cluster name and namespaces."""

    aws: CbAws
    server: FakeKubeApiServer
    kube: KubeClient
    cluster: str
    bucket: str
    bus: str
    queue_url: str
    suffix: str
    bucket_key: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    @property
    def events_client(self) -> Any:
        return self.aws.client("events")

    def ns(self, name: str) -> str:
        """A namespace name unique to this test."""
        return f"{name}-{self.suffix}"

    def export_settings(self, **overrides: Any) -> ExportSettings:
        values: dict[str, Any] = {
            "cluster": self.cluster,
            "bucket": self.bucket,
            "sops_key_arns": (self.aws.sops_primary_arn, self.aws.sops_dr_alias_arn),
            "digest_key_arn": self.aws.digest_key_arn,
            "event_bus_name": self.bus,
        }
        values.update(overrides)
        return ExportSettings(**values)

    def restore_settings(self) -> RestoreSettings:
        return RestoreSettings(cluster=self.cluster, bucket=self.bucket, digest_key_arn=self.aws.digest_key_arn)

    def events(self) -> list[dict[str, Any]]:
        """Every event delivered to this test's bus so far (source, detail-type, detail)."""
        return drain_events(self.aws.client("sqs"), self.queue_url, self.received)

    def stored_keys(self) -> list[str]:
        found: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            found += [o["Key"] for o in page.get("Contents") or []]
        return sorted(found)

    def read(self, key: str) -> bytes:
        body: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


@pytest.fixture
def cb_world(cb_aws: CbAws, cb_kube_server: FakeKubeApiServer) -> Iterator[CbWorld]:
    cb_kube_server.faults.clear()
    cb_kube_server.clear_requests()
    n = next(_COUNTER)
    suffix = f"t{n}"
    bucket = f"cb-backups-{n}"
    bucket_key = create_bucket_like_template(cb_aws.client("s3"), cb_aws.client("kms"), bucket)
    events, sqs = cb_aws.client("events"), cb_aws.client("sqs")
    bus = f"cb-bus-{n}"
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=f"cb-events-{n}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"cb-all-{n}", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule=f"cb-all-{n}", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    assert cb_kube_server.ca_pem is not None
    token = cb_kube_server.token
    conn = KubeConnection(
        server=cb_kube_server.url, token_provider=lambda: token, ca_data=cb_kube_server.ca_pem, timeout=10
    )
    kube = KubeClient(conn, sleep=_no_sleep, max_retries=1)
    try:
        yield CbWorld(cb_aws, cb_kube_server, kube, f"cluster-{n}", bucket, bus, queue_url, suffix, bucket_key)
    finally:
        kube.close()
        cb_kube_server.faults.clear()


# --------------------------------------------------------------------------
# Seeded namespaces
# --------------------------------------------------------------------------

CB_DB_USER = "svc_orders_writer_7731"
CB_DB_PASSWORD = "Pg-s3cr3t-Zq9XwVb7NcR2"
CB_API_TOKEN = "tok_live_4Hf8KqLm2PzR9sWx"
CB_DOCKER_AUTH = "robot:Rg7-hunter2-xyz-8812"
CB_DOCKER_CONFIG = json.dumps({"auths": {"registry.example.com": {"auth": _b64(CB_DOCKER_AUTH)}}})
CB_SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token-never-backed-up"
CB_PLAIN_SECRETS = (CB_DB_USER, CB_DB_PASSWORD, CB_API_TOKEN, CB_DOCKER_AUTH, CB_DOCKER_CONFIG, CB_SA_TOKEN)


def cb_objects(namespace: str) -> list[dict[str, Any]]:
    """The objects seeded into a namespace (kube-root-ca.crt and the token Secret must be skipped)."""
    meta = {"namespace": namespace}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                **meta,
                "name": "app-config",
                "labels": {"app.kubernetes.io/name": "orders", "git-sha": "1e5", "enabled": "yes"},
                "annotations": {"owner": "team-orders", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
            },
            "data": {"APP_MODE": "production", "feature.flags": "checkout-v2,fast-search", "PORT": "8080"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": "assets"},
            "data": {"motd": "hello\nworld\n"},
            "binaryData": {"logo.png": _b64(bytes(range(16)))},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": "release-pin", "labels": {"pinned": "true"}},
            "data": {"version": "1.2.3"},
            "immutable": True,
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {**meta, "name": "kube-root-ca.crt"},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                **meta,
                "name": "db-credentials",
                "labels": {"app.kubernetes.io/name": "postgres", "tier": "gold"},
                "annotations": {"rotated-at": "2026-01-31T00:00:00Z"},
            },
            "type": "Opaque",
            "data": {"username": _b64(CB_DB_USER), "password": _b64(CB_DB_PASSWORD)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {**meta, "name": "api-token", "labels": {"app.kubernetes.io/name": "orders"}},
            "type": "Opaque",
            "data": {"token": _b64(CB_API_TOKEN)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {**meta, "name": "registry-pull"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64(CB_DOCKER_CONFIG)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                **meta,
                "name": "default-token-x7k2p",
                "annotations": {"kubernetes.io/service-account.name": "default"},
            },
            "type": "kubernetes.io/service-account-token",
            "data": {"token": _b64(CB_SA_TOKEN)},
        },
    ]


CB_SKIPPED = frozenset({("ConfigMap", "kube-root-ca.crt"), ("Secret", "default-token-x7k2p")})


def cb_forbidden_strings() -> list[str]:
    """Every Secret value as it could leak: plain, base64 (and the inner base64 of the docker auth)."""
    found: list[str] = []
    for value in CB_PLAIN_SECRETS:
        found += [value, _b64(value)]
    return found


@pytest.fixture
def cb_seed(cb_world: CbWorld) -> Callable[[str], list[dict[str, Any]]]:
    """Seed a namespace of the fake server with :func:`cb_objects`; returns the seeded objects."""

    def seed(namespace: str) -> list[dict[str, Any]]:
        objects = cb_objects(namespace)
        cb_world.server.create_namespace(namespace)
        for obj in objects:
            cb_world.server.put_object(obj)
        return objects

    return seed
