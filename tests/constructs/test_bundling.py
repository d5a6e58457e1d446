"""Lambda bundles built without Docker: arm64 wheels for CPython 3.14, no bytecode, small, and a
content-derived asset hash."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_lambda as lambda_

from backup_constructs.core.bundling import (
    BUNDLING_CONTEXT,
    BundlingError,
    function_code,
    handler_dependencies,
    pinned_requirements,
    runtime_package_dir,
)

EXPORT_DEPENDENCIES = tuple(handler_dependencies("lambdas.config_backup.handlers.export_handler"))

MAX_ZIPPED_BYTES = 10 * 1024 * 1024


def _bundle(mode: str, dependencies: tuple[str, ...] = EXPORT_DEPENDENCIES) -> tuple[str, Path]:
    app = App(context={BUNDLING_CONTEXT: mode})
    stack = Stack(app, "B")
    code = function_code(stack, dependencies=dependencies)
    config = code.bind(stack)
    assert config.s3_location is not None
    asset_hash = config.s3_location.object_key.removesuffix(".zip")
    found = [p for p in Path(app.outdir).glob(f"asset.{asset_hash}") if p.is_dir()]
    assert len(found) == 1, list(Path(app.outdir).iterdir())
    return asset_hash, found[0]


@pytest.fixture(scope="module")
def local_bundle() -> tuple[str, Path]:
    return _bundle("local")


def test_bundle_holds_the_runtime_package_and_arm64_wheels_for_python_314(local_bundle: tuple[str, Path]) -> None:
    _, bundle = local_bundle
    assert (bundle / "lambdas" / "config_backup" / "handlers.py").is_file()
    assert (bundle / "yaml" / "__init__.py").is_file()
    native = [p.name for p in bundle.rglob("*.so")]
    assert native and all("aarch64" in name or "abi3" in name for name in native), native
    assert any("cpython-314-aarch64" in name for name in native), native


def test_bundle_has_no_bytecode_and_no_build_paths(local_bundle: tuple[str, Path]) -> None:
    _, bundle = local_bundle
    assert not list(bundle.rglob("*.pyc")) and not list(bundle.rglob("__pycache__"))


def test_bundle_zips_under_the_size_budget(local_bundle: tuple[str, Path]) -> None:
    _, bundle = local_bundle
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(bundle).as_posix())
    assert buffer.tell() <= MAX_ZIPPED_BYTES, f"{buffer.tell() / 1e6:.1f} MB"


def test_asset_hash_is_derived_from_content_and_pins(local_bundle: tuple[str, Path]) -> None:
    again, _ = _bundle("local")
    assert again == local_bundle[0]
    fewer, _ = _bundle("local", ("PyYAML",))
    source_only, _ = _bundle("source-only")
    assert len({local_bundle[0], fewer, source_only}) == 3


def test_source_only_bundle_skips_dependencies() -> None:
    _, bundle = _bundle("source-only")
    assert (bundle / "lambdas" / "kubernetes" / "client.py").is_file()
    assert not (bundle / "yaml").exists()


def test_runtime_package_comes_from_the_installed_distribution() -> None:
    import lambdas

    assert runtime_package_dir() == Path(lambdas.__file__).parent


def test_pins_come_from_the_runtime_requirements() -> None:
    assert pinned_requirements(["pyyaml"]) == ["PyYAML==6.0.3"]
    with pytest.raises(BundlingError, match=r"no pin in lambdas/requirements\.txt for: leftpad"):
        pinned_requirements(["leftpad"])


def test_unknown_bundling_mode_is_rejected() -> None:
    with pytest.raises(BundlingError, match="got 'docker'; allowed: local, source-only"):
        _bundle("docker")


def test_the_wheel_platform_is_the_functions_runtime_and_architecture() -> None:
    """The wheels pip fetches must load on the runtime the functions declare: a runtime bump that
    leaves the pip platform behind would ship extension modules the interpreter cannot import."""
    from backup_constructs.core.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME, PIP_PLATFORM

    platform, python = PIP_PLATFORM
    assert LAMBDA_RUNTIME.name == f"python{python}"
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[LAMBDA_ARCHITECTURE.name]
    assert platform.endswith("_" + machine)
    assert LAMBDA_RUNTIME.name == lambda_.Runtime.PYTHON_3_14.name, "the newest Python runtime Lambda offers"
