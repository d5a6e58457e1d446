"""PyYAML with libyaml's C emitter and parser (shipped in PyYAML's wheels) when present: an order of
magnitude faster than the pure-Python ones for exports of thousands of objects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    SafeDumper = yaml.SafeDumper
    SafeLoader = yaml.SafeLoader
else:
    SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["SafeDumper", "SafeLoader"]
