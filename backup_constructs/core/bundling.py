"""Lambda code for the runtime package, bundled without Docker.

The bundle is the installed ``lambdas`` package (found from the installed distribution, not from a
checkout) plus the function's pinned third-party dependencies, installed with pip for the Lambda
platform (arm64, CPython 3.14, binary wheels only, no ``.pyc``). The asset hash is computed from
the runtime sources and the pins, so two synths give the same template wherever they run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_14
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = ("manylinux2014_aarch64", "3.14")
BUNDLING_CONTEXT = "backup-constructs:bundling"
"""Context key: ``"local"`` (default) bundles dependencies; ``"source-only"`` skips them (for
template tests, where the function code is not under test)."""
CACHE_ENV = "BACKUP_CONSTRUCTS_CACHE"


class BundlingError(RuntimeError):
    """The Lambda bundle could not be built (the message says which packages and platform)."""


def runtime_package_dir() -> Path:
    spec = importlib.util.find_spec("lambdas")
    if spec is None or spec.origin is None:
        raise BundlingError("the runtime package 'lambdas' is not installed beside backup_constructs")
    return Path(spec.origin).parent


def pinned_requirements(names: Sequence[str]) -> list[str]:
    """The ``name==version`` pins from the runtime package's requirements.txt for ``names``."""
    pins: dict[str, str] = {}
    for line in (runtime_package_dir() / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            pins[line.split("==", 1)[0].strip().lower()] = line
    missing = [n for n in names if n.lower() not in pins]
    if missing:
        raise BundlingError(f"no pin in lambdas/requirements.txt for: {', '.join(missing)}")
    return [pins[n.lower()] for n in names]


_DECLARATIONS = ("BUNDLE_DEPENDENCIES", "OPTIONAL_DEPENDENCIES")


def handler_dependencies(handler: str, features: Sequence[str] = ()) -> list[str]:
    """What a handler's module declares it needs bundled (``BUNDLE_DEPENDENCIES`` keyed by handler
    function, plus ``OPTIONAL_DEPENDENCIES`` of the asked ``features``), read from its source without
    importing it: the runtime's own imports must not run at synth."""
    module, function = handler.rsplit(".", 1)
    if not module.startswith("lambdas."):
        raise BundlingError(f"handler {handler!r} is not in the runtime package 'lambdas'")
    path = runtime_package_dir().joinpath(*module.split(".")[1:]).with_suffix(".py")
    if not path.is_file():
        raise BundlingError(f"handler {handler!r}: no module {path}")
    declared: dict[str, object] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign):
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and value is not None and target.id in _DECLARATIONS:
            declared[target.id] = ast.literal_eval(value)
    bundle = declared.get("BUNDLE_DEPENDENCIES")
    if not isinstance(bundle, dict) or function not in bundle:
        raise BundlingError(f"{path.name} declares no BUNDLE_DEPENDENCIES for {function!r}")
    names = list(bundle[function])
    optional = declared.get("OPTIONAL_DEPENDENCIES") or {}
    assert isinstance(optional, dict)
    for feature in features:
        if feature not in optional:
            raise BundlingError(f"{path.name} declares no OPTIONAL_DEPENDENCIES for {feature!r}")
        names += list(optional[feature])
    return names


def _source_files(package: Path) -> list[Path]:
    return sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".txt", ".json")
    )


def _digest(parts: Sequence[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def cache_root() -> Path:
    """Where built dependency sets are kept between synths (``$BACKUP_CONSTRUCTS_CACHE`` or ~/.cache)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "aws-backup-strategy")


def _install_dependencies(requirements: list[str], target: Path) -> None:
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    platform, python = PIP_PLATFORM
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--target", str(work), "--platform", platform, "--implementation", "cp", "--python-version", python,
        "--only-binary=:all:", "--no-deps", *requirements,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise BundlingError(
            f"pip could not install {', '.join(requirements)} for {platform} / CPython {python}: "
            + result.stderr.strip()[-2000:]
        )
    for stray in work.rglob("__pycache__"):
        shutil.rmtree(stray)
    try:
        work.rename(target)
    except OSError:  # another synth finished the same bundle first
        shutil.rmtree(work, ignore_errors=True)


def function_code(scope: Construct, *, dependencies: Sequence[str]) -> lambda_.Code:
    """The code asset for a function of the runtime package that needs ``dependencies`` (see
    :func:`handler_dependencies`)."""
    package = runtime_package_dir()
    files = _source_files(package)
    mode = scope.node.try_get_context(BUNDLING_CONTEXT) or "local"
    if mode not in ("local", "source-only"):
        raise BundlingError(f"context {BUNDLING_CONTEXT}: got {mode!r}; allowed: local, source-only")
    requirements = pinned_requirements(dependencies) if mode == "local" else []
    deps_key = _digest([s.encode() for s in (*PIP_PLATFORM, *requirements)]) if requirements else "none"
    parts = [mode.encode(), deps_key.encode()]
    for f in files:
        parts += [f.relative_to(package).as_posix().encode(), f.read_bytes()]
    asset_hash = _digest(parts)

    bundle = cache_root() / "bundles" / asset_hash
    if not bundle.exists():
        staging = Path(tempfile.mkdtemp(prefix=asset_hash[:12] + ".", dir=_mkdir(bundle.parent)))
        if requirements:
            deps = cache_root() / "dependencies" / deps_key
            _install_dependencies(requirements, deps)
            shutil.copytree(deps, staging, dirs_exist_ok=True)
        for f in files:
            dest = staging / "lambdas" / f.relative_to(package)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
        try:
            staging.rename(bundle)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return lambda_.Code.from_asset(str(bundle), asset_hash=asset_hash, asset_hash_type=AssetHashType.CUSTOM)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
