"""The one error for a refused value, in the policy at synth time and in the runtime's configuration."""

from __future__ import annotations

import typing


class PolicyError(ValueError):
    """A value outside what AWS or the guide allows; the message names field, value and what is allowed."""


def fail(where: str, value: object, allowed: str) -> typing.NoReturn:
    raise PolicyError(f"{where}: got {value!r}; {allowed}")
