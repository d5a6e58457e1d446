"""Reading the construct tree with fewer jsii round trips: every property read of a construct is a request
to the jsii kernel (node), which costs far more than the Python around it when a walk touches every
resource of an app. Same answers as the direct reads, asked once per class or per stack instead of once
per construct."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnResource, Stack
from constructs import IConstruct

_L1_TYPES: dict[type, str | None] = {}


def cfn_resource_type(resource: CfnResource) -> str:
    """``resource.cfn_resource_type``, read once per L1 class: every generated L1 class (``CfnBucket`` ...)
    hands its ``CFN_RESOURCE_TYPE_NAME`` to ``CfnResource`` and nothing changes it afterwards. A resource
    of no L1 class (a plain ``CfnResource``, as CDK's custom resource providers make) is asked itself."""
    cls = type(resource)
    if cls not in _L1_TYPES:
        _L1_TYPES[cls] = _l1_type(cls)
    known = _L1_TYPES[cls]
    return known if known is not None else resource.cfn_resource_type


def _l1_type(cls: type) -> str | None:
    # The jsii class the object is (a Python subclass of an L1 class is still that resource type).
    declared = next((c for c in cls.__mro__ if vars(c).get("__jsii_declared_type__")), None)
    if declared is None or "CFN_RESOURCE_TYPE_NAME" not in vars(declared):
        return None
    return str(getattr(declared, "CFN_RESOURCE_TYPE_NAME"))  # noqa: B009 - a jsii class property


class StackLookup:
    """``Stack.of`` for the constructs of one walk (``nodes``: ``root.node.find_all()``, ``root`` first), from
    one ``find_all`` per stack among them (none for ``root`` itself) instead of one ``Stack.of`` per
    construct. A construct in no stack of ``nodes`` (``root`` inside a stack) is looked up with ``Stack.of``."""

    def __init__(self, nodes: Sequence[IConstruct]) -> None:
        self._owners: dict[str, Stack] = {}
        # Pre-order: a nested stack comes after the stack it is in, so the nearest stack is the last one.
        for i, stack in enumerate(nodes):
            if isinstance(stack, Stack):
                for node in nodes if i == 0 else stack.node.find_all():
                    self._owners[jsii_reference(node)] = stack

    def __call__(self, construct: IConstruct) -> Stack:
        owner = self._owners.get(jsii_reference(construct))
        return owner if owner is not None else Stack.of(construct)


def jsii_reference(construct: IConstruct) -> str:
    """The construct's identity in the jsii kernel: a construct created in JavaScript gets a new Python
    proxy each time the kernel returns it, so Python's ``id`` does not identify it; its reference does."""
    return str(construct.__jsii_ref__.ref)  # type: ignore[attr-defined]
