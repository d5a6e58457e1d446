"""Benchmark harness: ``python -m bench.run [--quick] [--only NAME ...] [--profile]``.

Measurements (names for ``--only``): ``synth``, ``tests``, ``export``, ``restore``, ``lambda``, ``growth``.
Every timed figure is the median of N runs after one warm-up (N = 5, ``--quick``: 3), with min and max.
Results go to ``bench/results.md`` and ``bench/results.json`` (with ``--only`` the rows of the previous
results that were not re-measured are kept).

Fairness: the code under test (export/restore, the urllib3 floor) runs in a fresh interpreter per run
(``bench.worker``), like kubectl; the fake Kubernetes API server runs in threads of this process and moto in
its own process (``moto_server``), so neither competes for the GIL of the code under test (they still share
the machine's cores with it, as kubectl does).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import io
import json
import os
import platform
import random
import shutil
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lambdas.contract.functions import FUNCTIONS

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
NODE_BIN = ROOT / "node_modules" / ".bin"
KUBECTL = shutil.which("kubectl", path=str(ROOT / ".venv" / "bin")) or "kubectl"
MOTO_SERVER = str(ROOT / ".venv" / "bin" / "moto_server")
MEASUREMENTS = ("synth", "tests", "export", "restore", "lambda", "growth")
BASE_NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
MB = 1024 * 1024


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    env.update(extra)
    return env


# --------------------------------------------------------------------------
# Rows and statistics
# --------------------------------------------------------------------------


@dataclass
class Row:
    section: str
    name: str
    unit: str
    values: list[float]
    target: str = ""
    limit: float | None = None
    """The verdict compares the median with ``limit`` (``<=``); None: informational row."""
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return ""
        return "meets" if self.median <= self.limit else "MISSES"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(median=self.median, min=min(self.values), max=max(self.values), verdict=self.verdict)
        return data


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "us/obj":
        return f"{value:.0f} µs/obj"
    return f"{value:g} {unit}"


def repeat(runs: int, fn: Callable[[int], None], *, warmup: int = 1) -> None:
    """Call ``fn(i)`` for i = -warmup .. runs-1 (negative i: warm-up, not recorded by ``fn``)."""
    for i in range(-warmup, runs):
        fn(i)


def timed_subprocess(cmd: Sequence[str], *, env: dict[str, str] | None = None, stdout: Any = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        cmd, cwd=ROOT, env=env or child_env(), stdout=stdout or subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)[:200]} failed ({result.returncode}): {result.stderr.decode()[-3000:]}")
    return elapsed


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# 1. Synth
# --------------------------------------------------------------------------

# The empty app is CDK as it comes (its built-in template validation on: the floor every CDK app
# pays). The full app runs as app.py runs it: that validation off, set before aws_cdk is imported
# (importing it starts the jsii kernel), because the test suite runs cfn-lint on every template. A
# second empty app with the same setting gives the like-for-like ratio.
EMPTY_SYNTH = """
import os, sys
if sys.argv[2] == "empty-same":
    os.environ["CDK_VALIDATION"] = "false"
from aws_cdk import App, Stack
app = App(outdir=sys.argv[1])
Stack(app, "Empty")
app.synth()
"""

FULL_SYNTH = """
import json, sys
from app import build_app
from aws_cdk import App
context = json.load(open("cdk.json"))["context"]
context["backup-constructs:bundling"] = "source-only"
if sys.argv[2] == "off":
    context["nag"] = False
