"""The CI gate: whether any CDK app's cloud assembly meets a backup policy. Pure Python over the
synthesized templates: no CDK, no AWS calls."""

from backup_constructs.compliance.assembly import Assembly
from backup_constructs.compliance.gate import Finding, PolicyGate

__all__ = ["Assembly", "Finding", "PolicyGate"]
