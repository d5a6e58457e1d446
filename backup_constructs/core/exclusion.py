"""Leaving a stateful resource out of the backup plan on purpose: a tag anyone can see in the template
(``backup-policy-exclude=<reason>``, read by ``backupctl check`` and the synth summary) and a metadata
entry the :class:`~backup_constructs.database.enforce.EnforceBackupPolicy` Aspect reads (tags are applied
by an Aspect of their own, so their order against it is not guaranteed)."""

from __future__ import annotations

from aws_cdk import Tags
from constructs import IConstruct

from backup_constructs.policy import PolicyError
from backup_constructs.policy.model import EXCLUDE_TAG_KEY

EXCLUDE_METADATA = "backup-policy:exclude"
_TAG_VALUE_PUNCTUATION = set("_.:/=+-@ ")


def exclude_from_backup(scope: IConstruct, reason: str) -> None:
    """Exclude every stateful resource in ``scope`` from the policy's plan, saying why. The reason becomes
    a tag value: 1-256 letters, digits, spaces and ``_ . : / = + - @``."""
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 256:
        raise PolicyError(f"reason: got {reason!r}; say why, in 1-256 characters (it becomes a tag value)")
    bad = sorted({c for c in reason if not (c.isalnum() or c in _TAG_VALUE_PUNCTUATION)})
    if bad:
        raise PolicyError(
            f"reason: got {reason!r}; {''.join(bad)!r} cannot be in a tag value; allowed: letters, digits, "
            "spaces and _ . : / = + - @"
        )
    scope.node.add_metadata(EXCLUDE_METADATA, reason)
    Tags.of(scope).add(EXCLUDE_TAG_KEY, reason)


def exclusion_reason(node: IConstruct) -> str | None:
    """Why ``node`` (or a scope above it) is excluded, or ``None``."""
    for scope in reversed(node.node.scopes):
        for entry in scope.node.metadata:
            if entry.type == EXCLUDE_METADATA:
                return str(entry.data)
    return None
