"""The project's KMS keys: customer managed, rotated yearly, retained when a stack is deleted."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


def rotating_key(scope: Construct, id_: str, *, description: str, **kwargs: Any) -> kms.Key:
    """A KMS key with rotation, retained on stack deletion (what it encrypts outlives the stack)."""
    return kms.Key(
        scope, id_, description=description, enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN, **kwargs
    )
