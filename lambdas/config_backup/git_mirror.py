"""Optional git mirror of a backup: commit ``configmaps.yaml``, ``secrets.sops.yaml`` and ``manifest.json`` to git.

After a complete backup the same three files that went to S3 are committed to one branch of a git
repository (HTTPS with basic auth / a token from Secrets Manager; a local path or ``file://`` URL for
tests), below a directory derived from the cluster and namespace. The work is done with dulwich
(pure Python, no ``git`` binary in Lambda) at the object level: a shallow fetch of the branch into a
bare repository in ``workdir``, new blobs/trees/commit written directly, then a push that only
fast-forwards. A concurrent writer that moved the branch in the meantime makes the push fail; the
whole fetch/commit/push is then retried once on top of the new tip.

Secrets only ever reach git SOPS-encrypted: a ``secrets.sops.yaml`` with a plain value below
``data``/``stringData`` or without the top-level ``sops`` block is refused before anything is fetched
or pushed. File contents and credentials never appear in exception messages or logs.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import yaml

from lambdas.contract.layout import CONFIGMAPS_FILE, MANIFEST_FILE, SECRETS_FILE

if TYPE_CHECKING:
    from dulwich.client import GitClient
    from dulwich.objects import ObjectID
    from dulwich.pack import UnpackedObject
    from dulwich.refs import Ref
    from dulwich.repo import Repo

__all__ = [
    "BACKUP_FILES",
    "DEFAULT_AUTHOR",
    "GitMirrorError",
    "GitMirrorSettings",
    "MirrorResult",
    "SecretsManagerClient",
    "credentials_from_secret",
    "mirror_backup",
    "validate_sops_secrets",
]

LOG = logging.getLogger(__name__)

BACKUP_FILES: Final = frozenset({CONFIGMAPS_FILE, SECRETS_FILE, MANIFEST_FILE})
"""The files of one backup; exactly these are mirrored."""

DEFAULT_AUTHOR: Final = "config-backup <config-backup@noreply.invalid>"

_MAX_ATTEMPTS: Final = 2
_FILE_MODE: Final = 0o100644
_ENC_RE: Final = re.compile(r"^ENC\[[A-Z0-9_]+,.*\]$", re.DOTALL)
_AUTHOR_RE: Final = re.compile(r"^[^<>\n]+ <[^<>\s]+>$")
_BRANCH_RE: Final = re.compile(r"^[A-Za-z0-9._/-]+$")
_REDACTED: Final = "***"


class GitMirrorError(Exception):
    """The mirror could not be written; the message names no file content and no credential."""


@dataclass(frozen=True)
class GitMirrorSettings:
    """Where and how to mirror.

    ``remote_url`` is an ``https://`` URL (or, for tests, a local path or ``file://`` URL).
    ``path_template`` is formatted with ``cluster`` and ``namespace``; ``""`` puts the files at the root.
    ``username``/``password`` are HTTPS basic-auth credentials (a token goes into ``password``).
    """

    remote_url: str
    branch: str = "main"
    path_template: str = "{cluster}/{namespace}"
    author: str = DEFAULT_AUTHOR
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # the URL may carry a password too
        return (
            f"GitMirrorSettings(remote_url={redact_url(self.remote_url)!r}, branch={self.branch!r}, "
            f"path_template={self.path_template!r}, author={self.author!r}, username={self.username!r}, "
            f"password={_REDACTED if self.password else None!r})"
        )


@dataclass(frozen=True)
class MirrorResult:
    """``committed`` with the hex sha of the pushed commit, or ``unchanged`` (nothing pushed, ``commit`` is the tip)."""

    status: Literal["committed", "unchanged"]
    commit: str | None
    attempts: int = 1


class SecretsManagerClient(Protocol):
    """The part of a boto3 ``secretsmanager`` client used here."""

    def get_secret_value(self, *, SecretId: str) -> Mapping[str, Any]: ...


# --- credentials --------------------------------------------------------------------------------


def credentials_from_secret(secrets_client: SecretsManagerClient, secret_id: str) -> tuple[str, str]:
    """Read ``(username, password)`` from a Secrets Manager secret.

    The SecretString must be a JSON object with a non-empty ``username`` and a non-empty ``password``
    or ``token``. Errors name the secret id, never its value.
    """
    try:
        response = secrets_client.get_secret_value(SecretId=secret_id)
    except Exception as exc:  # botocore ClientError and friends; keep botocore out of the import path
        error_response = getattr(exc, "response", None)
        code = error_response.get("Error", {}).get("Code") if isinstance(error_response, dict) else None
        detail = code if isinstance(code, str) else type(exc).__name__
        raise GitMirrorError(f"cannot read git credentials secret {secret_id!r}: {detail}") from None
    secret_string = response.get("SecretString")
    if not isinstance(secret_string, str):
        raise GitMirrorError(f"git credentials secret {secret_id!r} has no SecretString")
    try:
        value = json.loads(secret_string)
    except ValueError:
        raise GitMirrorError(f"git credentials secret {secret_id!r} is not a JSON object") from None
    if not isinstance(value, dict):
        raise GitMirrorError(f"git credentials secret {secret_id!r} is not a JSON object")
    username = value.get("username")
    if not isinstance(username, str) or not username:
        raise GitMirrorError(f"git credentials secret {secret_id!r} has no non-empty string 'username'")
    password = value.get("password")
    if password is None:
        password = value.get("token")
    if not isinstance(password, str) or not password:
        raise GitMirrorError(f"git credentials secret {secret_id!r} has no non-empty string 'password' or 'token'")
    return username, password


# --- validation ---------------------------------------------------------------------------------


def validate_sops_secrets(content: bytes) -> None:
    """Raise `GitMirrorError` unless ``content`` is SOPS-encrypted YAML.

    Every document needs a top-level ``sops`` mapping, and every leaf below a ``data`` or
    ``stringData`` key (at any depth) must be an ``ENC[...]`` string. Empty strings and nulls are
    accepted: sops leaves them as they are and they carry no secret.
    """
    try:
        documents = [doc for doc in yaml.safe_load_all(content) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise GitMirrorError(f"{SECRETS_FILE} is not valid YAML{where}; refusing to mirror") from None
    if not documents:
        raise GitMirrorError(f"{SECRETS_FILE} is empty; refusing to mirror")
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict):
            raise GitMirrorError(f"{SECRETS_FILE} document {index} is not a mapping; refusing to mirror")
        sops_block = doc.get("sops")
        if not isinstance(sops_block, dict) or not sops_block:
            raise GitMirrorError(
                f"{SECRETS_FILE} document {index} has no top-level 'sops' block; secrets reach git only SOPS-encrypted"
            )
        plain = _plain_secret_paths({k: v for k, v in doc.items() if k != "sops"}, (), inside_data=False)
        if plain:
            shown = ", ".join(plain[:5]) + (f" and {len(plain) - 5} more" if len(plain) > 5 else "")
            raise GitMirrorError(
                f"{SECRETS_FILE} document {index} has unencrypted values at {shown}; "
                "secrets reach git only SOPS-encrypted"
            )


def _plain_secret_paths(node: object, path: tuple[str, ...], *, inside_data: bool) -> list[str]:
    """Paths (keys only, never values) of leaves below ``data``/``stringData`` that are not ``ENC[...]``."""
    if isinstance(node, dict):
        found: list[str] = []
        for key, value in node.items():
            child_inside = inside_data or key in ("data", "stringData")
            found += _plain_secret_paths(value, (*path, str(key)), inside_data=child_inside)
        return found
    if isinstance(node, list):
        found = []
        for i, item in enumerate(node):
            found += _plain_secret_paths(item, (*path, f"[{i}]"), inside_data=inside_data)
        return found
    if not inside_data or node is None or node == "":
        return []
    if isinstance(node, str) and _ENC_RE.match(node):
        return []
    return [".".join(path).replace(".[", "[")]


def _target_dir(template: str, cluster: str, namespace: str) -> str:
    try:
        rendered = template.format(cluster=cluster, namespace=namespace)
    except (KeyError, IndexError, ValueError) as exc:
        raise GitMirrorError(f"invalid path_template {template!r}: {exc!r}") from None
    stripped = rendered.strip("/")
    parts = stripped.split("/") if stripped else []
    if "" in parts:
        raise GitMirrorError(f"path_template {template!r} renders to {rendered!r}, which has an empty component")
    for part in parts:
        if part in (".", "..") or part.lower() == ".git" or "\\" in part or "\0" in part:
            raise GitMirrorError(f"path_template {template!r} renders to the unsafe path {rendered!r}")
    return "/".join(parts)


def _check_inputs(settings: GitMirrorSettings, files: Mapping[str, bytes]) -> None:
    if set(files) != BACKUP_FILES:
        raise GitMirrorError(
            f"expected exactly the files {sorted(BACKUP_FILES)}, got {sorted(files)}; refusing to mirror"
        )
    for name, content in files.items():
        if not isinstance(content, bytes):
            raise GitMirrorError(f"{name}: content must be bytes, got {type(content).__name__}")
    if not _AUTHOR_RE.match(settings.author):
        raise GitMirrorError(f"author must look like 'Name <email>', got {settings.author!r}")
    if not _BRANCH_RE.match(settings.branch) or ".." in settings.branch or settings.branch.startswith(("/", "-")):
        raise GitMirrorError(f"invalid branch name {settings.branch!r}")
    validate_sops_secrets(files[SECRETS_FILE])


# --- URLs and redaction -------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with any password in its userinfo replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    userinfo = f"{parts.username}:{_REDACTED}" if parts.username else _REDACTED
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def _secrets_of(settings: GitMirrorSettings) -> list[str]:
    found = [settings.password] if settings.password else []
    url_password = urlsplit(settings.remote_url).password
    if url_password:
        found.append(url_password)
    return found


def _scrub(text: str, settings: GitMirrorSettings) -> str:
    text = text.replace(settings.remote_url, redact_url(settings.remote_url))
    for secret in _secrets_of(settings):
        text = text.replace(secret, _REDACTED)
    return text


def _transport(settings: GitMirrorSettings) -> tuple[GitClient, str]:
    from dulwich.client import LocalGitClient, get_transport_and_path

    scheme = urlsplit(settings.remote_url).scheme.lower()
    if scheme not in ("https", "file", ""):
        raise GitMirrorError(
            f"remote_url must be https:// (or a local path / file:// URL), got {redact_url(settings.remote_url)!r}"
        )
    try:
        client, path = get_transport_and_path(
            settings.remote_url, username=settings.username, password=settings.password
        )
    except Exception as exc:
        raise GitMirrorError(
            f"cannot open remote {redact_url(settings.remote_url)!r}: {_scrub(str(exc), settings)}"
        ) from None
    if scheme == "" and not isinstance(client, LocalGitClient):  # e.g. scp-like "git@host:repo" (ssh)
        client.close()
        raise GitMirrorError(f"remote_url {redact_url(settings.remote_url)!r} is not https:// or a local path")
    return client, path


# --- mirror -------------------------------------------------------------------------------------


class _PushRejectedError(Exception):
    """The remote branch moved since the fetch (non-fast-forward) or the remote refused the update."""


def mirror_backup(
    settings: GitMirrorSettings,
    *,
    files: Mapping[str, bytes],
    backup_id: str,
    trigger: str,
    cluster: str,
    namespace: str,
    workdir: Path,
    before_push: Callable[[int], None] | None = None,
) -> MirrorResult:
    """Commit the three backup files to ``settings.branch`` below ``path_template`` and push.

    Returns ``unchanged`` (and pushes nothing) when the files are already there byte for byte.
    ``before_push`` is a seam for tests: called with the attempt number (1-based) right before each
    push. A rejected push (the branch moved) is retried once from a fresh fetch, then fails.
    """
    _check_inputs(settings, files)
    target_dir = _target_dir(settings.path_template, cluster, namespace)
    message = f"config backup {backup_id} ({trigger}) {cluster}/{namespace}\n"
    client, path = _transport(settings)
    where = f"{redact_url(settings.remote_url)} branch {settings.branch!r}"
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            clone_dir = Path(tempfile.mkdtemp(prefix=f"git-mirror-{attempt}-", dir=workdir))
            try:
                result = _attempt(
                    settings,
                    client,
                    path,
                    clone_dir,
                    files=files,
                    target_dir=target_dir,
                    message=message,
                    attempt=attempt,
                    before_push=before_push,
                )
            except _PushRejectedError as exc:
                LOG.warning("git mirror: push to %s rejected on attempt %d: %s", where, attempt, exc)
                continue
            finally:
                shutil.rmtree(clone_dir, ignore_errors=True)
            LOG.info("git mirror: %s %s/%s to %s (commit %s)", result.status, cluster, namespace, where, result.commit)
            return result
    finally:
        client.close()
    raise GitMirrorError(f"push to {where} rejected {_MAX_ATTEMPTS} times (concurrent writers?); giving up")


def _attempt(
    settings: GitMirrorSettings,
    client: GitClient,
    path: str,
    clone_dir: Path,
    *,
    files: Mapping[str, bytes],
    target_dir: str,
    message: str,
    attempt: int,
    before_push: Callable[[int], None] | None,
) -> MirrorResult:
    from dulwich.errors import GitProtocolError
    from dulwich.object_store import commit_tree_changes
    from dulwich.objects import Blob, Commit, Tree
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    ref = Ref(b"refs/heads/" + settings.branch.encode())
    where = f"{redact_url(settings.remote_url)} branch {settings.branch!r}"
    repo = Repo.init_bare(str(clone_dir))
    try:
        head = _fetch_branch(settings, client, path, repo, ref, where)
        changes: list[tuple[bytes, int | None, ObjectID | None]] = []
        for name in sorted(files):
            blob = Blob.from_string(files[name])
            repo.object_store.add_object(blob)
            tree_path = f"{target_dir}/{name}" if target_dir else name
            changes.append((tree_path.encode(), _FILE_MODE, blob.id))
        if head is None:
            base_tree: ObjectID | Tree = Tree()
            head_tree = None
        else:
            head_commit = repo[head]
            assert isinstance(head_commit, Commit)
            base_tree = head_tree = head_commit.tree
        new_tree = commit_tree_changes(repo.object_store, base_tree, changes)
        if new_tree == head_tree:
            return MirrorResult(status="unchanged", commit=head.decode() if head else None, attempts=attempt)

        now = int(time.time())
        commit = Commit()
        commit.tree = new_tree
        commit.parents = [head] if head is not None else []
        commit.author = commit.committer = settings.author.encode()
        commit.author_time = commit.commit_time = now
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode()
        repo.object_store.add_object(commit)

        if before_push is not None:
            before_push(attempt)

        def update_refs(remote_refs: dict[Ref, ObjectID]) -> dict[Ref, ObjectID]:
            current = remote_refs.get(ref)
            if current != head:
                raise _PushRejectedError("non-fast-forward: the branch moved since it was fetched")
            return {ref: commit.id}

        def generate_pack_data(
            have: Set[ObjectID],
            want: Set[ObjectID],
            *,
            ofs_delta: bool = False,
            progress: Callable[[bytes], None] | None = None,
        ) -> tuple[int, Iterator[UnpackedObject]]:
            return repo.generate_pack_data(set(have), set(want), ofs_delta=ofs_delta)

        try:
            pushed = client.send_pack(path.encode(), update_refs, generate_pack_data)
        except _PushRejectedError:
            raise
        except GitProtocolError as exc:
            # e.g. a pre-receive hook, or git's "failed to lock" when the ref moved under the push
            raise _PushRejectedError(_scrub(str(exc), settings)[:300]) from None
        except Exception as exc:
            raise GitMirrorError(
                f"push to {where} failed: {type(exc).__name__}: {_scrub(str(exc), settings)}"
            ) from None
        error = (pushed.ref_status or {}).get(ref)
        if error is not None:
            raise _PushRejectedError(_scrub(str(error), settings)[:300])
        return MirrorResult(status="committed", commit=commit.id.decode(), attempts=attempt)
    finally:
        repo.close()


def _fetch_branch(
    settings: GitMirrorSettings, client: GitClient, path: str, repo: Repo, ref: Ref, where: str
) -> ObjectID | None:
    """Fetch the tip of ``ref`` (depth 1 when the transport can) into ``repo``; ``None`` if the branch is absent."""
    from dulwich.errors import GitProtocolError

    def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        tip = refs.get(ref)
        return [tip] if tip is not None else []

    for depth in (1, None):
        try:
            fetched = client.fetch(path, repo, determine_wants=wants, depth=depth)
        except GitProtocolError as exc:
            if depth is not None and "shallow" in str(exc):
                LOG.info("git mirror: %s does not support shallow fetches; fetching the full branch", where)
                continue
            raise GitMirrorError(f"fetch from {where} failed: {_scrub(str(exc), settings)}") from None
        except Exception as exc:
            raise GitMirrorError(
                f"fetch from {where} failed: {type(exc).__name__}: {_scrub(str(exc), settings)}"
            ) from None
        tip = fetched.refs.get(ref)
        return tip
    raise AssertionError("unreachable")  # pragma: no cover