build_app(App(outdir=sys.argv[1], context=context)).synth()
"""


def bench_synth(runs: int, *, profile: bool = True) -> list[Row]:
    times: dict[str, list[float]] = {"empty": [], "empty-same": [], "off": [], "on": []}
    stack_counts: list[int] = []

    def one(i: int) -> None:
        for key in times:
            with tempfile.TemporaryDirectory(prefix="bench-synth-") as out:
                code = EMPTY_SYNTH if key.startswith("empty") else FULL_SYNTH
                t = timed_subprocess([PYTHON, "-c", code, out, key])
                if key == "off":
                    stack_counts.append(len(list(Path(out).glob("*.template.json"))))
            log(f"synth {key} run {i}: {t:.2f} s")
            if i >= 0:
                times[key].append(t)

    def ratio(full: str, empty: str) -> list[float]:
        return [f / e for f, e in zip(times[full], times[empty], strict=True)]

    sec = "1. Synth (fresh interpreter, source-only bundling)"
    repeat(runs, one)
    note = "per-run ratio (runs interleaved)"
    same = "like for like: both without CDK's built-in validation"
    stacks = max(stack_counts)
    # What each stack adds to an empty app's synth, per run (same settings: the built-in validation off).
    per_stack = [(f - e) / stacks for f, e in zip(times["off"], times["empty-same"], strict=True)]
    rows = [
        Row(sec, "empty app (App + empty Stack), CDK defaults", "s", times["empty"]),
        Row(sec, "empty app, built-in validation off", "s", times["empty-same"]),
        Row(sec, "full app, cdk-nag packs off", "s", times["off"]),
        Row(sec, "full app, cdk-nag packs on", "s", times["on"]),
        Row(sec, "ratio full/empty, packs off", "x", ratio("off", "empty"), "≤ 2.0x", 2.0, note),
        Row(sec, "ratio full/empty, packs on", "x", ratio("on", "empty"), "≤ 3.0x", 3.0, note),
        Row(sec, "ratio full/empty-same, packs off", "x", ratio("off", "empty-same"), note=same),
        Row(sec, "ratio full/empty-same, packs on", "x", ratio("on", "empty-same"), note=same),
        Row(
            sec,
            f"cost per stack, packs off ((full - empty-same) / {stacks} stacks)",
            "ms",
            [1000 * v for v in per_stack],
            note="per run",
        ),
    ]
    return rows + (synth_profile_rows(sec) if profile else [])


def synth_profile_rows(sec: str) -> list[Row]:
    """One run of ``bench.synth_profile`` (its own fresh interpreter, packs off): where the time goes, by
    stack and by construct family; the full tables are in bench/synth_profile.md."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-profile-") as tmp:
        summary_path = Path(tmp) / "summary.json"
        log("synth profile (one run)")
        timed_subprocess([PYTHON, "-m", "bench.synth_profile", "--json", str(summary_path)])
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    note = "one profiled run; tables in bench/synth_profile.md"
    stacks = summary["stacks"]
    per_stack = [s["seconds"] * 1000 for s in stacks.values()]
    families = sorted(summary["families"].items(), key=lambda kv: -kv[1]["seconds"])
    top = ", ".join(f"{name} {f['calls']} ({f['seconds']:.2f} s)" for name, f in families[:4])
    return [
        Row(sec, f"profiled build per stack (median/min/max of {len(stacks)} stacks)", "ms", per_stack, note=note),
        Row(sec, "profiled jsii round trips, packs off", "trips", [summary["round_trips"]], note=f"top: {top}"),
        Row(
            sec,
            "profiled time in jsii round trips, packs off",
            "s",
            [summary["round_trip_seconds"]],
            note=f"of {summary['total']:.2f} s in that run",
        ),
    ]


# --------------------------------------------------------------------------
# 2. Test suite
# --------------------------------------------------------------------------


def bench_tests() -> list[Row]:
    """``make test`` as it runs: the suite in parallel processes, then the contract checks over what they
    recorded."""
    sec = "2. Test suite (1 run each: the suite takes minutes)"
    base = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    rows: list[Row] = []
    log("pytest: make test")
    with tempfile.TemporaryDirectory(prefix="bench-recordings-") as recordings:
        parallel = timed_subprocess(
            [*base, "-n", "auto", "--maxprocesses=4", "-m", "not after_all_tests"],
            env=child_env(BACKUP_TEST_RECORD_TO=recordings),
        )
        contracts = timed_subprocess(
            [*base, "-m", "after_all_tests"], env=child_env(BACKUP_TEST_RECORDED_IN=recordings)
        )
    log(f"pytest: make test: {parallel:.1f} s + {contracts:.1f} s")
    rows.append(
        Row(
            sec,
            "make test (parallel phase + contract phase)",
            "s",
            [parallel + contracts],
            "≤ 120 s",
            120.0,
            "single run",
        )
    )
    return rows


# --------------------------------------------------------------------------
# Worlds: moto (subprocess) + fake Kubernetes API server (threads)
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Aws:
    endpoint: str
    bucket: str = "bench-backups"
    bus: str = "bench-bus"
    sops_key_arns: list[str] = field(default_factory=list)
    digest_key_arn: str = ""

    def client(self, service: str, region: str = "us-east-1") -> Any:
        import boto3

        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@contextlib.contextmanager
