"""Where the full app's synth time goes: ``python -m bench.synth_profile [--packs] [--json PATH] [--out PATH]``.

In ONE fresh interpreter (run it as its own process: it must import ``aws_cdk`` itself), builds the full app
as ``bench.run``'s ``FULL_SYNTH`` does (every environment of cdk.json, ``source-only`` bundling, the cdk-nag
packs off unless ``--packs``) and reports:

* wall time of each phase: import of the jsii runtime, ``import aws_cdk`` (starts node, loads the assembly),
  import of the app modules, the build of each stack (its constructor, then what ``build_environment`` does
  to it afterwards: ``explicit_lambda_log_groups``, ``protect_keys``), ``app.synth()``;
* every jsii kernel round trip (one request written to node and its answer read back, in
  ``jsii._kernel.providers.process._NodeProcess.send``: the funnel of ``Kernel.create``, ``invoke``, ``get``,
  ``set``, ``sinvoke``, ``sget``, ``complete``...), counted and timed, grouped by

  - **family**: the module of the jsii type the request is about (``aws_iam``, ``aws_kms`` ...; core's
    classes by purpose; an object that only implements interfaces by its first interface), except two
    groups: *Aspects/validation*, every request our aspects and validations send while node has called
    them (``IAspect.visit``, ``IValidation.validate``; broken down by family in a table of its own), and
    *callback answers*, the replies that hand a callback's result back, whose time is node resuming its
    own work (walking the tree to the next aspect visit, rendering templates) until it answers or calls
    back again;
  - **origin**: the nearest frame of our own code (``backup_constructs.*``, ``stacks.*``, ``app``) on the
    Python call stack: the construct or function that caused the round trip;
  - **member**: the type and member called (``constructs.Node.findAll`` ...).

A round trip's time is the time inside ``send`` (serialization, the pipe, node's work until it answers or
calls back), so the times add up without double counting: a request answered by a callback ends where
the callback starts, and the callback's own requests are round trips of their own. The profiler's own
bookkeeping (walking the Python stack once per round trip) is measured and taken out of every wall time
it reports. Nothing in the product code is changed: the hooks are monkeypatches in this process only.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "synth_profile.md"
OUR_MODULES = ("backup_constructs", "stacks", "app")
ASPECTS = "Aspects/validation (what our aspects and validations send)"
COMPLETIONS = "callback answers (node resumes: aspect walk, rendering)"
SYNTH_CALL = "node: app.synth() until its first callback"
_ASPECT_METHODS = ("visit", "validate")  # IAspect.visit, IValidation.validate
_REQUEST_KINDS = {
    "CreateRequest": "create",
    "InvokeRequest": "invoke",
    "GetRequest": "get",
    "SetRequest": "set",
    "StaticInvokeRequest": "sinvoke",
    "StaticGetRequest": "sget",
    "StaticSetRequest": "sset",
    "DeleteRequest": "del",
    "LoadRequest": "load",
    "_CompleteRequest": "complete",
    "StatsRequest": "stats",
}
# aws-cdk-lib's core classes, grouped by what they are for.
_CORE_GROUPS = {
    "core: Aspects/Tags/Validations": {"Aspects", "Tags", "Validations", "Annotations", "TagManager"},
    "core: tokens": {"Token", "Tokenization", "Fn", "Lazy", "Arn", "Reference", "Intrinsic", "Names"},
    "core: Stack/App": {"Stack", "App", "Stage", "DefaultStackSynthesizer", "Environment"},
    "core: Cfn* resources": {"CfnResource", "CfnElement", "CfnRefElement", "CfnParameter", "CfnOutput"},
}


@dataclass
class Tally:
    calls: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.calls += 1
        self.seconds += seconds


@dataclass(frozen=True)
class Trip:
    """What one round trip is about."""

    kind: str
    family: str
    detail: str
    """The jsii family even when ``family`` groups it otherwise (our aspects' round trips)."""
    member: str
    origin: str


@dataclass
class Bucket:
    """One phase of the run (exclusive: a nested phase's time is not its parent's)."""

    name: str
    wall: float = 0.0
    overhead: float = 0.0
    trips: Tally = field(default_factory=Tally)

    @property
    def net(self) -> float:
        """Wall time without the profiler's own bookkeeping."""
        return self.wall - self.overhead


class Recorder:
    """Counts and times every round trip, by phase, family, origin and member."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        self._stack: list[Bucket] = []
        self._since = time.perf_counter()
        self.families: dict[str, Tally] = defaultdict(Tally)
        self.family_by_phase: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.origins: dict[str, Tally] = defaultdict(Tally)
        self.members: dict[str, Tally] = defaultdict(Tally)
        self.kinds: dict[str, Tally] = defaultdict(Tally)
        self.origin_member: dict[tuple[str, str], Tally] = defaultdict(Tally)
        self.aspect_families: dict[str, Tally] = defaultdict(Tally)
        self.callback_python: dict[str, Tally] = defaultdict(Tally)
        self._callbacks: list[str] = []
        self._pending_complete: list[str] = []
        self.overhead = 0.0

    # -- phases ---------------------------------------------------------------

    def _switch(self) -> None:
        now = time.perf_counter()
        if self._stack:
            self._stack[-1].wall += now - self._since
        self._since = now

    @contextmanager
    def phase(self, name: str) -> Iterator[Bucket]:
        self._switch()
        bucket = self.buckets.setdefault(name, Bucket(name))
        self._stack.append(bucket)
        try:
            yield bucket
        finally:
            self._switch()
            self._stack.pop()

    @property
    def current(self) -> str:
        return self._stack[-1].name if self._stack else "(none)"

    # -- round trips ----------------------------------------------------------

    def send_hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def send(process: Any, request: Any, response_type: Any) -> Any:
            t0 = time.perf_counter()
            trip = recorder._classify(request)
            t1 = time.perf_counter()
            try:
                return original(process, request, response_type)
            finally:
                t2 = time.perf_counter()
                recorder._record(trip, t2 - t1)
                recorder._charge(t1 - t0 + time.perf_counter() - t2)

        return send

    def callback_hook(self, original: Callable[..., Any]) -> Callable[..., Any]:
        recorder = self

        def handle_callback(kernel: Any, callback: Any) -> Any:
            t0 = time.perf_counter()
            target = recorder._callback_target(callback)
            recorder._callbacks.append(target)
            t1 = time.perf_counter()
            try:
                return original(kernel, callback)
            finally:
                recorder._callbacks.pop()
                recorder._pending_complete.append(target)
                recorder.callback_python[target].add(time.perf_counter() - t1)
                recorder._charge(t1 - t0)

        return handle_callback

    def _charge(self, seconds: float) -> None:
        self.overhead += seconds
        for bucket in self._stack[-1:]:
            bucket.overhead += seconds

    def _record(self, trip: Trip, seconds: float) -> None:
        self.kinds[trip.kind].add(seconds)
        self.families[trip.family].add(seconds)
        self.family_by_phase[(self.current, trip.family)].add(seconds)
        if trip.family == ASPECTS:
            self.aspect_families[trip.detail].add(seconds)
        self.members[trip.member].add(seconds)
        self.origins[trip.origin].add(seconds)
        self.origin_member[(trip.origin, trip.member)].add(seconds)
        if self._stack:
            self._stack[-1].trips.add(seconds)

    def _classify(self, request: Any) -> Trip:
        kind = _REQUEST_KINDS.get(type(request).__name__, type(request).__name__)
        if kind == "complete":
            target = self._pending_complete.pop() if self._pending_complete else "?"
            return Trip(kind, COMPLETIONS, COMPLETIONS, f"complete {target}", target)
        if kind == "load":
            family = "jsii: load assemblies"
            return Trip(kind, family, family, f"load {request.name}", "(import)")
        fqn, name = _fqn_and_member(request)
        family = detail = _family(fqn)
        if fqn == "aws-cdk-lib.App" and name == "synth":
            family = SYNTH_CALL
        elif any(target.endswith(_ASPECT_METHODS) for target in self._callbacks):
            family = ASPECTS
        origin = _our_frame(sys._getframe(2)) or (self._callbacks[-1] if self._callbacks else f"({self.current})")
        return Trip(kind, family, detail, f"{fqn}.{name}" if name else f"{fqn} ({kind})", origin)

    @staticmethod
    def _callback_target(callback: Any) -> str:
        from jsii import _reference_map

        call = callback.invoke or callback.get or callback.set
        try:
            obj = _reference_map.resolve_id(call.objref.ref)
        except Exception:  # a reference the map does not know: name the cookie only
            return f"?.{callback.cookie}"
        cls = type(obj)
        return f"{cls.__module__}.{cls.__qualname__}.{callback.cookie}"


def _fqn_and_member(request: Any) -> tuple[str, str]:
    member = str(getattr(request, "method", None) or getattr(request, "property", None) or "")
    fqn = getattr(request, "fqn", None)
    if fqn == "Object" and getattr(request, "interfaces", None):  # a Python object that implements interfaces
        return f"Object<{','.join(request.interfaces)}>", member
    if fqn:
        return str(fqn), member
    objref = getattr(request, "objref", None)
    if objref is None:
        return type(request).__name__, member
    ref = str(objref.ref)
    fqn = ref.split("@", 1)[0]
    if fqn == "Object":  # a Python object (it implements jsii interfaces): name its class
        from jsii import _reference_map

        try:
            cls = type(_reference_map.resolve_id(ref))
            fqn = f"python:{cls.__module__}.{cls.__qualname__}"
        except KeyError:  # a JavaScript object Python only knows by the interfaces it implements
            fqn = f"js:{','.join(objref.interfaces or ['?'])}"
    return fqn, member


def _family(fqn: str) -> str:
    if fqn.startswith(("js:", "Object<")):  # by the (first) interface it implements
        return _family(fqn.removeprefix("js:").removeprefix("Object<").rstrip(">").split(",")[0])
    if fqn.startswith("python:"):
        return fqn.split(":", 1)[1].rsplit(".", 1)[0] + " (Python objects)"
    if fqn.startswith("constructs."):
        return "constructs: Node (tree, ids, dependencies)" if fqn == "constructs.Node" else "constructs: Construct"
    if fqn.startswith("aws-cdk-lib."):
        parts = fqn.split(".")
        if len(parts) > 2 and parts[1].startswith(("aws_", "custom_resources", "cx_api", "assertions", "region_info")):
            return parts[1]
        for group, names in _CORE_GROUPS.items():
            if parts[-1] in names:
                return group
        return "core: other"
    if fqn.startswith("cdk-nag"):
        return "cdk_nag"
    return fqn


_OUR_PREFIXES = tuple(f"{m}." for m in OUR_MODULES)


def _our_frame(frame: FrameType | None) -> str | None:
    """The nearest frame of our own code: ``module.qualname`` (the construct's ``__init__``, the function)."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module in OUR_MODULES or module.startswith(_OUR_PREFIXES):
            return f"{module}.{frame.f_code.co_qualname}"
        frame = frame.f_back
    return None


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------


@dataclass
class StackCost:
    name: str
    construct: Bucket
    after: list[Bucket]
    resources: int = 0

    @property
    def net(self) -> float:
        return self.construct.net + sum(b.net for b in self.after)

    @property
    def trips(self) -> int:
        return self.construct.trips.calls + sum(b.trips.calls for b in self.after)

    @property
    def trip_seconds(self) -> float:
        return self.construct.trips.seconds + sum(b.trips.seconds for b in self.after)


@dataclass
class Profile:
    packs: bool
    total: float
    phases: list[Bucket]
    stacks: list[StackCost]
    recorder: Recorder


def _wrap_init(recorder: Recorder, cls: type) -> None:
    original: Callable[..., None] = vars(cls)["__init__"]

    def __init__(self: Any, scope: Any, id_: str, *args: Any, **kwargs: Any) -> None:
        with recorder.phase(f"stack {id_}"):
            original(self, scope, id_, *args, **kwargs)

    setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses an assignment to __init__


def _wrap_after(recorder: Recorder, module: Any, name: str) -> None:
    original = getattr(module, name)

    def wrapper(scope: Any, *args: Any, **kwargs: Any) -> Any:
        with recorder.phase(f"after {scope.node.id}: {name}"):
            return original(scope, *args, **kwargs)

    setattr(module, name, wrapper)


def run(*, packs: bool, outdir: str) -> Profile:
    recorder = Recorder()
    start = time.perf_counter()
    # As app.py does before it imports aws_cdk (node inherits the environment when the import starts it);
    # FULL_SYNTH imports app first, this profiler imports aws_cdk first to time it on its own.
    os.environ.setdefault("CDK_VALIDATION", "false")
    os.environ.setdefault("CDK_DISABLE_STACK_TRACE", "1")
    with recorder.phase("import jsii runtime"):
        kernel_module: Any = importlib.import_module("jsii._kernel")
        process_module: Any = importlib.import_module("jsii._kernel.providers.process")
    process_module._NodeProcess.send = recorder.send_hook(process_module._NodeProcess.send)
    kernel_module._handle_callback = recorder.callback_hook(kernel_module._handle_callback)
    with recorder.phase("import aws_cdk (starts node, loads the assembly)"):
        aws_cdk: Any = importlib.import_module("aws_cdk")
    with recorder.phase("import app modules (app, stacks, backup_constructs)"):
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        app_module: Any = importlib.import_module("app")
        environment: Any = importlib.import_module("stacks.environment")
    assert os.environ["CDK_VALIDATION"] == "false", "app.py no longer turns the built-in validation off"
    stack_classes = [
        cls
        for cls in vars(environment).values()
        if isinstance(cls, type) and issubclass(cls, aws_cdk.Stack) and "__init__" in vars(cls)
    ]
    for cls in stack_classes:
        _wrap_init(recorder, cls)
    after_names = ("explicit_lambda_log_groups", "protect_keys")
    for name in after_names:
        _wrap_after(recorder, environment, name)
    context = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]
    context["backup-constructs:bundling"] = "source-only"
    if not packs:
        context["nag"] = False
    with recorder.phase("build: app level (App, policy, validations, other)"):
        app = aws_cdk.App(outdir=outdir, context=context)
        app_module.build_app(app)
    with recorder.phase("app.synth()"):
        app.synth()
    total = time.perf_counter() - start - recorder.overhead
    stack_names = [b.name.removeprefix("stack ") for b in recorder.buckets.values() if b.name.startswith("stack ")]
    stacks = [
        StackCost(
            name,
            recorder.buckets[f"stack {name}"],
            [recorder.buckets[f"after {name}: {n}"] for n in after_names if f"after {name}: {n}" in recorder.buckets],
            _resource_count(Path(outdir) / f"{name}.template.json"),
        )
        for name in stack_names
    ]
    return Profile(packs, total, list(recorder.buckets.values()), stacks, recorder)


def _resource_count(template: Path) -> int:
    if not template.is_file():
        return 0
    return len(json.loads(template.read_text(encoding="utf-8")).get("Resources", {}))


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def report(profile: Profile, *, top: int = 25) -> str:
    rec = profile.recorder
    trips = sum(t.calls for t in rec.kinds.values())
    trip_seconds = sum(t.seconds for t in rec.kinds.values())
    build = [b for b in profile.phases if b.name.startswith(("stack ", "after ", "build:"))]
    build_net = sum(b.net for b in build)
    lines = [
        "# Synth profile",
        "",
        f"One fresh interpreter, the full app as `FULL_SYNTH` builds it (source-only bundling, cdk-nag packs "
        f"{'on' if profile.packs else 'off'}): `python -m bench.synth_profile{' --packs' if profile.packs else ''}`. "
        "Times are wall seconds without the profiler's own bookkeeping "
        f"({rec.overhead:.2f} s, taken out); a round trip is one request to the jsii kernel (node) and its "
        "answer, timed inside `_NodeProcess.send`.",
        "",
        f"**Total {profile.total:.2f} s; {trips:,} round trips taking {trip_seconds:.2f} s "
        f"({_share(trip_seconds, profile.total)}); build {build_net:.2f} s.**",
        "",
        "## Phases",
        "",
    ]
    phase_rows = []
    stack_phases = [b for b in profile.phases if b.name.startswith(("stack ", "after "))]
    for bucket in profile.phases:
        if bucket in stack_phases:
            continue
        phase_rows.append([bucket.name, f"{bucket.net:.3f}", f"{bucket.trips.calls:,}", f"{bucket.trips.seconds:.3f}"])
        if bucket.name.startswith("build:"):
            s_net = sum(b.net for b in stack_phases)
            s_trips = sum(b.trips.calls for b in stack_phases)
            s_sec = sum(b.trips.seconds for b in stack_phases)
            phase_rows.append(
                [f"build: the {len(profile.stacks)} stacks (below)", f"{s_net:.3f}", f"{s_trips:,}", f"{s_sec:.3f}"]
            )
    phase_rows.append(
        [f"**total** ({len(profile.stacks)} stacks)", f"{profile.total:.3f}", f"{trips:,}", f"{trip_seconds:.3f}"]
    )
    lines += _table(["phase", "seconds", "round trips", "round-trip s"], phase_rows)
    lines += ["", "## Cost per stack (build: constructor + what `build_environment` does to it after)", ""]
    stack_rows = []
    for s in profile.stacks:
        after = ", ".join(f"{b.name.split(': ', 1)[1]} {b.net:.3f} s/{b.trips.calls}" for b in s.after)
        stack_rows.append(
            [
                s.name,
                f"{s.net:.3f}",
                f"{s.construct.net:.3f}",
                after or "-",
                f"{s.trips:,}",
                f"{s.trip_seconds:.3f}",
                str(s.resources),
                f"{1000 * s.net / s.resources:.1f}" if s.resources else "-",
            ]
        )
    n = len(profile.stacks)
    total_stacks = sum(s.net for s in profile.stacks)
    resources = sum(s.resources for s in profile.stacks)
    stack_rows.append(
        [
            f"**mean of {n}**",
            f"{total_stacks / n:.3f}" if n else "-",
            "",
            "",
            f"{sum(s.trips for s in profile.stacks) / n:,.0f}" if n else "-",
            "",
            f"{resources / n:.0f}" if n else "-",
            f"{1000 * total_stacks / resources:.1f}" if resources else "-",
        ]
    )
    lines += _table(
        [
            "stack",
            "build s",
            "constructor s",
            "after (s / round trips)",
            "round trips",
            "round-trip s",
            "resources",
            "ms/resource",
        ],
        stack_rows,
    )
    lines += [
        "",
        "## Round trips by construct family (the jsii type the request is about)",
        "",
        "Build = the stacks' and the app's construction; synth = inside `app.synth()`.",
        "",
    ]
    family_rows = []
    for family, tally in sorted(rec.families.items(), key=lambda kv: -kv[1].seconds):
        in_synth = rec.family_by_phase.get(("app.synth()", family), Tally())
        family_rows.append(
            [
                family,
                f"{tally.calls:,}",
                f"{tally.seconds:.3f}",
                _share(tally.seconds, trip_seconds),
                f"{tally.calls - in_synth.calls:,}",
                f"{in_synth.calls:,}",
            ]
        )
    lines += _table(["family", "calls", "seconds", "share", "build calls", "synth calls"], family_rows)
    lines += ["", "## Round trips by origin (nearest frame of our code on the Python stack)", ""]
    origin_rows = [
        [f"`{origin}`", f"{t.calls:,}", f"{t.seconds:.3f}", _share(t.seconds, trip_seconds)]
        for origin, t in sorted(rec.origins.items(), key=lambda kv: -kv[1].seconds)[:top]
    ]
    lines += _table(["origin", "calls", "seconds", "share"], origin_rows)
    lines += ["", f"## Top {top} members called", ""]
    member_rows = [
        [f"`{member}`", f"{t.calls:,}", f"{t.seconds:.3f}", _share(t.seconds, trip_seconds)]
        for member, t in sorted(rec.members.items(), key=lambda kv: -kv[1].seconds)[:top]
    ]
    lines += _table(["member", "calls", "seconds", "share"], member_rows)
    lines += ["", f"## Top {top} origin x member pairs (by calls)", ""]
    pair_rows = [
        [f"`{origin}`", f"`{member}`", f"{t.calls:,}", f"{t.seconds:.3f}"]
        for (origin, member), t in sorted(rec.origin_member.items(), key=lambda kv: -kv[1].calls)[:top]
    ]
    lines += _table(["origin", "member", "calls", "seconds"], pair_rows)
    if rec.aspect_families:
        lines += ["", "## Aspects/validation round trips by jsii family", ""]
        aspect_rows = [
            [family, f"{t.calls:,}", f"{t.seconds:.3f}"]
            for family, t in sorted(rec.aspect_families.items(), key=lambda kv: -kv[1].seconds)
        ]
        lines += _table(["family", "calls", "seconds"], aspect_rows)
    if rec.callback_python:
        lines += ["", "## Callbacks into Python (time in the Python handler, its round trips included)", ""]
        cb_rows = [
            [f"`{target}`", f"{t.calls:,}", f"{t.seconds:.3f}"]
            for target, t in sorted(rec.callback_python.items(), key=lambda kv: -kv[1].seconds)[:top]
        ]
        lines += _table(["callback", "calls", "seconds"], cb_rows)
    lines += ["", "## Round trips by kind", ""]
    kind_rows = [
        [kind, f"{t.calls:,}", f"{t.seconds:.3f}"] for kind, t in sorted(rec.kinds.items(), key=lambda kv: -kv[1].calls)
    ]
    lines += _table(["kind", "calls", "seconds"], kind_rows)
    return "\n".join(lines) + "\n"


def summary(profile: Profile) -> dict[str, Any]:
    """What ``bench.run`` reads: per-stack costs and the families."""
    rec = profile.recorder
    return {
        "packs": profile.packs,
        "total": profile.total,
        "overhead": rec.overhead,
        "round_trips": sum(t.calls for t in rec.kinds.values()),
        "round_trip_seconds": sum(t.seconds for t in rec.kinds.values()),
        "phases": {b.name: {"seconds": b.net, "round_trips": b.trips.calls} for b in profile.phases},
        "stacks": {
            s.name: {"seconds": s.net, "round_trips": s.trips, "resources": s.resources} for s in profile.stacks
        },
        "families": {f: {"calls": t.calls, "seconds": t.seconds} for f, t in rec.families.items()},
        "origin_members": [
            {"origin": origin, "member": member, "calls": t.calls, "seconds": t.seconds}
            for (origin, member), t in sorted(rec.origin_member.items(), key=lambda kv: -kv[1].calls)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--packs", action="store_true", help="with the cdk-nag packs (FULL_SYNTH 'on')")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"markdown report (default {DEFAULT_OUT})")
    parser.add_argument("--json", type=Path, help="also write a summary as JSON here (for bench.run)")
    parser.add_argument("--top", type=int, default=25, help="rows of the origin and member tables")
    args = parser.parse_args(argv)
    if "aws_cdk" in sys.modules:
        parser.error("aws_cdk is already imported: run the profiler in a fresh interpreter")
    with tempfile.TemporaryDirectory(prefix="synth-profile-") as outdir:
        profile = run(packs=args.packs, outdir=outdir)
        text = report(profile, top=args.top)
    print(text, end="")
    args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(summary(profile), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
