#!/usr/bin/env python3
"""The CDK app: every environment in cdk.json's ``environments`` context (or ``-c environment=NAME``),
with the cdk-nag AwsSolutions and PCI DSS 3.2.1 packs registered."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# CDK's built-in template validation (a cfn-lint rule set run inside synth) costs about 2.4 s of a
# 3 s synth here; the test suite runs cfn-lint itself on every template and fails on any error.
os.environ.setdefault("CDK_VALIDATION", "false")
# Annotations would otherwise carry a JavaScript stack trace that the CLI prints above every message
# (a line like ".../program.js:1:5591"); the construct path it also prints says where they come from.
os.environ.setdefault("CDK_DISABLE_STACK_TRACE", "1")

from aws_cdk import App, Validations

from backup_constructs.core.physical_names import UniquePhysicalNames
from backup_constructs.policy.environments import load_environments
from lambdas.contract.errors import PolicyError
from stacks import STACK_GROUPS, build_environment


def raw_context() -> dict[str, Any]:
    """The context as the CDK CLI hands it over (``CDK_CONTEXT_JSON``, and its overflow file for large
    contexts), read as JSON here: through jsii a ``null`` disappears, and ``"accountIsolation": null``
    would quietly mean "the default". Empty when the app was not started by the CLI."""
    raw: dict[str, Any] = {}
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow and Path(overflow).is_file():
        raw.update(json.loads(Path(overflow).read_text(encoding="utf-8")))
    if text := os.environ.get("CDK_CONTEXT_JSON"):
        raw.update(json.loads(text))
    return raw


def build_app(app: App | None = None) -> App:
    app = app or App()
    context = {"environments": raw_context().get("environments", app.node.try_get_context("environments"))}
    selected = app.node.try_get_context("environment")
    # For a real deployment, CDK_DEPLOY_ACCOUNT / CDK_DEPLOY_REGION override the placeholders.
    configs = load_environments(
        context,
        only=selected,
        account=os.environ.get("CDK_DEPLOY_ACCOUNT"),
        region=os.environ.get("CDK_DEPLOY_REGION"),
    )
    # Each account deploys its own part with its own credentials: -c stacks=workload (the default for
    # make deploy), backup-account or organization. Synth builds all of them.
    groups = app.node.try_get_context("stacks")
    if groups is not None and groups not in STACK_GROUPS:
        raise PolicyError(f"stacks: got {groups!r}; allowed: {', '.join(STACK_GROUPS)}")
    for config in configs:
        build_environment(app, config, groups=(groups,) if groups else STACK_GROUPS)
    # Environments may share an account and region: names AWS keeps unique must differ.
    app.node.add_validation(UniquePhysicalNames(app))
    if app.node.try_get_context("nag") is not False:
        from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks  # loads its jsii assembly: only when used

        Validations.of(app).add_plugins(AwsSolutionsChecks(app), PCIDSS321Checks(app))
    return app


def main() -> int:
    """Synthesize; a value the policy refuses ends the synth with one line (field, value, what is
    allowed) and exit 1, not a traceback."""
    try:
        build_app().synth()
    except PolicyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        # The synth-time checks (construct validations) come back through jsii as one RuntimeError:
        # one line per finding, without the JavaScript and Python stacks around them.
        findings = validation_findings(str(err))
        if not findings:
            raise
        for finding in findings:
            print(f"error: {finding}", file=sys.stderr)
        return 1
    return 0


VALIDATION_HEADER = "Validation failed with the following errors:"


def validation_findings(message: str) -> list[str]:
    """The findings of a failed synth validation (``[construct path] message`` each), if it is one."""
    head, _, body = message.partition(VALIDATION_HEADER)
    if not body or "ValidationFailedWithErrors" not in head:
        return []
    return [line.strip() for line in body.splitlines() if line.strip().startswith("[")]


if __name__ == "__main__":
    sys.exit(main())
