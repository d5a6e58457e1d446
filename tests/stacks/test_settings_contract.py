"""The settings contract: each function of the synthesized app gets, in its environment, exactly what its
handler reads — every variable its settings need is there and parses, and none is left unused."""

from __future__ import annotations

import pytest

from lambdas.contract.functions import FUNCTIONS
from tests.conftest import Synthesized
from tests.contracts import deployment as deployment_model

HANDLERS = {spec.handler: spec for spec in FUNCTIONS.values()}
# CDK's own functions (the default security group's restriction) are not the runtime's.
NOT_OURS = ("CustomVpcRestrictDefaultSG",)


@pytest.fixture(scope="module")
def functions(synthesized: Synthesized) -> list[tuple[str, str, dict[str, str]]]:
    deployed = deployment_model.load(synthesized.outdir)
    found = []
    for key, function in deployed.functions.items():
        if function.logical_id.startswith(NOT_OURS):
            continue
        resource = deployed.stacks[function.stack].resources[function.logical_id]
        found.append((key, resource["Properties"]["Handler"], dict(function.environment)))
    return found


def test_every_function_of_the_app_runs_a_handler_of_the_contract(
    functions: list[tuple[str, str, dict[str, str]]],
) -> None:
    assert len(functions) >= 10
    assert {handler for _, handler, _ in functions} <= set(HANDLERS)
    assert {HANDLERS[h].name for _, h, _ in functions} == set(FUNCTIONS)


def test_every_environment_parses_with_its_handlers_settings_and_leaves_nothing_unused(
    functions: list[tuple[str, str, dict[str, str]]],
) -> None:
    for key, handler, environment in functions:
        settings = HANDLERS[handler].settings
        if settings is None:
            assert environment == {}, key
            continue
        parsed = settings.from_env(environment)  # raises on a missing or malformed variable
        unused = set(environment) - set(settings.variables().values())
        assert unused == set(), f"{key}: {sorted(unused)} set but never read"
        missing = settings.required_variables() - set(environment)
        assert missing == set(), f"{key}: {sorted(missing)} missing"
        assert settings.from_env(parsed.to_env()) == parsed, key  # what the constructs write, the handler reads


def test_a_missing_variable_is_named(functions: list[tuple[str, str, dict[str, str]]]) -> None:
    _key, handler, environment = next(f for f in functions if HANDLERS[f[1]].name == "config-export")
    settings = HANDLERS[handler].settings
    assert settings is not None
    with pytest.raises(ValueError, match="environment variable BUCKET is not set"):
        settings.from_env({k: v for k, v in environment.items() if k != "BUCKET"})
