"""The CLI refuses bad files and values in one line with the documented exit code, never a traceback:
unreadable or invalid cdk.json, a directory where a file belongs, a cloud assembly that is not one, a
time without a zone, an instance class that is not one."""

from __future__ import annotations

from pathlib import Path

import pytest

from backup_constructs.cli.main import main
from tests.conftest import ROOT

CDK_JSON = str(ROOT / "cdk.json")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "bad.json").write_text("{bad", encoding="utf-8")
    (tmp_path / "list.json").write_text("[]", encoding="utf-8")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00\x81")
    (tmp_path / "assembly").mkdir()
    (tmp_path / "assembly" / "manifest.json").write_text('{"artifacts": []}', encoding="utf-8")
    (tmp_path / "dir").mkdir()
    return {k: str(tmp_path / v) for k, v in {
        "bad": "bad.json", "list": "list.json", "binary": "binary.json", "assembly": "assembly", "dir": "dir",
    }.items()}  # fmt: skip


CASES = [
    (["summary", "--cdk-json", "{dir}"], "{dir}: cannot read it (Is a directory)"),
    (["summary", "--cdk-json", "{bad}"], "{bad}: not valid JSON"),
    (["summary", "--cdk-json", "{list}"], "{list}: expected a JSON object with a 'context' object"),
    (["summary", "--cdk-json", "{binary}"], "{binary}: not a UTF-8 text file"),
    (["summary", "--assembly", "{assembly}", "--cdk-json", CDK_JSON], "manifest.json: not a cloud assembly manifest"),
    (["report", "--presets", "--output", "{dir}"], "Is a directory: {dir}"),
    (["doctor", "--env", "production", "--cdk-json", "{bad}"], "{bad}: not valid JSON"),
    (["db", "restore", "--env", "production", "--cdk-json", "{dir}", "--latest", "--target-instance", "x"],
     "{dir}: cannot read it"),
    (["dr", "failover", "--env", "production", "--cdk-json", "{bad}"], "{bad}: not valid JSON"),
    (["db", "backup", "--env", "prod", "--cdk-json", CDK_JSON], "environment: got 'prod'; allowed: production"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), CASES, ids=[" ".join(c[0][:2]) + f" {i}" for i, c in enumerate(CASES)])
def test_bad_files_get_one_line_and_exit_2(
    files: dict[str, str], argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([a.format(**files) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message.format(**files) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


ARGUMENT_CASES = [
    (["--to-time", "2026-01-01"], "a date alone is ambiguous"),
    (["--to-time", "2026-01-01T10:00:00"], "give the time zone (Z for UTC)"),
    (["--to-time", "yesterday"], "expected ISO 8601"),
    (["--instance-class", "t4g.medium", "--latest"], "expected an RDS instance class"),
]


@pytest.mark.parametrize(("extra", "message"), ARGUMENT_CASES, ids=[c[1] for c in ARGUMENT_CASES])
def test_a_time_without_a_zone_and_an_instance_class_that_is_not_one_are_refused_before_anything_happens(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["db", "restore", "--env", "production", "--cdk-json", CDK_JSON, "--target-instance", "x", *extra]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and extra[1] in err and "Traceback" not in err


def test_an_unexpected_failure_is_one_line_and_exit_1_unless_debugging(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backup_constructs.cli import summary

    def broken(*_: object) -> str:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(summary, "render_summary", broken)
    argv = ["summary", "--cdk-json", CDK_JSON, "--assembly", str(ROOT)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("backupctl: failed: RuntimeError: something nobody expected (BACKUPCTL_DEBUG=1 shows where)")
    monkeypatch.setenv("BACKUPCTL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="something nobody expected"):
        main(argv)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe\x00\x81", "is not a UTF-8 text file"), (b"clusters: [unclosed", "is not valid YAML")],
    ids=["binary", "malformed"],
)
def test_a_bad_kubeconfig_is_one_line_and_exit_2(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(content)
    key = "arn:aws:kms:us-east-1:111111111111:alias/sops"
    argv = ["config", "export", "--bucket", "b", "--namespace", "orders", "--kubeconfig", str(kubeconfig),
            "--kms-key-id", key, "--digest-key-id", key]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and str(kubeconfig) in err and len(err.strip().splitlines()) == 1, err


def test_a_report_dir_that_is_a_file_is_refused_before_the_drill_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_file = tmp_path / "report"
    report_file.write_text("not a directory", encoding="utf-8")
    argv = ["drill", "--env", "production", "--cdk-json", CDK_JSON, "--skip-restore", "--report-dir", str(report_file)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"backupctl: refused: --report-dir: {report_file} exists and is not a directory"
