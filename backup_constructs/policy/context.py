"""A policy from cdk.json context: one environment's ``policy`` object applied over a preset, with the
path of every key in the messages."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from backup_constructs.policy.model import BackupPolicy, BackupRule
from lambdas.contract.errors import PolicyError
from lambdas.contract.errors import fail as _fail


def apply_overrides(overrides: Mapping[str, Any] | None, *, base: BackupPolicy) -> BackupPolicy:
    """``base`` with ``overrides`` (camelCase or snake_case keys) applied; unknown keys are refused, and so
    is anything but an object (``"policy": []`` is not "no changes")."""
    if overrides is None:
        return base
    if not isinstance(overrides, Mapping):
        _fail("policy", overrides, "expected an object of policy fields")
    return typing.cast(BackupPolicy, _override(base, overrides, "policy"))


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _override(current: Any, overrides: Mapping[str, Any], where: str) -> Any:
    if not isinstance(overrides, Mapping):
        _fail(where, overrides, "expected an object")
    cls = type(current)
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    changes: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for key, name, value in _entries(cls, overrides, where):
        if name not in known:
            _fail(f"{where}.{key}", value, f"unknown key; allowed: {', '.join(sorted(known))}")
        if name in spelled:
            _fail(f"{where}.{key}", value, f"given twice, as {spelled[name]!r} and {key!r}: keep one")
        spelled[name] = key
        old = getattr(current, name)
        if name == "rules":
            changes[name] = _override_rules(old, value, f"{where}.{key}")
        else:
            changes[name] = _convert(hints[name], old, value, f"{where}.{key}")
    try:
        return dataclasses.replace(current, **changes)
    except PolicyError as err:
        raise PolicyError(f"{where}: {err}") from None


def _entries(cls: type[Any], overrides: Mapping[str, Any], where: str) -> list[tuple[str, str, Any]]:
    """(key as written, field name, value) of ``overrides``; ``logRetention: {"days": 90, "mode": "exact"}``
    is ``logRetentionDays`` and ``logRetentionMode``, named ``logRetention.days`` / ``.mode`` in messages."""
    entries: list[tuple[str, str, Any]] = []
    for key, value in overrides.items():
        if cls is not BackupPolicy or _snake(key) != "log_retention":
            entries.append((key, _snake(key), value))
            continue
        if not isinstance(value, Mapping) or not value or set(value) - {"days", "mode"}:
            _fail(f"{where}.{key}", value, 'expected an object with "days" and/or "mode" ("floor" or "exact")')
        entries += [
            (f"{key}.{part}", f"log_retention_{part}", value[part]) for part in ("days", "mode") if part in value
        ]
    return entries


def _override_rules(rules: tuple[BackupRule, ...], value: Any, where: str) -> tuple[BackupRule, ...]:
    if isinstance(value, list):
        return tuple(_build(BackupRule, item, f"{where}[{i}]") for i, item in enumerate(value))
    if isinstance(value, Mapping):
        by_name = {r.name: r for r in rules}
        for name in value:
            if name not in by_name:
                _fail(f"{where}.{name}", value[name], f"no such rule; rules are: {', '.join(by_name)}")
        return tuple(_override(r, value[r.name], f"{where}.{r.name}") if r.name in value else r for r in rules)
    _fail(where, value, "expected a list of rules or an object keyed by rule name")


def _build(cls: type[Any], value: Any, where: str) -> Any:
    if not isinstance(value, Mapping):
        _fail(where, value, f"expected an object describing a {cls.__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        name = _snake(key)
        if name not in fields:
            _fail(f"{where}.{key}", item, f"unknown key; allowed: {', '.join(fields)}")
        kwargs[name] = _convert(hints[name], None, item, f"{where}.{key}")
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        _fail(where, dict(value), f"missing required keys: {', '.join(missing)}")
    return cls(**kwargs)


def _convert(hint: Any, old: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, old, value, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if old is not None and isinstance(value, Mapping):
            return _override(old, value, where)
        return _build(hint, value, where)
    if origin is tuple:
        if not isinstance(value, list):
            _fail(where, value, "expected a list")
        return tuple(_convert(args[0], None, v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            _fail(where, value, f"allowed: {', '.join(str(m.value) for m in hint)}")
    if hint is bool:
        if not isinstance(value, bool):
            _fail(where, value, "expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(where, value, "expected a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            _fail(where, value, "expected a string")
        return value
    raise TypeError(f"{where}: no converter for {hint!r}")  # a bug in this module, not bad input