def moto_process() -> Iterator[Aws]:
    port = free_port()
    proc = subprocess.Popen(
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
        aws = Aws(endpoint=f"http://127.0.0.1:{port}")
        primary, dr = aws.client("kms"), aws.client("kms", "us-west-2")
        aws.sops_key_arns.append(primary.create_key(Description="sops primary")["KeyMetadata"]["Arn"])
        dr_key = dr.create_key(Description="sops dr")["KeyMetadata"]
        dr.create_alias(AliasName="alias/bench-dr", TargetKeyId=dr_key["KeyId"])
        aws.sops_key_arns.append(dr_key["Arn"].split(":key/")[0] + ":alias/bench-dr")
        aws.digest_key_arn = primary.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
            "Arn"
        ]
        aws.client("s3").create_bucket(Bucket=aws.bucket)
        aws.client("events").create_event_bus(Name=aws.bus)
        yield aws
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


_WORDS = [
    "orders",
    "payments",
    "checkout",
    "catalog",
    "search",
    "inventory",
    "shipping",
    "billing",
    "users",
    "auth",
    "gateway",
    "cache",
    "queue",
    "worker",
    "reporting",
    "analytics",
    "notifications",
    "recommendations",
    "pricing",
    "cart",
]


def _text(rng: random.Random, size: int) -> str:
    lines = []
    total = 0
    while total < size:
        key = f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}.{rng.choice(['timeout', 'url', 'enabled', 'size', 'ttl'])}"
        value = rng.choice(
            [
                f"https://{rng.choice(_WORDS)}.svc.cluster.local:{rng.randint(1024, 65535)}/v{rng.randint(1, 3)}",
                str(rng.randint(0, 100000)),
                rng.choice(["true", "false"]),
                "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(8, 40))),
            ]
        )
        line = f"{key}={value}"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size] + "\n"


