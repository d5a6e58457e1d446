"""cdk-nag acknowledgements: one finding on one construct, always with the reason it does not apply."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (``<pack>::<rule>[<finding>]``) on ``construct`` only."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))
