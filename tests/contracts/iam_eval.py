"""A small IAM policy evaluator for the permission contract: same-account requests by one principal,
identity policies plus the resource policy in the request's way.

What it models (AWS's documented evaluation logic, same account):
- an explicit Deny in any applicable policy wins;
- otherwise the request is allowed when an identity policy allows it, or when the resource policy
  allows this principal by name (for KMS the key policy must allow in any case: directly, or by
  allowing the account, which then lets the identity policies decide);
- ``Action``/``NotAction``, ``Resource``/``NotResource``, ``Principal``/``NotPrincipal`` with ``*`` and
  ``?`` wildcards (actions case-insensitive), and conditions with the ``String*``, ``Arn*``, ``Bool``,
  ``Numeric*`` and ``Null`` operators, ``...IfExists``, and ``ForAnyValue:`` / ``ForAllValues:``.
Anything else (an operator it does not know) raises, so an unmodelled policy cannot pass silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ContextValue = str | Sequence[str]


class UnsupportedPolicy(Exception):
    """The policy uses something this evaluator does not model."""


@dataclass(frozen=True)
class Request:
    """One authorization request: ``principal`` (a role ARN) performs ``action`` on ``resource``."""

    principal: str
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    @property
    def account(self) -> str:
        return self.principal.split(":")[4]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(_glob(p, action, case=False) for p in patterns)


def _resource_matches(patterns: Iterable[str], resource: str) -> bool:
    return any(_glob(p, resource) for p in patterns)


def _principal_matches(principal: Any, request: Request) -> tuple[bool, bool]:
    """(matches at all, matches only as "the account" - delegation to identity policies)."""
    if principal == "*":
        return True, False
    if not isinstance(principal, Mapping):
        raise UnsupportedPolicy(f"principal {principal!r}")
    direct = False
    account = False
    for kind, values in principal.items():
        if kind != "AWS":
            continue  # service principals never match a role's request
        for value in _as_list(values):
            if value == "*" or value == request.principal:
                direct = True
            elif value in (request.account, f"arn:aws:iam::{request.account}:root"):
                account = True
    return direct or account, account and not direct


# Conditions ----------------------------------------------------------------------------------------

_STRING_OPS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p != v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda p, v: p.lower() != v.lower(),
    "StringLike": lambda p, v: _glob(p, v),
    "StringNotLike": lambda p, v: not _glob(p, v),
    "ArnEquals": lambda p, v: _glob(p, v),
    "ArnLike": lambda p, v: _glob(p, v),
    "ArnNotEquals": lambda p, v: not _glob(p, v),
    "ArnNotLike": lambda p, v: not _glob(p, v),
    "Bool": lambda p, v: p.lower() == v.lower(),
    "NumericEquals": lambda p, v: float(v) == float(p),
    "NumericNotEquals": lambda p, v: float(v) != float(p),
    "NumericLessThan": lambda p, v: float(v) < float(p),
    "NumericLessThanEquals": lambda p, v: float(v) <= float(p),
    "NumericGreaterThan": lambda p, v: float(v) > float(p),
    "NumericGreaterThanEquals": lambda p, v: float(v) >= float(p),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def _condition_holds(operator: str, key: str, raw_patterns: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    patterns: list[str] = [str(p).lower() if isinstance(p, bool) else str(p) for p in _as_list(raw_patterns)]
    present = key in context
    if op == "Null":
        wanted = patterns[0].lower() == "true"
        return (not present) == wanted
    if op not in _STRING_OPS:
        raise UnsupportedPolicy(f"condition operator {operator}")
    compare: Any = _STRING_OPS[op]
    if not present:
        # A missing key: IfExists, negated operators and ForAllValues hold, the others do not.
        return if_exists or qualifier == "ForAllValues" or (op in _NEGATED and qualifier == "")
    raw = context[key]
    values = [raw] if isinstance(raw, str) else list(raw)
    if qualifier == "ForAnyValue":
        return any(_single(op, compare, patterns, v) for v in values)
    if qualifier == "ForAllValues":
        return all(_single(op, compare, patterns, v) for v in values)
    if qualifier:
        raise UnsupportedPolicy(f"condition qualifier {qualifier}")
    if len(values) != 1:
        raise UnsupportedPolicy(f"multi-valued key {key} without ForAnyValue/ForAllValues")
    return _single(op, compare, patterns, values[0])


def _single(op: str, compare: Any, patterns: list[str], value: str) -> bool:
    # Negated operators hold when the value matches none of the patterns; the others when it matches one.
    if op in _NEGATED:
        return all(bool(compare(p, value)) for p in patterns)
    return any(bool(compare(p, value)) for p in patterns)


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]] | None, context: Mapping[str, ContextValue]) -> bool:
    for operator, keys in (conditions or {}).items():
        for key, patterns in keys.items():
            if not _condition_holds(operator, key, patterns, context):
                return False
    return True


# Statements and policies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    effect: str
    sid: str
    account_only: bool = False


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def matching_statements(document: Mapping[str, Any], request: Request, *, resource_policy: bool) -> list[Match]:
    found = []
    for statement in _statements(document):
        if "Action" in statement:
            if not _action_matches(_as_list(statement["Action"]), request.action):
                continue
        elif "NotAction" in statement:
            if _action_matches(_as_list(statement["NotAction"]), request.action):
                continue
        else:
            raise UnsupportedPolicy(f"statement without Action: {statement}")
        if "Resource" in statement:
            if not _resource_matches(_as_list(statement["Resource"]), request.resource):
                continue
        elif "NotResource" in statement:
            if _resource_matches(_as_list(statement["NotResource"]), request.resource):
                continue
        elif not resource_policy:
            raise UnsupportedPolicy(f"identity statement without Resource: {statement}")
        account_only = False
        if resource_policy:
            if "Principal" in statement:
                matched, account_only = _principal_matches(statement["Principal"], request)
                if not matched:
                    continue
            elif "NotPrincipal" in statement:
                matched, _ = _principal_matches(statement["NotPrincipal"], request)
                if matched:
                    continue
            else:
                raise UnsupportedPolicy(f"resource statement without Principal: {statement}")
        if not conditions_hold(statement.get("Condition"), request.context):
            continue
        found.append(Match(str(statement.get("Effect")), str(statement.get("Sid", "")), account_only))
    return found


def evaluate(
    request: Request,
    identity_policies: Sequence[Mapping[str, Any]],
    resource_policy: Mapping[str, Any] | None = None,
    *,
    key_policy: bool = False,
) -> Decision:
    """Allow or deny ``request``. ``key_policy``: ``resource_policy`` is a KMS key policy (required)."""
    identity = [m for doc in identity_policies for m in matching_statements(doc, request, resource_policy=False)]
    resource = matching_statements(resource_policy, request, resource_policy=True) if resource_policy else []
    for match in (*identity, *resource):
        if match.effect == "Deny":
            where = "resource policy" if match in resource else "identity policy"
            return Decision(False, f"denied by {where} statement {match.sid or '(no Sid)'}")
    identity_allows = any(m.effect == "Allow" for m in identity)
    direct = [m for m in resource if m.effect == "Allow" and not m.account_only]
    delegated = [m for m in resource if m.effect == "Allow" and m.account_only]
    if key_policy:
        if resource_policy is None:
            return Decision(False, "no key policy")
        if direct:
            return Decision(True, f"allowed by key policy statement {direct[0].sid}")
        if delegated and identity_allows:
            return Decision(True, f"key policy {delegated[0].sid} lets the account's IAM policies decide; one allows")
        if delegated:
            return Decision(False, "the key policy lets IAM policies decide, and none allows")
        return Decision(False, "the key policy does not allow this principal")
    if identity_allows:
        return Decision(True, "allowed by an identity policy")
    if direct:
        return Decision(True, f"allowed by resource policy statement {direct[0].sid}")
    return Decision(False, "no policy allows it")
