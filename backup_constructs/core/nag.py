"""cdk-nag acknowledgements: one finding on one construct, always with the reason it does not apply."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Token, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (``<pack>::<rule>[<finding>]``) on ``construct`` only."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of a construct's resource, as cdk-nag findings name it."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnElement)
    return Stack.of(construct).get_logical_id(resource)


def nag_partition(scope: IConstruct) -> str:
    """The partition as cdk-nag prints it in a finding: the literal when the stack knows it (partition
    literals), ``<AWS::Partition>`` when it is the pseudo parameter."""
    partition = Stack.of(scope).partition
    return "<AWS::Partition>" if Token.is_unresolved(partition) else partition
