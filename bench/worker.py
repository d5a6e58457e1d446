"""One measured operation in a fresh interpreter (the code under test never shares a GIL with the servers).

``python -m bench.worker '<json spec>'`` prints one JSON line: ``seconds`` (the operation only, after the
clients are created and a connection to each server is warm), ``vmhwm_kb`` (peak RSS of this process at the
end), ``baseline_kb`` (peak RSS before the operation) and ``detail``. With ``"profile": PATH`` the operation
runs under cProfile and the stats are dumped to PATH.
"""

from __future__ import annotations

import cProfile
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def vm_hwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _aws(spec: dict[str, Any]) -> tuple[Callable[[str], Any], Any, Any]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    clients: dict[tuple[str, str], Any] = {}

    def client(service: str, region: str = "us-east-1") -> Any:
        if (service, region) not in clients:
            clients[(service, region)] = session.client(service, region_name=region, endpoint_url=spec["endpoint"])
        return clients[(service, region)]

    def kms(region: str) -> Any:
        return client("kms", region)

    for region in ("us-east-1", "us-west-2"):
        kms(region).list_keys(Limit=1)
    client("s3").head_bucket(Bucket=spec["bucket"])
    client("events").list_event_buses(Limit=1)
    return kms, client("s3"), client("events")


def _kube(spec: dict[str, Any]) -> Any:
    from lambdas.kubernetes.client import KubeClient, KubeConnection

    token = spec["token"]
    conn = KubeConnection(
        server=spec["url"], token_provider=lambda: token, ca_data=Path(spec["ca_file"]).read_bytes(), timeout=60
    )
    kube = KubeClient(conn)
    kube.namespace_exists(spec["namespace"])
    return kube


def op_export(spec: dict[str, Any]) -> Callable[[], Any]:
    from lambdas.config_backup import ExportSettings, export_namespace

    kms, s3, events = _aws(spec)
    kube = _kube(spec)
    settings = ExportSettings(
        cluster=spec["cluster"],
        bucket=spec["bucket"],
        sops_key_arns=tuple(spec["sops_key_arns"]),
        digest_key_arn=spec["digest_key_arn"],
        event_bus_name=spec["bus"],
    )
    now = datetime.fromisoformat(spec["now"]).astimezone(UTC)

    def run() -> Any:
        result = export_namespace(
            kube=kube,
            s3=s3,
            kms=kms,
            events=events,
            settings=settings,
            namespace=spec["namespace"],
            trigger="manual",
            now=now,
            force=True,
        )
        if result.result != "created":
            raise SystemExit(f"export did not create a backup: {result.to_dict()}")
        return {"backup_id": result.backup_id, "configmaps": result.configmaps, "secrets": result.secrets}

    return run


def op_restore(spec: dict[str, Any]) -> Callable[[], Any]:
    from lambdas.config_backup import RestoreSettings, restore_namespace

    kms, s3, _ = _aws(spec)
    kube = _kube({**spec, "namespace": spec["to_namespace"]})
    settings = RestoreSettings(
        cluster=spec["cluster"],
        bucket=spec["bucket"],
        digest_key_arn=spec["digest_key_arn"],
        max_workers=int(spec.get("concurrency", 8)),
    )
    now = datetime.fromisoformat(spec["now"]).astimezone(UTC)

    def run() -> Any:
        report = restore_namespace(
            kube=kube,
            s3=s3,
            kms=kms,
            settings=settings,
            namespace=spec["namespace"],
            to_namespace=spec["to_namespace"],
            backup_id=spec["backup_id"],
            now=now,
        )
        counts = report.to_dict()["counts"]
        if not report.ok:
            raise SystemExit(f"restore failed: {counts} {report.failures[:3]}")
        return counts

    return run


