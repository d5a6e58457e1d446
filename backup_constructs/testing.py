"""Templates ready for snapshot tests (syrupy, pytest-snapshot, a golden file): the same app synthesizes
the same snapshot on every machine and every run.

What is normalized, and nothing else:

- **asset hashes**: every 64-character lower-case hex string (the content hash in a Lambda bundle's
  S3 key, in a custom resource's code location, in an asset parameter) becomes ``"<asset-hash>"``:
  bundling output differs between machines (wheels, timestamps, file order) while the template does not;
- **CDK's analytics**: the ``CDKMetadata`` resource and its ``CDKMetadataAvailable`` condition, which
  encode the CDK version and the constructs used;
- **key order**: keys are sorted, so a diff shows changes, not reordering.

Usage::

    from backup_constructs.testing import snapshot_template

    def test_backup_stack(snapshot):
        assert snapshot_template(stack) == snapshot
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
ASSET_HASH_PLACEHOLDER = "<asset-hash>"
_ANALYTICS_RESOURCE = "CDKMetadata"
_ANALYTICS_CONDITION = "CDKMetadataAvailable"


def snapshot_template(source: Any) -> dict[str, Any]:
    """``source`` (a ``Stack``, or a template already read as a mapping) as a normalized template."""
    template = dict(source) if isinstance(source, Mapping) else _synthesized(source)
    resources = {k: v for k, v in (template.get("Resources") or {}).items() if k != _ANALYTICS_RESOURCE}
    if "Resources" in template:
        template["Resources"] = resources
    conditions = {k: v for k, v in (template.get("Conditions") or {}).items() if k != _ANALYTICS_CONDITION}
    if "Conditions" in template:
        if conditions:
            template["Conditions"] = conditions
        else:
            del template["Conditions"]
    text = ASSET_HASH.sub(ASSET_HASH_PLACEHOLDER, json.dumps(template, sort_keys=True))
    normalized: dict[str, Any] = json.loads(text)
    return normalized


def _synthesized(stack: Any) -> dict[str, Any]:
    from aws_cdk import Stack
    from aws_cdk.assertions import Template

    if not isinstance(stack, Stack):
        raise TypeError(f"snapshot_template: expected a Stack or a template mapping, got {type(stack).__name__}")
    return dict(Template.from_stack(stack).to_json())