def make_objects(namespace: str, configmaps: int, secrets: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic ConfigMaps and Secrets: 1-4 KiB of data each, app labels, some annotations."""
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = []
    for kind, count in (("ConfigMap", configmaps), ("Secret", secrets)):
        for i in range(count):
            app = f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}"
            name = f"{app}-{'config' if kind == 'ConfigMap' else 'credentials'}-{i:05d}"
            labels = {
                "app.kubernetes.io/name": app,
                "app.kubernetes.io/instance": f"{app}-{rng.choice(['blue', 'green'])}",
                "app.kubernetes.io/part-of": rng.choice(_WORDS),
                "app.kubernetes.io/managed-by": rng.choice(["helm", "kustomize", "argocd"]),
                "team": f"team-{rng.choice(_WORDS)}",
                "environment": "production",
            }
            annotations = {"owner": f"team-{rng.choice(_WORDS)}@example.com"}
            if rng.random() < 0.3:
                annotations["argocd.argoproj.io/tracking-id"] = f"{app}:v1/{kind}:{namespace}/{name}"
            total = rng.randint(1024, 4096)
            keys = rng.randint(1, 4)
            metadata = {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations}
            if kind == "ConfigMap":
                data = {
                    f"{rng.choice(['application', 'settings', 'features', 'logging'])}-{k}.properties": _text(
                        rng, total // keys
                    )
                    for k in range(keys)
                }
                objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data})
            else:
                names = ["username", "password", "api-token", "private-key", "connection-string"]
                secret_data = {}
                for k in range(keys):
                    # base64 inflates by 4/3: size the raw value so the encoded data is 1-4 KiB in total
                    raw = "".join(
                        rng.choices(string.ascii_letters + string.digits + "-_", k=max(8, total * 3 // 4 // keys))
                    )
                    secret_data[names[k]] = base64.b64encode(raw.encode()).decode()
                objects.append(
                    {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "data": secret_data}
                )
    return objects


class RemoteKubeServer:
    """The fake API server in a process of its own (``bench/k8s_server.py``), driven over a pipe."""

    def __init__(self, workdir: Path, *, nodelay: bool = False) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bench.k8s_server", str(workdir), *(["--nodelay"] if nodelay else [])],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.url: str = info["url"]
        self.token: str = info["token"]
        self.ca_file = Path(info["ca_file"])
        self.kubeconfig = Path(info["kubeconfig"])

    def _call(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"k8s server: {command['op']}: {answer}")
        return answer

    def seed(self, objects: list[dict[str, Any]], name: str) -> None:
        path = self.workdir / f"seed-{name}.json"
        path.write_text(json.dumps(objects), encoding="utf-8")
        self._call(op="seed", file=str(path))

    def create_namespace(self, name: str) -> None:
        self._call(op="create_namespace", name=name)

    def clear_requests(self) -> None:
        self._call(op="clear_requests")

    def count(self, namespace: str) -> int:
        return int(self._call(op="count", namespace=namespace)["count"])

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class KubeWorld:
    """A fake API server (a process of its own) holding one namespace of seeded objects."""

    def __init__(self, namespace: str, configmaps: int, secrets: int, workdir: Path, *, nodelay: bool = False) -> None:
        self.namespace = namespace
        self.objects = make_objects(namespace, configmaps, secrets)
        self.server = RemoteKubeServer(workdir, nodelay=nodelay)
        self.server.seed(self.objects, namespace)
        self.workdir = workdir
        self.kubeconfig = self.server.kubeconfig
        self.home = workdir / f"home-{namespace}"  # kubectl's discovery cache lives here (warm after the warm-up)
        self.home.mkdir(exist_ok=True)
        self.ca_file = self.server.ca_file

    def close(self) -> None:
        self.server.stop()

    def spec(self, aws: Aws, **extra: Any) -> dict[str, Any]:
        return {
            "url": self.server.url,
            "token": self.server.token,
            "ca_file": str(self.ca_file),
            "namespace": self.namespace,
            "endpoint": aws.endpoint,
            "bucket": aws.bucket,
            "bus": aws.bus,
            "sops_key_arns": aws.sops_key_arns,
            "digest_key_arn": aws.digest_key_arn,
            "cluster": "bench",
            **extra,
        }

    def kubectl(self, *args: str, stdout: Any = None) -> float:
        env = child_env(KUBECONFIG=str(self.kubeconfig), HOME=str(self.home))
        return timed_subprocess([KUBECTL, *args], env=env, stdout=stdout)

    def apply_file(self) -> Path:
        """The seeded objects as a multi-document YAML file without namespace (for ``kubectl apply -n``)."""
        path = self.workdir / f"apply-{self.namespace}.yaml"
        if not path.exists():
            docs = []
            for obj in self.objects:
                clean = json.loads(json.dumps(obj))
                clean["metadata"].pop("namespace", None)
                docs.append(clean)
            path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
        return path


_NOW_COUNTER = iter(range(10**6))


def next_now() -> str:
    return (BASE_NOW + dt.timedelta(minutes=next(_NOW_COUNTER))).isoformat()


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        [PYTHON, "-m", "bench.worker", json.dumps(spec)],
        cwd=ROOT,
        env=child_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true"),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker {spec['op']} failed: {result.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------
# 3./4. Export and restore
# --------------------------------------------------------------------------


def bench_export(aws: Aws, world: KubeWorld, runs: int, *, profile: bool) -> list[Row]:
    n = len(world.objects)
    out_file = world.workdir / "kubectl-get.yaml"
    sec = f"3. Config export ({n} objects: {n // 2} ConfigMaps + {n // 2} Secrets)"
    t: dict[str, list[float]] = {"export": [], "kubectl": [], "floor": [], "rss": [], "base": []}

    def one(i: int) -> None:
        world.server.clear_requests()
        floor = run_worker(world.spec(aws, op="floor"))
        with out_file.open("wb") as fh:
            kubectl = world.kubectl("get", "configmaps,secrets", "-n", world.namespace, "-o", "yaml", stdout=fh)
        exp = run_worker(world.spec(aws, op="export", now=next_now()))
        log(
            f"export run {i}: export {exp['seconds']:.2f} s, kubectl {kubectl:.2f} s, "
            f"floor {floor['seconds']:.2f} s, "
            f"VmHWM {exp['vmhwm_kb'] / 1024:.0f} MB (before export {exp['baseline_kb'] / 1024:.0f} MB)"
        )
        if i >= 0:
            t["export"].append(exp["seconds"])
            t["kubectl"].append(kubectl)
            t["floor"].append(floor["seconds"])
            t["rss"].append(exp["vmhwm_kb"] / 1024)
            t["base"].append(exp["baseline_kb"] / 1024)

    repeat(runs, one)
    ratio = [e / k for e, k in zip(t["export"], t["kubectl"], strict=True)]
    if profile:
        path = BENCH / "profile_export.prof"
        run_worker(world.spec(aws, op="export", now=next_now(), profile=str(path)))
        write_profile_text(path, BENCH / "profile_export.txt")
    return [
        Row(sec, "export_namespace → moto S3 (force)", "s", t["export"], note="operation only, warm clients"),
        Row(sec, "kubectl get configmaps,secrets -o yaml", "s", t["kubectl"], note="whole kubectl process"),
        Row(sec, "floor: raw urllib3 list (limit=500) + json", "s", t["floor"]),
        Row(sec, "ratio export / kubectl get", "x", ratio, "≤ 0.5x", 0.5, "per-run ratio"),
        Row(sec, "ratio export / floor", "x", [e / f for e, f in zip(t["export"], t["floor"], strict=True)]),
        Row(sec, "export peak RSS (VmHWM of the worker)", "MB", t["rss"], "≤ 256 MB", 256.0, "whole process"),
        Row(sec, "worker RSS before the export (imports+clients)", "MB", t["base"]),
    ]


RESTORE_SIZE = 500  # ConfigMaps and as many Secrets: kubectl applies them one by one (about 45 s)


def bench_restore(aws: Aws, runs: int, workdir: Path, *, profile: bool) -> list[Row]:
    """Restore, kubectl apply and the floor on the frozen server (counted), the restore at twice the
    concurrency there, and all three again on the same server with TCP_NODELAY (shown, not counted)."""
    rows: list[Row] = []
    for nodelay in (False, True):
        world = KubeWorld(
            "bench-restore-nd" if nodelay else "bench-restore", RESTORE_SIZE, RESTORE_SIZE, workdir, nodelay=nodelay
        )
        try:
            rows += _restore_rows(
                aws, world, runs if not nodelay else min(runs, 3), nodelay=nodelay, profile=profile and not nodelay
            )
        finally:
            world.close()
    return rows


def _restore_rows(aws: Aws, world: KubeWorld, runs: int, *, nodelay: bool, profile: bool) -> list[Row]:
    n = len(world.objects)
    backup_id = run_worker(world.spec(aws, op="export", now=next_now()))["detail"]["backup_id"]
    sec = f"4. Config restore ({n} objects into an empty namespace)"
    server = "server with TCP_NODELAY (not counted)" if nodelay else "frozen server"
    apply_file = world.apply_file()
    objects_file = world.workdir / f"objects-{world.namespace}.json"
    objects_file.write_text(json.dumps(world.objects), encoding="utf-8")
    keys = ("restore", "kubectl", "floor", "rss", "latency") + (() if nodelay else ("restore16",))
    r: dict[str, list[float]] = {key: [] for key in keys}

    def one_restore(i: int) -> None:
        targets = {x: f"{world.namespace}-{x}{i + 2}" for x in ("r", "k", "f", "r16")}
        if nodelay:
            del targets["r16"]
        for target in targets.values():
            world.server.create_namespace(target)
        world.server.clear_requests()
        latency = run_worker(world.spec(aws, op="latency"))["detail"]["median_ms"]
        res = run_worker(world.spec(aws, op="restore", to_namespace=targets["r"], backup_id=backup_id, now=next_now()))
        floor = run_worker(world.spec(aws, op="apply_floor", to_namespace=targets["f"], objects_file=str(objects_file)))
        kubectl = world.kubectl(
            "apply", "--server-side", "--field-manager=bench", "-n", targets["k"], "-f", str(apply_file)
        )
        extra = ""
        if "r16" in targets:
            res16 = run_worker(
                world.spec(
                    aws, op="restore", to_namespace=targets["r16"], backup_id=backup_id, now=next_now(), concurrency=16
                )
            )
            extra = f", restore at 16: {res16['seconds']:.2f} s"
        counts = {t: world.server.count(t) for t in targets.values()}
        if set(counts.values()) != {n}:
            raise RuntimeError(f"restore run {i}: not every object arrived: {counts}")
        log(
            f"restore run {i} ({server}): GET {latency:.1f} ms, restore {res['seconds']:.2f} s {res['detail']}, "
            f"floor {floor['seconds']:.2f} s, kubectl apply {kubectl:.2f} s{extra}"
        )
        if i >= 0:
            r["latency"].append(latency)
            r["restore"].append(res["seconds"])
            r["kubectl"].append(kubectl)
            r["floor"].append(floor["seconds"])
            r["rss"].append(res["vmhwm_kb"] / 1024)
            if "r16" in targets:
                r["restore16"].append(res16["seconds"])

    repeat(runs, one_restore)

    def ratio(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(r[a], r[b], strict=True)]

    if nodelay:
        return [
            Row(sec, "TCP_NODELAY server: one GET, one at a time", "ms", r["latency"], note="not counted"),
            Row(sec, "TCP_NODELAY server: restore_namespace", "s", r["restore"], note="not counted"),
            Row(sec, "TCP_NODELAY server: kubectl apply --server-side", "s", r["kubectl"], note="not counted"),
            Row(sec, "TCP_NODELAY server: floor, 8 at a time", "s", r["floor"], note="not counted"),
            Row(
                sec,
                "TCP_NODELAY server: ratio restore / kubectl",
                "x",
                ratio("restore", "kubectl"),
                note="not counted: the server is changed",
            ),
            Row(
                sec,
                "TCP_NODELAY server: ratio restore / floor",
                "x",
                ratio("restore", "floor"),
                note="not counted: the server is changed",
            ),
        ]
    rows = [
        Row(
            sec,
            "frozen server: one GET, one at a time",
            "ms",
            r["latency"],
            note="about 40 ms of it is the wait for the client's delayed ACK",
        ),
        Row(
            sec,
            "restore_namespace (to_namespace) from moto S3",
            "s",
            r["restore"],
            note="operation only: fetch, verify, LIST, PATCH x8",
        ),
        Row(sec, "kubectl apply --server-side -f (same objects)", "s", r["kubectl"], note="whole kubectl process"),
        Row(sec, "floor: the same PATCHes, 8 at a time, raw urllib3", "s", r["floor"], note="nothing else"),
        Row(sec, "ratio restore / kubectl apply", "x", ratio("restore", "kubectl"), "≤ 0.1x", 0.1, "per-run ratio"),
        Row(sec, "ratio restore / floor", "x", ratio("restore", "floor"), "≤ 1.5x", 1.5, "per-run ratio"),
        Row(
            sec,
            "ratio floor / kubectl apply",
            "x",
            ratio("floor", "kubectl"),
            note="the best any client sending 8 at a time can do on this server",
        ),
        Row(sec, "restore with RESTORE_CONCURRENCY=16", "s", r["restore16"], note="same server, same objects"),
        Row(sec, "ratio restore at 16 / kubectl apply", "x", ratio("restore16", "kubectl"), note="per-run ratio"),
        Row(sec, "restore peak RSS (VmHWM of the worker)", "MB", r["rss"]),
    ]
    if profile:
        target = f"{world.namespace}-profile"
        world.server.create_namespace(target)
        path = BENCH / "profile_restore.prof"
        run_worker(
            world.spec(aws, op="restore", to_namespace=target, backup_id=backup_id, now=next_now(), profile=str(path))
        )
        write_profile_text(path, BENCH / "profile_restore.txt")
    return rows


def write_profile_text(prof: Path, out: Path) -> None:
    import pstats

    buffer = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buffer)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    out.write_text(buffer.getvalue().replace(str(ROOT) + "/", ""), encoding="utf-8")
    prof.unlink(missing_ok=True)


def bench_growth(aws: Aws, sizes: Sequence[int], runs: int, workdir: Path) -> list[Row]:
    sec = "6. Growth (export time per object)"
    rows: list[Row] = []
    per_object: dict[int, list[float]] = {}
    for size in sizes:
        world = KubeWorld(f"growth-{size}", size // 2, size // 2, workdir)
        try:
            times: list[float] = []
            rss: list[float] = []

            def one(i: int, world: KubeWorld = world, times: list[float] = times, rss: list[float] = rss) -> None:
                res = run_worker(world.spec(aws, op="export", now=next_now()))
                log(f"growth {world.namespace} run {i}: {res['seconds']:.2f} s, VmHWM {res['vmhwm_kb'] / 1024:.0f} MB")
                if i >= 0:
                    times.append(res["seconds"])
                    rss.append(res["vmhwm_kb"] / 1024)

            repeat(runs, one)
        finally:
            world.close()
        per_object[size] = [s / size * 1e6 for s in times]
        rows.append(Row(sec, f"export of {size} objects", "s", times))
        rows.append(Row(sec, f"per object at {size}", "us/obj", per_object[size]))
        rows.append(Row(sec, f"export peak RSS at {size}", "MB", rss, "≤ 256 MB", 256.0, "whole worker process"))
    lo, hi = min(sizes), max(sizes)
    growth = [b / statistics.median(per_object[lo]) for b in per_object[hi]]
    rows.append(
        Row(sec, f"per-object time at {hi} / at {lo}", "x", growth, "≤ 1.5x (linear)", 1.5, "each run / median at low")
    )
    return rows


# --------------------------------------------------------------------------
# 5. Lambda bundles and imports
# --------------------------------------------------------------------------

BUILD_BUNDLES = """
import json
from pathlib import Path
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_
from backup_constructs.core.bundling import BUNDLING_CONTEXT, function_code, handler_dependencies
from lambdas.contract.functions import CONFIG_EXPORT, FUNCTIONS

staged = []
original = lambda_.Code.from_asset
def recording(path, **kwargs):  # the staged directory function_code hands to the asset
    staged.append(path)
    return original(path, **kwargs)
lambda_.Code.from_asset = recording

sets = {}
for spec in FUNCTIONS.values():  # one bundle per distinct dependency set, labelled by its functions
    deps = tuple(handler_dependencies(spec.handler))
    sets.setdefault(deps, []).append(spec.name)
export = FUNCTIONS[CONFIG_EXPORT].handler
sets.setdefault(tuple(handler_dependencies(export, ["git-mirror"])), []).append("config-export + git mirror")
app = App(context={BUNDLING_CONTEXT: "local"})
out = {}
for i, (deps, names) in enumerate(sets.items()):
    stack = Stack(app, f"B{i}")
    function_code(stack, dependencies=deps)
    bundle = Path(staged[-1])
    assert bundle.is_dir(), bundle
    out[", ".join(names) + " (" + (", ".join(deps) or "no dependencies") + ")"] = str(bundle)
print(json.dumps(out))
"""

IMPORT_TIME = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def zipped_size(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.tell()


def bench_lambda(runs: int) -> list[Row]:
    rows: list[Row] = []
    sec = "5. Lambda bundles (local bundling, zipped with deflate) and handler imports"
    log("building the function bundles (local mode)")
    start = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "-c", BUILD_BUNDLES], cwd=ROOT, env=child_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"bundling failed: {result.stderr[-3000:]}")
    log(f"bundles built in {time.perf_counter() - start:.1f} s")
    bundles: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    for label, directory in bundles.items():
        if not any(Path(directory).rglob("*.py")):
            raise RuntimeError(f"bundle {label}: {directory} holds no Python files")
        size = zipped_size(Path(directory)) / MB
        rows.append(Row(sec, f"zipped bundle: {label}", "MB", [size], "≤ 10 MB", 10.0, "deterministic, 1 build"))
    for module in sorted({spec.module for spec in FUNCTIONS.values()}):
        values: list[float] = []

        def one(i: int, module: str = module, values: list[float] = values) -> None:
            out = subprocess.run(
                [PYTHON, "-c", IMPORT_TIME.format(module=module)],
                cwd=ROOT,
                env=child_env(),
                capture_output=True,
                text=True,
                check=True,
            )
            if i >= 0:
                values.append(float(out.stdout.strip()) * 1000)

        repeat(runs, one)
        rows.append(Row(sec, f"import {module} (fresh interpreter, .pyc warm)", "ms", values, "≤ 300 ms", 300.0))
    return rows


# --------------------------------------------------------------------------
# Machine, output
# --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    node = subprocess.run(["node", "--version"], env=child_env(), capture_output=True, text=True, check=False)
    kubectl = subprocess.run([KUBECTL, "version", "--client"], capture_output=True, text=True, check=False)
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "kubectl": kubectl.stdout.strip().splitlines()[0] if kubectl.stdout else "",
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


SETUP_NOTES = """\
* Every figure: median of N runs after 1 warm-up run (min, max shown); N is in the JSON (`runs`).
* **Isolation.** The code under test (export, restore, the urllib3 floor) runs in a fresh interpreter per
  run (`bench/worker.py`); its time is the operation only (boto3/kube clients created and a connection to
  each server opened first, as in a warm Lambda). kubectl times are the whole kubectl process (start-up and
  discovery included, discovery cache warm after the warm-up). The fake Kubernetes API server
  (`tests/support/k8s_apiserver.py`, unchanged: no server-side speed-up counts) runs in a process of its own
  (`bench/k8s_server.py`, a thread per connection, so it serves requests concurrently) and moto in its own
  process (`moto_server`), so neither shares a GIL with the code under test; all of them share the machine's
  cores. The restore's floor sends the same server-side-apply PATCHes with the same concurrency (8) from a
  minimal urllib3 client.
  The fake server's own cost (JSON encoding, deep copies, a sort of its whole store on every LIST page) is in
  every number, kubectl's and the floor's included.
* **Synth**: wall time of `python -c` in a fresh interpreter (imports, jsii start-up, build, synth) with
  `backup-constructs:bundling=source-only` for both apps; the ratio is computed per run (runs interleaved).
* **Export** uses `force=True` (always writes a new backup); each run has a new `now`, so earlier backups
  exist (steady state). Secrets are SOPS-encrypted for 2 KMS recipients (moto).
* **Restore** restores the latest backup into a new empty namespace per run; kubectl applies a multi-document
  YAML of the same objects (no namespace, `-n` target) into another new namespace.
"""


def write_results(rows: list[Row], info: dict[str, Any], args: argparse.Namespace, measured: set[str]) -> None:
    json_path, md_path = BENCH / "results.json", BENCH / "results.md"
    kept: list[dict[str, Any]] = []
    if args.only and json_path.exists():
        previous = json.loads(json_path.read_text())
        kept = [r for r in previous.get("rows", []) if r.get("measurement") not in measured]
    mode = "quick" if args.quick else "full"
    new = [{**row.to_dict(), "measurement": measurement_of(row), "mode": mode} for row in rows]
    all_rows = sorted(kept + new, key=lambda r: (r["section"], 0))
    data = {
        "machine": info,
        "mode": "quick" if args.quick else "full",
        "runs": 3 if args.quick else 5,
        "warmup": 1,
        "measured_now": sorted(measured),
        "rows": all_rows,
    }
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# Benchmark results",
        "",
        f"Mode: **{data['mode']}** — `python -m bench.run{' --quick' if args.quick else ''}`",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Set-up",
        "",
        SETUP_NOTES,
        "## Results",
        "",
    ]
    section = None
    for r in all_rows:
        if r["section"] != section:
            section = r["section"]
            lines += [
                "",
                f"### {section}",
                "",
                "| name | median | min | max | target | verdict | note |",
                "|---|---|---|---|---|---|---|",
            ]
        note = r["note"] + (f" ({r['mode']} mode)" if r.get("mode", data["mode"]) != data["mode"] else "")
        lines.append(
            f"| {r['name']} | {fmt(r['median'], r['unit'])} | {fmt(r['min'], r['unit'])} | {fmt(r['max'], r['unit'])}"
            f" | {r['target']} | {r['verdict']} | {note} |"
        )
    misses = [r for r in all_rows if r["verdict"] == "MISSES"]
    lines += ["", "## Missed targets", ""]
    lines += [f"* {r['section']}: **{r['name']}** {fmt(r['median'], r['unit'])} (target {r['target']})" for r in misses]
    if not misses:
        lines.append("None.")
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_SECTION_TO_MEASUREMENT = {
    "1.": "synth",
    "2.": "tests",
    "3.": "export",
    "4.": "restore",
    "5.": "lambda",
    "6.": "growth",
}


def measurement_of(row: Row) -> str:
    return _SECTION_TO_MEASUREMENT.get(row.section[:2], "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs, smaller sizes (smoke check)")
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, metavar="NAME", help=", ".join(MEASUREMENTS))
    parser.add_argument("--profile", action="store_true", help="also cProfile one export and one restore")
    args = parser.parse_args(argv)
    selected = set(args.only or MEASUREMENTS)
    if args.quick and not args.only:
        selected.discard("tests")  # minutes long: only on request in quick mode
    runs = 3 if args.quick else 5
    main_size = 500 if args.quick else 2000
    growth_sizes = (250, 1000, 2000) if args.quick else (500, 2000, 8000)
    info = machine()
    rows: list[Row] = []
    if "synth" in selected:
        rows += bench_synth(runs)
    if "lambda" in selected:
        rows += bench_lambda(runs)
    if selected & {"export", "restore", "growth"}:
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp, moto_process() as aws:
            workdir = Path(tmp)
            if "export" in selected:
                log(f"seeding {main_size} ConfigMaps + {main_size} Secrets")
                world = KubeWorld("bench-main", main_size, main_size, workdir)
                try:
                    rows += bench_export(aws, world, runs, profile=args.profile)
                finally:
                    world.close()
            if "restore" in selected:
                rows += bench_restore(aws, runs, workdir, profile=args.profile)
            if "growth" in selected:
                rows += bench_growth(aws, growth_sizes, runs, workdir)
    if "tests" in selected:
        rows += bench_tests()
    write_results(rows, info, args, selected)
    for row in rows:
        print(
            f"{row.name:55s} {fmt(row.median, row.unit):>12s} [{fmt(min(row.values), row.unit)} .. "
            f"{fmt(max(row.values), row.unit)}] {row.target} {row.verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
