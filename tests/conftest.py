"""Shared fixtures: the pinned Node.js first on PATH (jsii runs on it), and one synthesized app."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.contracts import recorder as _recorder
from tests.contracts.functions import entry_points as _entry_points

# The configuration backup's world (moto, the Kubernetes API test server, seeded namespaces), shared by
# the runtime's and the CLI's tests.
pytest_plugins = ["tests.fixtures.config_world"]

# Every AWS call the runtime makes in any test is recorded for the permission contract
# (tests/contracts/test_permission_contract.py, which runs last).
_recorder.install()
for _entry in _entry_points():
    _recorder.RECORDER.register(_entry)

ROOT = Path(__file__).resolve().parent.parent
_NODE_BIN = ROOT / "node_modules" / ".bin"
if _NODE_BIN.is_dir() and str(_NODE_BIN) not in os.environ.get("PATH", ""):
    os.environ["PATH"] = f"{_NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
# As in app.py: CDK's built-in template validation is replaced by cfn-lint on every template (test_app).
os.environ.setdefault("CDK_VALIDATION", "false")
os.environ.setdefault("CDK_DISABLE_STACK_TRACE", "1")


def cdk_json_context() -> dict[str, Any]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert isinstance(context, dict)
    return context


@dataclass
class Synthesized:
    """A synthesized cloud assembly: templates by stack name, and the assembly directory."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    regions: dict[str, str]
    termination_protection: dict[str, bool]

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}


def synth_app(outdir: Path, context: dict[str, Any] | None = None) -> Synthesized:
    from aws_cdk import App

    from app import build_app
    from backup_constructs.core.bundling import BUNDLING_CONTEXT

    context = context or cdk_json_context()
    # Template tests do not need the dependencies in the function bundles (a dedicated test builds them).
    context.setdefault(BUNDLING_CONTEXT, "source-only")
    app = build_app(App(outdir=str(outdir), context=context))
    assembly = app.synth()
    templates, regions, protection = {}, {}, {}
    for stack in assembly.stacks:
        templates[stack.stack_name] = stack.template
        regions[stack.stack_name] = stack.environment.region
        protection[stack.stack_name] = bool(stack.termination_protection)
    return Synthesized(outdir, templates, regions, protection)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The whole app (every environment, cdk-nag packs registered), synthesized once per session."""
    return synth_app(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def existing_app_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``examples/existing_app`` synthesized once per session, as its users run it (a process of its own)."""
    import subprocess
    import sys

    outdir = tmp_path_factory.mktemp("existing-app.out")
    context = {"backup-constructs:bundling": "source-only"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "existing_app" / "app.py"), str(outdir)],
        cwd=ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return outdir


@pytest.fixture
def fresh_stack() -> Iterator[Callable[..., Any]]:
    """A factory for a fresh Stack in a fresh App with a fixed environment."""
    from aws_cdk import App, Environment, Stack

    def make(region: str = "us-east-1") -> Stack:
        app = App()
        return Stack(app, "TestStack", env=Environment(account="111111111111", region=region))

    yield make


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Contract checks over what the whole suite recorded run after everything else."""
    last = [item for item in items if item.get_closest_marker("after_all_tests")]
    items[:] = [item for item in items if not item.get_closest_marker("after_all_tests")] + last


# `make test` runs the suite in parallel processes, then the contract checks over what they recorded:
# each process writes its recordings into $BACKUP_TEST_RECORD_TO, the checks read $BACKUP_TEST_RECORDED_IN.
_RECORD_TO = os.environ.get("BACKUP_TEST_RECORD_TO")
_RECORDED_IN = os.environ.get("BACKUP_TEST_RECORDED_IN")


def pytest_sessionstart(session: pytest.Session) -> None:
    if _RECORDED_IN and not hasattr(session.config, "workerinput"):
        loaded = _recorder.RECORDER.load(Path(_RECORDED_IN))
        if not loaded:
            raise pytest.UsageError(f"BACKUP_TEST_RECORDED_IN={_RECORDED_IN}: no recordings (run the suite first)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RECORD_TO and _recorder.RECORDER.calls:
        worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
        _recorder.RECORDER.dump(Path(_RECORD_TO) / f"{worker}-{os.getpid()}.json")


def pytest_runtest_setup(item: pytest.Item) -> None:
    _recorder.RECORDER.current_test = item.nodeid
