"""Tests of `lambdas.config_backup.git_mirror` against real bare repositories made and inspected with the git CLI."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambdas.config_backup.git_mirror import (
    GitMirrorError,
    GitMirrorSettings,
    MirrorResult,
    credentials_from_secret,
    mirror_backup,
    redact_url,
    validate_sops_secrets,
)

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")

CLUSTER = "prod-eu"
NAMESPACE = "shop"
BACKUP_ID = "20250101T000000Z-abc123"
PASSWORD = "s3cr3t-pa55word"

CONFIGMAPS = b"apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n  metadata:\n    name: app\n  data:\n    k: v\n"
SECRETS = (
    b"apiVersion: v1\n"
    b"kind: List\n"
    b"items:\n"
    b"- kind: Secret\n"
    b"  metadata:\n"
    b"    name: db\n"
    b"  data:\n"
    b"    password: ENC[AES256_GCM,data:q83v,iv:AAAA,tag:BBBB,type:str]\n"
    b'    empty: ""\n'
    b"  stringData:\n"
    b"    token: ENC[AES256_GCM,data:zz9,iv:CCCC,tag:DDDD,type:str]\n"
    b"sops:\n"
    b"  kms:\n"
    b"  - arn: arn:aws:kms:us-east-1:111122223333:key/1234\n"
    b"  mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n"
    b"  version: 3.9.0\n"
)


def manifest(backup_id: str = BACKUP_ID) -> bytes:
    body = {
        "formatVersion": 1,
        "backupId": backup_id,
        "cluster": CLUSTER,
        "namespace": NAMESPACE,
        "createdAt": "2025-01-01T00:00:00Z",
        "trigger": "schedule",
        "objects": [],
        "files": {},
    }
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def backup_files(backup_id: str = BACKUP_ID, secrets: bytes = SECRETS) -> dict[str, bytes]:
    return {"configmaps.yaml": CONFIGMAPS, "secrets.sops.yaml": secrets, "manifest.json": manifest(backup_id)}


class Git:
    """The git CLI with an isolated HOME and a fixed identity."""

    def __init__(self, home: Path) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Other Writer",
            "GIT_AUTHOR_EMAIL": "other@example.invalid",
            "GIT_COMMITTER_NAME": "Other Writer",
            "GIT_COMMITTER_EMAIL": "other@example.invalid",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def __call__(self, *args: str | Path, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *map(str, args)], cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"git {args} failed: {done.stderr}"
        return done.stdout

    def count(self, bare: Path, branch: str = "main") -> int:
        out = subprocess.run(
            ["git", "rev-list", "--count", branch], cwd=bare, env=self.env, capture_output=True, text=True, check=False
        )
        return int(out.stdout) if out.returncode == 0 else 0

    def subjects(self, bare: Path, branch: str = "main") -> list[str]:
        return self("log", "--format=%s", branch, cwd=bare).splitlines()

    def clone(self, bare: Path, dest: Path, branch: str = "main") -> Path:
        self("clone", "-q", "-b", branch, bare, dest)
        return dest

    def push_other_commit(self, bare: Path, dest: Path, name: str, branch: str = "main") -> None:
        """Another writer: clone, commit one file, push."""
        if not dest.exists():
            self.clone(bare, dest, branch)
        elif self("ls-remote", "origin", branch, cwd=dest):
            self("pull", "-q", "--ff-only", "origin", branch, cwd=dest)
        (dest / name).write_text(f"{name}\n")
        self("add", name, cwd=dest)
        self("commit", "-q", "-m", f"other writer {name}", cwd=dest)
        self("push", "-q", "origin", branch, cwd=dest)


@pytest.fixture
def git(tmp_path: Path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    return Git(home)


@pytest.fixture
def empty_bare(tmp_path: Path, git: Git) -> Path:
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "--initial-branch=main", bare)
    return bare


@pytest.fixture
def seeded_bare(tmp_path: Path, git: Git, empty_bare: Path) -> Path:
    seed = tmp_path / "seed"
    git("init", "-q", "--initial-branch=main", seed)
    git("remote", "add", "origin", empty_bare, cwd=seed)
    git.push_other_commit(empty_bare, seed, "README.md")
    return empty_bare


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path / "work"


def run_mirror(
    bare: Path,
    workdir: Path,
    *,
    url: str | None = None,
    files: dict[str, bytes] | None = None,
    backup_id: str = BACKUP_ID,
    settings: GitMirrorSettings | None = None,
    before_push: Callable[[int], None] | None = None,
    cluster: str = CLUSTER,
) -> MirrorResult:
    return mirror_backup(
        settings or GitMirrorSettings(remote_url=url or bare.as_uri()),
        files=files or backup_files(backup_id),
        backup_id=backup_id,
        trigger="schedule",
        cluster=cluster,
        namespace=NAMESPACE,
        workdir=workdir,
        before_push=before_push,
    )


def assert_files(checkout: Path, files: dict[str, bytes], directory: str = f"{CLUSTER}/{NAMESPACE}") -> None:
    for name, content in files.items():
        assert (checkout / directory / name).read_bytes() == content, name


# --- mirror_backup ------------------------------------------------------------------------------


def test_first_commit_in_empty_repository_lands_on_main(tmp_path: Path, git: Git, empty_bare: Path) -> None:
    result = run_mirror(empty_bare, tmp_path / "work")

    assert result.status == "committed"
    assert result.commit is not None and len(result.commit) == 40
    assert git("rev-parse", "refs/heads/main", cwd=empty_bare).strip() == result.commit
    assert git.subjects(empty_bare) == [f"config backup {BACKUP_ID} (schedule) {CLUSTER}/{NAMESPACE}"]
    checkout = git.clone(empty_bare, tmp_path / "check")
    assert_files(checkout, backup_files())
    assert sorted(p.name for p in (checkout / CLUSTER / NAMESPACE).iterdir()) == sorted(backup_files())
    author = git("log", "-1", "--format=%an <%ae>|%cn <%ce>", cwd=empty_bare).strip()
    assert author == "config-backup <config-backup@noreply.invalid>|config-backup <config-backup@noreply.invalid>"
    git("fsck", "--strict", cwd=empty_bare)
    assert list((tmp_path / "work").iterdir()) == []  # the temporary clone is cleaned up


def test_commit_on_existing_branch_via_plain_path_keeps_other_files(
    tmp_path: Path, git: Git, seeded_bare: Path
) -> None:
    seed = git("rev-parse", "main", cwd=seeded_bare).strip()

    result = run_mirror(seeded_bare, tmp_path / "work", url=str(seeded_bare))

    assert result.status == "committed"
    assert git.count(seeded_bare) == 2
    assert git("rev-parse", "main^", cwd=seeded_bare).strip() == seed
    checkout = git.clone(seeded_bare, tmp_path / "check")
    assert (checkout / "README.md").read_text() == "README.md\n"
    assert_files(checkout, backup_files())
    git("fsck", "--strict", cwd=seeded_bare)


def test_identical_files_are_unchanged_and_push_nothing(tmp_path: Path, git: Git, seeded_bare: Path) -> None:
    first = run_mirror(seeded_bare, tmp_path / "work")
    count = git.count(seeded_bare)

    second = run_mirror(seeded_bare, tmp_path / "work")

    assert second == MirrorResult(status="unchanged", commit=first.commit)
    assert git.count(seeded_bare) == count == 2


def test_changed_file_makes_a_second_commit(tmp_path: Path, git: Git, empty_bare: Path) -> None:
    first = run_mirror(empty_bare, tmp_path / "work")
    files = backup_files("20250102T000000Z-def456")

    second = run_mirror(empty_bare, tmp_path / "work", files=files, backup_id="20250102T000000Z-def456")

    assert second.status == "committed" and second.commit != first.commit
    assert git.count(empty_bare) == 2
    assert git.subjects(empty_bare)[0] == f"config backup 20250102T000000Z-def456 (schedule) {CLUSTER}/{NAMESPACE}"
    changed = git("diff", "--name-only", "main^", "main", cwd=empty_bare).split()
    assert changed == [f"{CLUSTER}/{NAMESPACE}/manifest.json"]
    assert_files(git.clone(empty_bare, tmp_path / "check"), files)


def test_second_namespace_goes_to_its_own_directory(tmp_path: Path, git: Git, empty_bare: Path) -> None:
    run_mirror(empty_bare, tmp_path / "work")
    run_mirror(empty_bare, tmp_path / "work", cluster="prod-us")

    checkout = git.clone(empty_bare, tmp_path / "check")
    assert_files(checkout, backup_files(), f"{CLUSTER}/{NAMESPACE}")
    assert_files(checkout, backup_files(), f"prod-us/{NAMESPACE}")


def test_custom_branch_and_path_template(tmp_path: Path, git: Git, seeded_bare: Path) -> None:
    settings = GitMirrorSettings(
        remote_url=seeded_bare.as_uri(),
        branch="backups",
        path_template="clusters/{cluster}/ns-{namespace}",
        author="Backup Bot <bot@example.invalid>",
    )
    result = run_mirror(seeded_bare, tmp_path / "work", settings=settings)

    assert result.status == "committed"
    assert git.count(seeded_bare, "main") == 1
    assert git.count(seeded_bare, "backups") == 1  # a new branch starts as an orphan
    checkout = git.clone(seeded_bare, tmp_path / "check", "backups")
    assert_files(checkout, backup_files(), f"clusters/{CLUSTER}/ns-{NAMESPACE}")
    assert git("log", "-1", "--format=%an <%ae>", "backups", cwd=seeded_bare).strip() == settings.author


def test_concurrent_writer_is_retried_once(tmp_path: Path, git: Git, seeded_bare: Path) -> None:
    calls: list[int] = []

    def other_writer(attempt: int) -> None:
        calls.append(attempt)
        if attempt == 1:
            git.push_other_commit(seeded_bare, tmp_path / "other", "OTHER.md")

    result = run_mirror(seeded_bare, tmp_path / "work", before_push=other_writer)

    assert calls == [1, 2]
    assert result.status == "committed" and result.attempts == 2
    assert git.subjects(seeded_bare) == [
        f"config backup {BACKUP_ID} (schedule) {CLUSTER}/{NAMESPACE}",
        "other writer OTHER.md",
        "other writer README.md",
    ]
    assert git("rev-parse", "main", cwd=seeded_bare).strip() == result.commit
    checkout = git.clone(seeded_bare, tmp_path / "check")
    assert (checkout / "OTHER.md").exists() and (checkout / "README.md").exists()
    assert_files(checkout, backup_files())
    git("fsck", "--strict", cwd=seeded_bare)


def test_concurrent_writer_on_every_attempt_fails(tmp_path: Path, git: Git, seeded_bare: Path) -> None:
    def other_writer(attempt: int) -> None:
        git.push_other_commit(seeded_bare, tmp_path / "other", f"OTHER{attempt}.md")

    with pytest.raises(GitMirrorError, match="rejected 2 times"):
        run_mirror(seeded_bare, tmp_path / "work", before_push=other_writer)

    assert git.subjects(seeded_bare) == ["other writer OTHER2.md", "other writer OTHER1.md", "other writer README.md"]


def test_concurrent_writer_that_wrote_the_same_files_gives_unchanged(
    tmp_path: Path, git: Git, seeded_bare: Path
) -> None:
    def same_files_elsewhere(attempt: int) -> None:
        if attempt == 1:
            run_mirror(seeded_bare, tmp_path / "work-other")

    result = run_mirror(seeded_bare, tmp_path / "work", before_push=same_files_elsewhere)

    assert result.status == "unchanged" and result.attempts == 2
    assert git.count(seeded_bare) == 2


SECRET_VALUE = "hunter2-plain"


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        pytest.param(
            SECRETS.replace(b"ENC[AES256_GCM,data:q83v,iv:AAAA,tag:BBBB,type:str]", SECRET_VALUE.encode()),
            r"unencrypted values at items\[0\]\.data\.password",
            id="plain-data",
        ),
        pytest.param(
            SECRETS.replace(b"ENC[AES256_GCM,data:zz9,iv:CCCC,tag:DDDD,type:str]", SECRET_VALUE.encode()),
            r"unencrypted values at items\[0\]\.stringData\.token",
            id="plain-stringData",
        ),
        pytest.param(
            SECRETS.replace(b'    empty: ""\n', b"    number: 42\n"),
            r"items\[0\]\.data\.number",
            id="plain-int",
        ),
        pytest.param(SECRETS.split(b"sops:\n")[0], "no top-level 'sops' block", id="no-sops-block"),
        pytest.param(
            f"kind: Secret\ndata:\n  password: {SECRET_VALUE}\n".encode(), "no top-level 'sops' block", id="plain-file"
        ),
        pytest.param(f"data: [{SECRET_VALUE}\n  x: ]\n".encode(), r"not valid YAML \(line", id="invalid-yaml"),
        pytest.param(b"", "is empty", id="empty"),
    ],
)
def test_unencrypted_secrets_are_refused_before_pushing(
    tmp_path: Path, git: Git, seeded_bare: Path, secrets: bytes, message: str
) -> None:
    with pytest.raises(GitMirrorError, match=message) as raised:
        run_mirror(seeded_bare, tmp_path / "work", files=backup_files(secrets=secrets))

    assert SECRET_VALUE not in str(raised.value)
    assert git.count(seeded_bare) == 1


def test_validate_sops_secrets_accepts_multi_document_sops_files() -> None:
    validate_sops_secrets(SECRETS + b"---\n" + SECRETS)
    with pytest.raises(GitMirrorError, match="document 1"):
        validate_sops_secrets(SECRETS + b"---\n" + SECRETS.split(b"sops:\n")[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"files": {"configmaps.yaml": CONFIGMAPS}}, "expected exactly the files"),
        ({"files": {**backup_files(), "extra.txt": b"x"}}, "expected exactly the files"),
        ({"path_template": "{cluster}/../{namespace}"}, "unsafe path"),
        ({"path_template": "{cluster}/.git"}, "unsafe path"),
        ({"path_template": "{cluster}//{namespace}"}, "empty component"),
        ({"path_template": "{region}/{namespace}"}, "invalid path_template"),
        ({"branch": "bad..branch"}, "invalid branch"),
        ({"author": "no email"}, "author must look like"),
        ({"remote_url": "http://git.example.invalid/repo.git"}, "must be https://"),
        ({"remote_url": "ssh://git@git.example.invalid/repo.git"}, "must be https://"),
        ({"remote_url": "git@git.example.invalid:repo.git"}, "is not https:// or a local path"),
    ],
)
def test_invalid_inputs_are_refused(
    tmp_path: Path, git: Git, seeded_bare: Path, change: dict[str, object], message: str
) -> None:
    files = change.pop("files", None)
    settings = GitMirrorSettings(**{"remote_url": seeded_bare.as_uri(), **change})  # type: ignore[arg-type]
    with pytest.raises(GitMirrorError, match=message):
        run_mirror(seeded_bare, tmp_path / "work", settings=settings, files=files)  # type: ignore[arg-type]
    assert git.count(seeded_bare) == 1


def test_missing_remote_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GitMirrorError, match=r"fetch from .*missing\.git"):
        run_mirror(tmp_path / "missing.git", tmp_path / "work")


def test_credentials_never_appear_in_errors_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = GitMirrorSettings(
        remote_url=f"https://mirror:{PASSWORD}@127.0.0.1:9/org/repo.git", username="bot", password=PASSWORD
    )
    assert PASSWORD not in repr(settings)

    with pytest.raises(GitMirrorError) as raised:
        run_mirror(tmp_path / "unused", tmp_path / "work", settings=settings)

    assert "https://mirror:***@127.0.0.1:9/org/repo.git" in str(raised.value)
    assert PASSWORD not in str(raised.value)
    assert PASSWORD not in caplog.text


def test_redact_url() -> None:
    assert redact_url("https://u:p%40ss@host:8443/r.git?x=1") == "https://u:***@host:8443/r.git?x=1"
    assert redact_url("https://token@host/r.git") == "https://token@host/r.git"
    assert redact_url("/srv/git/r.git") == "/srv/git/r.git"


# --- credentials_from_secret --------------------------------------------------------------------


@pytest.fixture
def secretsmanager() -> Iterator[object]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ({"username": "bot", "password": PASSWORD}, ("bot", PASSWORD)),
        ({"username": "x-access-token", "token": PASSWORD}, ("x-access-token", PASSWORD)),
    ],
)
def test_credentials_from_secret(secretsmanager: object, secret: dict[str, str], expected: tuple[str, str]) -> None:
    secretsmanager.create_secret(Name="git/mirror", SecretString=json.dumps(secret))  # type: ignore[attr-defined]
    assert credentials_from_secret(secretsmanager, "git/mirror") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret_string", "message"),
    [
        (json.dumps({"password": PASSWORD}), "no non-empty string 'username'"),
        (json.dumps({"username": "bot"}), "no non-empty string 'password' or 'token'"),
        (json.dumps({"username": "bot", "password": ""}), "no non-empty string 'password' or 'token'"),
        (json.dumps([PASSWORD]), "is not a JSON object"),
        (f"username=bot password={PASSWORD}", "is not a JSON object"),
        (None, "'git/missing'.*ResourceNotFoundException"),
    ],
)
def test_credentials_from_bad_secret(secretsmanager: object, secret_string: str | None, message: str) -> None:
    secret_id = "git/missing" if secret_string is None else "git/mirror"
    if secret_string is not None:
        secretsmanager.create_secret(Name=secret_id, SecretString=secret_string)  # type: ignore[attr-defined]
    with pytest.raises(GitMirrorError, match=message) as raised:
        credentials_from_secret(secretsmanager, secret_id)  # type: ignore[arg-type]
    assert secret_id in str(raised.value)
    assert PASSWORD not in str(raised.value)


def test_credentials_from_binary_secret(secretsmanager: object) -> None:
    secretsmanager.create_secret(Name="git/bin", SecretBinary=b"\x00\x01")  # type: ignore[attr-defined]
    with pytest.raises(GitMirrorError, match="'git/bin' has no SecretString"):
        credentials_from_secret(secretsmanager, "git/bin")  # type: ignore[arg-type]


def test_module_import_is_light() -> None:
    code = (
        "import sys, lambdas.config_backup.git_mirror; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dulwich', 'boto3', 'botocore')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"
