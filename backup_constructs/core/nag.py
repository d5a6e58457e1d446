"""cdk-nag acknowledgements: one finding on one construct, always with the reason it does not apply."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnElement, Stack, Token, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (``<pack>::<rule>[<finding>]``) on ``construct`` only."""
    acknowledge_all(construct, [(rule, reason)])


def acknowledge_all(construct: IConstruct, rules: Iterable[tuple[str, str]]) -> None:
    """Acknowledge each ``(rule, reason)`` on ``construct``, in order: the same metadata as one
    :func:`acknowledge` per rule, in one call to CDK instead of one per rule (each is two jsii round trips)."""
    acknowledgments = [Acknowledgment(id=rule, reason=reason) for rule, reason in rules]
    if acknowledgments:
        Validations.of(construct).acknowledge(*acknowledgments)


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
