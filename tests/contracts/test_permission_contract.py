"""The permission contract: what the runtime really calls, in every test of the suite, against what
the synthesized templates allow (identity policies and the resource policies in the way)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_secretsmanager as secretsmanager

from backup_constructs.config_backup.construct import KubernetesConfigBackup
from backup_constructs.core.bundling import BUNDLING_CONTEXT
from backup_constructs.policy import BackupPolicy
from tests.conftest import Synthesized
from tests.contracts import deployment as deployment_model
from tests.contracts.functions import FUNCTIONS, GIT_MIRROR_STACK
from tests.contracts.permissions import check, unused_grants
from tests.contracts.recorder import RECORDER

pytestmark = pytest.mark.after_all_tests


@pytest.fixture(scope="module")
def deployed(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> deployment_model.Deployment:
    """The app, plus a stack with the optional git mirror on (the app leaves it off)."""
    outdir = tmp_path_factory.mktemp("variants")
    app = App(outdir=str(outdir), context={BUNDLING_CONTEXT: "source-only"})
    stack = Stack(app, GIT_MIRROR_STACK, env=Environment(account="111111111111", region="us-east-1"))
    KubernetesConfigBackup(
        stack,
        "ConfigBackup",
        policy=BackupPolicy.production(),
        cluster_name="ecommerce-production",
        namespaces=["production"],
        git_mirror_url="https://git.example.com/platform/cluster-config.git",
        git_mirror_secret=secretsmanager.Secret(stack, "GitCredentials"),
        name_prefix="contract-git-mirror",
    )
    app.synth()
    return deployment_model.load(synthesized.outdir, Path(outdir))


def test_every_recorded_runtime_call_is_allowed_by_the_deployed_policies(deployed: deployment_model.Deployment) -> None:
    calls = list(RECORDER.calls)
    assert calls, "no runtime call was recorded: run the whole suite"
    violations, _ = check(calls, deployed, RECORDER.bindings)
    assert [str(v) for v in violations] == []


def test_every_function_uses_what_it_is_granted(deployed: deployment_model.Deployment) -> None:
    _, used = check(list(RECORDER.calls), deployed, RECORDER.bindings)
    unused = [line for runtime in FUNCTIONS for line in unused_grants(deployed, used, runtime)]
    assert unused == []
