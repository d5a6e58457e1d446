"""The AWS regions a policy may name: every region of every partition in botocore's endpoint data (read
from the installed botocore, no AWS call), so that a typo such as ``us-east-9`` fails at synth."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data lists; empty when botocore is not installed (then only the
    shape of a region name is checked)."""
    try:
        data = resources.files("botocore").joinpath("data/endpoints.json").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        return frozenset()
    return frozenset(r for p in json.loads(data)["partitions"] for r in p.get("regions", {}))


def is_known_region(name: str) -> bool:
    regions = known_regions()
    return not regions or name in regions