def op_floor(spec: dict[str, Any]) -> Callable[[], Any]:
    """The floor: a raw paginated HTTPS list of both collections with urllib3 (JSON decoded, nothing else)."""
    import urllib3

    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=spec["ca_file"], retries=False)
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    base = f"{spec['url']}/api/v1/namespaces/{spec['namespace']}"
    pool.request("GET", f"{spec['url']}/api/v1/namespaces/{spec['namespace']}", headers=headers)

    def run() -> Any:
        count = 0
        for plural in ("configmaps", "secrets"):
            token = ""
            while True:
                fields: dict[str, str] = {"limit": "500"}
                if token:
                    fields["continue"] = token
                response = pool.request("GET", f"{base}/{plural}", fields=fields, headers=headers)
                if response.status != 200:
                    raise SystemExit(f"floor list: HTTP {response.status}")
                page = json.loads(response.data)
                count += len(page["items"])
                token = page["metadata"].get("continue") or ""
                if not token:
                    break
        return {"items": count}

    return run


def op_apply_floor(spec: dict[str, Any]) -> Callable[[], Any]:
    """The restore's floor: the same server-side-apply PATCHes, with the same concurrency, from a minimal
    client (urllib3, a thread pool, nothing else: no backup to fetch or verify, no LIST, no retries)."""
    from concurrent.futures import ThreadPoolExecutor

    import urllib3

    concurrency = int(spec.get("concurrency", 8))
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=spec["ca_file"], retries=False, maxsize=concurrency)
    headers = {
        "Authorization": f"Bearer {spec['token']}",
        "Accept": "application/json",
        "Content-Type": "application/apply-patch+yaml",
    }
    target = spec["to_namespace"]
    objects = json.loads(Path(spec["objects_file"]).read_text(encoding="utf-8"))
    pool.request("GET", f"{spec['url']}/api/v1/namespaces/{target}", headers=headers)

    def patch(obj: dict[str, Any]) -> int:
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": target}}
        plural = "configmaps" if obj["kind"] == "ConfigMap" else "secrets"
        name = obj["metadata"]["name"]
        url = f"{spec['url']}/api/v1/namespaces/{target}/{plural}/{name}?fieldManager=bench-floor&force=true"
        body = json.dumps(obj, separators=(",", ":")).encode()
        return int(pool.request("PATCH", url, body=body, headers=headers).status)

    def run() -> Any:
        with ThreadPoolExecutor(max_workers=concurrency) as executor:
            statuses = list(executor.map(patch, objects))
        bad = [s for s in statuses if s not in (200, 201)]
        if bad:
            raise SystemExit(f"apply floor: {len(bad)} PATCHes failed, e.g. HTTP {bad[0]}")
        return {"patched": len(statuses)}

    return run


def op_latency(spec: dict[str, Any]) -> Callable[[], Any]:
    """One request at a time: the server's latency for the smallest GET (a namespace), median of 30."""
    import statistics

    import urllib3

    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=spec["ca_file"], retries=False)
    headers = {"Authorization": f"Bearer {spec['token']}", "Accept": "application/json"}
    url = f"{spec['url']}/api/v1/namespaces/{spec['namespace']}"
    pool.request("GET", url, headers=headers)

    def run() -> Any:
        times = []
        for _ in range(30):
            start = time.perf_counter()
            if pool.request("GET", url, headers=headers).status != 200:
                raise SystemExit("latency: GET namespace failed")
            times.append(time.perf_counter() - start)
        return {"median_ms": 1000 * statistics.median(times)}

    return run


OPS: dict[str, Callable[[dict[str, Any]], Callable[[], Any]]] = {
    "latency": op_latency,
    "export": op_export,
    "restore": op_restore,
    "floor": op_floor,
    "apply_floor": op_apply_floor,
}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    run = OPS[spec["op"]](spec)
    baseline = vm_hwm_kb()
    profile_path = spec.get("profile")
    profiler = cProfile.Profile() if profile_path else None
    start = time.perf_counter()
    detail = profiler.runcall(run) if profiler is not None else run()
    seconds = time.perf_counter() - start
    if profiler is not None:
        profiler.dump_stats(profile_path)
    print(json.dumps({"seconds": seconds, "vmhwm_kb": vm_hwm_kb(), "baseline_kb": baseline, "detail": detail}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
