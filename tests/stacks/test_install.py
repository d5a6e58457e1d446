"""The wheel holds the library and the runtime package, and an app outside the repo synthesizes
from it in a fresh virtualenv (the dev virtualenv's site-packages supply aws-cdk-lib)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.install

USER_APP = textwrap.dedent(
    """
    import sys
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2, aws_rds as rds
    from backup_constructs import BackupPolicy, BackupStrategy, EnforceBackupPolicy
    import backup_constructs, lambdas

    print("LIBRARY", backup_constructs.__file__)
    print("RUNTIME", lambdas.__file__)
    app = cdk.App(outdir=sys.argv[1], context={"backup-constructs:bundling": "source-only"})
    stack = cdk.Stack(app, "Shop", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    db = rds.DatabaseInstance(
        stack, "Orders",
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_6),
        vpc=vpc, vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        storage_encrypted=True, backup_retention=cdk.Duration.days(1),
    )
    policy = BackupPolicy.from_context({"drRegion": "eu-central-1"})
    BackupStrategy(stack, "Backup", policy=policy,
                   resources=[cdk.aws_backup.BackupResource.from_rds_database_instance(db)])
    cdk.Aspects.of(app).add(EnforceBackupPolicy(policy), priority=cdk.AspectPriority.MUTATING)
    from backup_constructs.config_backup.construct import KubernetesConfigBackup
    KubernetesConfigBackup(stack, "Config", policy=policy, cluster_name="shop", namespaces=["orders"])
    app.synth()
    """
)


_PACKAGED = ("backup_constructs", "lambdas")


def _source_files() -> list[str]:
    """The files the wheel is built from: what git tracks under the packages, plus the project files."""
    listed = subprocess.run(
        ["git", "ls-files", "--", *_PACKAGED, "pyproject.toml", "README.md", "LICENSE"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [name for name in listed if (ROOT / name).is_file()]


def _build_wheel(out: Path) -> Path:
    """Build from a copy of the tracked sources, so that stale files of an earlier build (setuptools
    reuses an in-tree ``build/``) can never slip into the wheel under test."""
    source = out.parent / "source"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("aws_backup_strategy-*.whl")
    return wheel


@dataclass(frozen=True)
class Installed:
    wheel: Path
    python: Path
    site: Path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, installed into a fresh virtualenv outside the repository."""
    root = tmp_path_factory.mktemp("install")
    wheel = _build_wheel(root / "dist")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies (aws-cdk-lib, constructs, jsii) come from the dev virtualenv; a plain path entry
    # does not run that directory's .pth files, so the editable checkout stays invisible.
    (site / "dev-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return Installed(wheel, python, site)


def test_wheel_holds_the_library_and_the_runtime_package(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    packaged = {n for n in names if n.startswith(tuple(f"{p}/" for p in _PACKAGED))}
    tracked = {n for n in _source_files() if n.startswith(tuple(f"{p}/" for p in _PACKAGED))}
    assert packaged == {n for n in tracked if n.endswith(".py")} | {"lambdas/requirements.txt"}
    assert {"backup_constructs/backup/strategy.py", "lambdas/contract/settings.py"} <= packaged
    assert not any(n.startswith(("tests/", "stacks/", "examples/")) for n in names)


def test_an_outside_app_synthesizes_from_the_installed_wheel(installed: Installed, tmp_path: Path) -> None:
    site = installed.site
    workdir = tmp_path / "user-app"
    workdir.mkdir()
    (workdir / "app.py").write_text(USER_APP)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    result = subprocess.run(
        [str(installed.python), "app.py", str(workdir / "cdk.out")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"LIBRARY {site}" in result.stdout and f"RUNTIME {site}" in result.stdout

    template = json.loads((workdir / "cdk.out" / "Shop.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection"} <= types
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Properties"]["Handler"] for f in functions} == {
        "lambdas.config_backup.handlers.export_handler",
        "lambdas.config_backup.handlers.restore_handler",
    }
    (asset,) = {f["Properties"]["Code"]["S3Key"].removesuffix(".zip") for f in functions}
    bundled = workdir / "cdk.out" / f"asset.{asset}" / "lambdas"
    handlers = Path("config_backup") / "handlers.py"
    assert (bundled / handlers).read_bytes() == (site / "lambdas" / handlers).read_bytes()
    (db,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert db["Properties"]["BackupRetentionPeriod"] == 7  # raised by the aspect from 1
    assert db["Properties"]["MultiAZ"] is True


def test_the_adoption_example_synthesizes_from_the_installed_wheel(installed: Installed, tmp_path: Path) -> None:
    workdir = tmp_path / "example"
    workdir.mkdir()
    (workdir / "app.py").write_bytes((ROOT / "examples" / "existing_app" / "app.py").read_bytes())
    result = subprocess.run(
        [str(installed.python), "app.py", str(workdir / "cdk.out")],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ | {"PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = [p.read_text() for p in (workdir / "cdk.out").glob("*.metadata.json")]
    assert metadata and not any("aws:cdk:error" in m for m in metadata)  # nothing the CLI would stop the synth for
    template = json.loads((workdir / "cdk.out" / "ShopProduction.template.json").read_text())
    resources = template["Resources"]
    db = next(r for k, r in resources.items() if k.startswith("Orders") and r["Type"] == "AWS::RDS::DBInstance")
    assert db["Properties"]["BackupRetentionPeriod"] == 7 and db["Properties"]["MultiAZ"] is True
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    retention = {r.get("Properties", {}).get("RetentionInDays") for r in groups}
    assert retention == {90, 731, 1827, None}  # raised to the policy's floor, never shortened
    types = {r["Type"] for r in resources.values()}
    assert {"AWS::Backup::BackupPlan", "AWS::Lambda::Function", "AWS::CloudWatch::Alarm", "AWS::SNS::Topic"} <= types
