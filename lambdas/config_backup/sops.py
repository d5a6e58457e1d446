"""SOPS-compatible encryption and decryption of YAML documents with AWS KMS.

A small re-implementation of the parts of `getsops/sops`_ (format version 3) that
the Lambda functions need: the files written here decrypt with ``sops --decrypt``
and files written by ``sops --encrypt --kms ...`` decrypt here.

Format summary (YAML store, AWS KMS master keys only):

* Every leaf value on a path selected by the encryption rule becomes
  ``ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<str|int|float|bool>]``:
  AES-256-GCM under a random 32-byte data key, a random 32-byte IV and, as
  additional authenticated data, the mapping keys of the path joined with
  ``":"`` plus a trailing ``":"`` (list items add no component, so
  ``items[0].data.password`` authenticates ``items:data:password:``). Empty
  strings and nulls stay as they are.
* The MAC is SHA-512 over the byte form of every leaf in document order (str:
  UTF-8, int: decimal, float: Go's shortest ``'f'`` formatting, bool:
  ``True``/``False``, nulls skipped), as upper-case hex, stored encrypted with the
  ``lastmodified`` timestamp as additional data.
* ``sops.kms`` lists one entry per KMS key; each wraps the same data key, so any
  one of them suffices to decrypt (e.g. the key of the disaster-recovery region).

Plain (unencrypted) scalars are read and written with the scalar rules of
``gopkg.in/yaml.v3`` used by sops, so that both sides hash the same values.

.. _getsops/sops: https://github.com/getsops/sops
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Protocol, TypeAlias

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lambdas.common import yamlio
from lambdas.common.yamlio import SafeDumper, SafeLoader, go_plain_scalar

__all__ = [
    "DEFAULT_ENCRYPTED_REGEX",
    "SOPS_VERSION",
    "KmsClient",
    "KmsForRegion",
    "SopsDecryptError",
    "SopsEncryptError",
    "SopsError",
    "SopsFormatError",
    "SopsMacError",
    "decrypt_document",
    "encrypt_document",
    "region_from_arn",
]

_LOG = logging.getLogger(__name__)

SOPS_VERSION: Final = "3.11.0"
"""Format version written to ``sops.version``."""

DEFAULT_ENCRYPTED_REGEX: Final = r"^(data|stringData)$"
"""Encrypt only what is below the ``data``/``stringData`` keys of a Secret."""

_DATA_KEY_BYTES: Final = 32
_IV_BYTES: Final = 32
_TAG_BYTES: Final = 16
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_YAML_WIDTH: Final = 1 << 16
# sha256(b"sops"): seeds the MAC of files written with mac_only_encrypted: true.
_MAC_ONLY_ENCRYPTED_INIT: Final = bytes.fromhex("8a3fd2ad54ce66527b1034f3d147be0b0b975b3bf44f72c6fdadec8176f27d69")
_ENC_RE: Final = re.compile(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]")
_KEY_ARN_RE: Final = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r":\d{12}:key/[A-Za-z0-9-]+$"
)
_KEY_TYPES: Final = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "age")

Scalar: TypeAlias = str | bool | int | float


class SopsError(Exception):
    """Base class of every error raised by this module.

    Messages name paths, key ARNs and error codes, never secret values.
    """


class SopsFormatError(SopsError):
    """The document or file is malformed, or uses an unsupported sops feature."""


class SopsEncryptError(SopsError):
    """A KMS key refused to wrap the data key."""


class SopsDecryptError(SopsError):
    """No ``sops.kms`` entry could unwrap the data key.

    Attributes
    ----------
    failures
        ``(key ARN, AWS error code or exception type)`` per entry tried.
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures: tuple[tuple[str, str], ...] = tuple(failures)


class SopsMacError(SopsError):
    """The file failed its integrity check (tampered, truncated or wrong data key)."""


class KmsClient(Protocol):
    """The two methods of a boto3 ``kms`` client that are used here."""

    def encrypt(self, *, KeyId: str, Plaintext: bytes) -> Mapping[str, Any]:
        """Wrap ``Plaintext`` under ``KeyId``; the result holds ``CiphertextBlob``."""
        ...

    def decrypt(self, *, CiphertextBlob: bytes, KeyId: str) -> Mapping[str, Any]:
        """Unwrap ``CiphertextBlob`` with ``KeyId``; the result holds ``Plaintext``."""
        ...


KmsForRegion: TypeAlias = Callable[[str], KmsClient]
"""Returns the KMS client of a region; may raise if the region is unavailable."""


def region_from_arn(arn: str) -> str:
    """Return the region of a full KMS key ARN.

    Raises
    ------
    SopsFormatError
        If ``arn`` is not of the form ``arn:aws:kms:<region>:<account>:key/<id>``.
    """
    match = _KEY_ARN_RE.match(arn)
    if match is None:
        raise SopsFormatError(f"not a full KMS key ARN: {arn!r}")
    return match.group("region")


# --------------------------------------------------------------------------
# Encryption
# --------------------------------------------------------------------------


def encrypt_document(
    doc: Any,
    kms_clients_by_arn: Mapping[str, KmsClient],
    *,
    encrypted_regex: str = DEFAULT_ENCRYPTED_REGEX,
    now: datetime | None = None,
) -> str:
    """Encrypt a YAML-able document into the text of a sops file.

    Parameters
    ----------
    doc
        A mapping with string keys whose values are mappings, lists, ``str``,
        ``bool``, ``int`` (64-bit), ``float`` or ``None``. Key order is kept.
    kms_clients_by_arn
        Full KMS key ARN -> client able to use that key (normally the client of
        the key's region). Each key wraps the same data key, in this order.
    encrypted_regex
        Values below a key matching this regular expression (searched, as Go's
        ``regexp.Match`` does) are encrypted; everything else stays readable.
    now
        Timestamp of ``lastmodified``/``created_at``; defaults to the current
        time. A naive datetime is taken as UTC.

    Returns
    -------
    str
        The YAML text, with the ``sops`` metadata block last.

    Raises
    ------
    SopsFormatError
        For an unsupported document, an invalid ARN or regular expression.
    SopsEncryptError
        If a KMS key refuses to wrap the data key.
    """
    if not isinstance(doc, Mapping):
        raise SopsFormatError("the document must be a mapping at the top level")
    if "sops" in doc:
        raise SopsFormatError("the document already has a top-level 'sops' key")
    if not kms_clients_by_arn:
        raise SopsFormatError("at least one KMS key is required")
    for arn in kms_clients_by_arn:
        region_from_arn(arn)
    if not encrypted_regex:
        raise SopsFormatError("encrypted_regex must not be empty")
    rules = _Rules(encrypted_regex=encrypted_regex)

    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    timestamp = _go_rfc3339(moment.astimezone(UTC))

    data_key = os.urandom(_DATA_KEY_BYTES)
    kms_entries = [
        {
            "arn": arn,
            "created_at": timestamp,
            "enc": _wrap_data_key(client, arn, data_key),
            "aws_profile": "",
        }
        for arn, client in kms_clients_by_arn.items()
    ]

    digest = hashlib.sha512()

    def on_leaf(value: Scalar, path: tuple[str, ...]) -> Scalar:
        encrypted = rules.should_encrypt(path)
        digest.update(_to_bytes(value, path))
        if encrypted:
            return _encrypt_value(data_key, value, _aad(path), path)
        return value

    tree = _walk_root(doc, on_leaf)
    mac = digest.hexdigest().upper()
    tree["sops"] = {
        "kms": kms_entries,
        "lastmodified": timestamp,
        "mac": _encrypt_value(data_key, mac, timestamp, ("sops", "mac")),
        "encrypted_regex": encrypted_regex,
        "version": SOPS_VERSION,
    }
    return yamlio.dump(tree, fallback=_Dumper, width=_YAML_WIDTH)


def _wrap_data_key(client: KmsClient, arn: str, data_key: bytes) -> str:
    try:
        response = client.encrypt(KeyId=arn, Plaintext=data_key)
    except Exception as exc:
        code = _error_code(exc)
        raise SopsEncryptError(f"KMS key {arn} could not encrypt the data key ({code})") from None
    blob = response.get("CiphertextBlob")
    if not isinstance(blob, bytes | bytearray) or not blob:
        raise SopsEncryptError(f"KMS key {arn} returned no CiphertextBlob")
    return base64.b64encode(bytes(blob)).decode("ascii")


def _encrypt_value(key: bytes, value: Scalar, additional_data: str, path: Sequence[str]) -> str:
    if isinstance(value, str) and not value:
        return ""  # sops leaves empty strings as they are
    iv = os.urandom(_IV_BYTES)
    sealed = AESGCM(key).encrypt(iv, _to_bytes(value, path), additional_data.encode())
    data, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    return f"ENC[AES256_GCM,data:{_b64(data)},iv:{_b64(iv)},tag:{_b64(tag)},type:{_type_name(value)}]"


# --------------------------------------------------------------------------
# Decryption
# --------------------------------------------------------------------------


def decrypt_document(text: str, kms_for_region: KmsForRegion, *, prefer_region: str | None = None) -> dict[str, Any]:
    """Decrypt the text of a sops YAML file and verify its MAC.

    Parameters
    ----------
    text
        The file content (a single YAML document with a ``sops`` block).
    kms_for_region
        Returns the KMS client of a region. The ``sops.kms`` entries are tried in
        order until one unwraps the data key; an entry whose region raises (here
        or in ``decrypt``) is skipped.
    prefer_region
        Try the entries of this region first (the caller's own: with another region down, its
        key is never waited on first).

    Returns
    -------
    dict
        The plaintext document without the ``sops`` block.

    Raises
    ------
    SopsFormatError
        If the text is not a sops file this module supports.
    SopsDecryptError
        If no KMS entry could unwrap the data key.
    SopsMacError
        If any value or the MAC fails authentication, or the MAC does not match
        the content (a tampered file). Nothing decrypted is returned then.
    """
    try:
        loaded = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SopsFormatError(f"the file is not valid YAML{where}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("sops"), dict):
        raise SopsFormatError("sops metadata not found")
    body = {key: value for key, value in loaded.items() if key != "sops"}
    meta = _Metadata.parse(loaded["sops"])

    entries = sorted(meta.kms_entries, key=lambda entry: region_from_arn(entry[0]) != prefer_region)
    data_key = _unwrap_data_key(entries, kms_for_region)
    failure: SopsError | None = None
    try:
        return _decrypt_and_verify(body, data_key, meta)
    except SopsError as exc:
        # Re-raised outside the handler so that no traceback (whose frames hold
        # decrypted values) stays attached to the error that leaves this module.
        failure = type(exc)(*exc.args)
    raise failure


def _decrypt_and_verify(body: Mapping[str, Any], data_key: bytes, meta: _Metadata) -> dict[str, Any]:
    stored_mac = _decrypt_value(data_key, meta.mac, meta.mac_aad, ("sops", "mac"))
    if not isinstance(stored_mac, str):
        raise SopsMacError("sops.mac is not a string")
    rules = meta.rules
    digest = hashlib.sha512()
    if rules.mac_only_encrypted:
        digest.update(_MAC_ONLY_ENCRYPTED_INIT)

    def on_leaf(value: Scalar, path: tuple[str, ...]) -> Scalar:
        encrypted = rules.should_encrypt(path)
        if encrypted:
            if not isinstance(value, str):
                raise SopsMacError(f"value at {_where(path)} should be encrypted")
            value = _decrypt_value(data_key, value, _aad(path), path)
        if encrypted or not rules.mac_only_encrypted:
            digest.update(_to_bytes(value, path))
        return value

    tree = _walk_root(body, on_leaf)
    mac = digest.hexdigest().upper()
    if not hmac.compare_digest(mac.encode(), stored_mac.encode()):
        raise SopsMacError("MAC mismatch: the file was modified after encryption")
    return tree


def _decrypt_value(key: bytes, text: str, additional_data: str, path: Sequence[str]) -> Scalar:
    if not text:
        return ""
    match = _ENC_RE.match(text)
    if match is None:
        raise SopsMacError(f"value at {_where(path)} is not sops-encrypted")
    try:
        data, iv, tag = (base64.b64decode(match.group(i), validate=True) for i in (1, 2, 3))
    except (binascii.Error, ValueError):
        raise SopsMacError(f"value at {_where(path)} has invalid base64") from None
    if len(iv) < 8 or len(tag) != _TAG_BYTES:
        raise SopsMacError(f"value at {_where(path)} has a malformed IV or tag")
    try:
        plain = AESGCM(key).decrypt(iv, data + tag, additional_data.encode())
    except InvalidTag:
        raise SopsMacError(
            f"value at {_where(path)} failed authentication (tampered, moved, or encrypted with another data key)"
        ) from None
    return _parse_typed(plain, match.group(4), path)


def _parse_typed(plain: bytes, kind: str, path: Sequence[str]) -> Scalar:
    try:
        text = plain.decode("utf-8")
    except UnicodeDecodeError:
        raise SopsFormatError(f"value at {_where(path)} is not UTF-8") from None
    if kind == "str":
        return text
    if kind in ("int", "int64"):
        if re.fullmatch(r"[+-]?[0-9]+", text):
            number = int(text)
            if _INT64_MIN <= number <= _INT64_MAX:
                return number
    elif kind == "float":
        if text.strip() == text and "_" not in text:
            try:
                return float(text)
            except ValueError:
                pass
    elif kind == "bool":
        if text in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if text in ("0", "f", "F", "FALSE", "false", "False"):
            return False
    else:
        raise SopsFormatError(f"value at {_where(path)} has unsupported type {kind!r}")
    raise SopsFormatError(f"value at {_where(path)} is not a valid {kind}")


def _unwrap_data_key(entries: Sequence[tuple[str, str]], kms_for_region: KmsForRegion) -> bytes:
    if not entries:
        raise SopsDecryptError("the file has no AWS KMS key in its sops metadata")
    failures: list[tuple[str, str]] = []
    for arn, enc in entries:
        try:
            blob = base64.b64decode(enc, validate=True)
            client = kms_for_region(region_from_arn(arn))
            response = client.decrypt(CiphertextBlob=blob, KeyId=arn)
            data_key = response["Plaintext"]
        except Exception as exc:
            code = _error_code(exc)
            _LOG.warning("KMS key %s could not decrypt the data key: %s", arn, code)
            failures.append((arn, code))
            continue
        if isinstance(data_key, bytes | bytearray) and len(data_key) == _DATA_KEY_BYTES:
            _LOG.debug("data key decrypted with KMS key %s", arn)
            return bytes(data_key)
        failures.append((arn, "InvalidDataKey"))
    tried = ", ".join(f"{arn} ({code})" for arn, code in failures)
    raise SopsDecryptError(f"no KMS key could decrypt the sops data key; tried: {tried}", failures)


def _error_code(exc: BaseException) -> str:
    """AWS error code of a botocore ``ClientError``, else the exception type."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping) and isinstance(error.get("Code"), str):
            return str(error["Code"])
    if isinstance(exc, SopsFormatError):
        return "InvalidKeyArn"
    if isinstance(exc, binascii.Error):
        return "InvalidEncryptedDataKey"
    return type(exc).__name__


# --------------------------------------------------------------------------
# Metadata and encryption rules
# --------------------------------------------------------------------------


class _Rules:
    """Which paths are encrypted (``Tree.shouldBeEncrypted`` without comments)."""

    def __init__(
        self,
        *,
        unencrypted_suffix: str = "",
        encrypted_suffix: str = "",
        unencrypted_regex: str = "",
        encrypted_regex: str = "",
        mac_only_encrypted: bool = False,
    ) -> None:
        self.unencrypted_suffix = unencrypted_suffix
        self.encrypted_suffix = encrypted_suffix
        self.mac_only_encrypted = mac_only_encrypted
        self.unencrypted_regex = _compile(unencrypted_regex, "unencrypted_regex")
        self.encrypted_regex = _compile(encrypted_regex, "encrypted_regex")
        # Keys repeat in every object (metadata, labels, data): each is matched once.
        self._unencrypted_keys: dict[str, bool] = {}
        self._encrypted_keys: dict[str, bool] = {}

    def should_encrypt(self, path: Sequence[str]) -> bool:
        encrypted = True
        if self.unencrypted_suffix and any(key.endswith(self.unencrypted_suffix) for key in path):
            encrypted = False
        if self.encrypted_suffix:
            encrypted = any(key.endswith(self.encrypted_suffix) for key in path)
        if self.unencrypted_regex is not None and any(
            _searched(self.unencrypted_regex, self._unencrypted_keys, key) for key in path
        ):
            encrypted = False
        if self.encrypted_regex is not None:
            encrypted = any(_searched(self.encrypted_regex, self._encrypted_keys, key) for key in path)
        return encrypted


def _searched(regex: re.Pattern[str], seen: dict[str, bool], key: str) -> bool:
    found = seen.get(key)
    if found is None:
        found = seen[key] = regex.search(key) is not None
    return found


def _compile(pattern: str, name: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error:
        raise SopsFormatError(f"{name} is not a valid regular expression") from None


class _Metadata:
    """The parts of the ``sops`` block needed to decrypt."""

    def __init__(self, kms_entries: list[tuple[str, str]], mac: str, mac_aad: str, rules: _Rules) -> None:
        self.kms_entries = kms_entries
        self.mac = mac
        self.mac_aad = mac_aad
        self.rules = rules

    @classmethod
    def parse(cls, meta: Mapping[str, Any]) -> _Metadata:
        lastmodified = meta.get("lastmodified")
        mac = meta.get("mac")
        if not isinstance(lastmodified, str) or not isinstance(mac, str):
            raise SopsFormatError("sops.lastmodified and sops.mac are required")
        try:
            moment = datetime.fromisoformat(lastmodified)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise SopsFormatError("sops.lastmodified is not an RFC 3339 timestamp")

        rule_names = (
            "unencrypted_suffix",
            "encrypted_suffix",
            "unencrypted_regex",
            "encrypted_regex",
        )
        rules: dict[str, str] = {}
        for name in rule_names:
            value = meta.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise SopsFormatError(f"sops.{name} must be a string")
            rules[name] = value
        if len(rules) > 1:
            raise SopsFormatError(f"more than one of {', '.join(rule_names)}")
        if not rules:
            rules["unencrypted_suffix"] = "_unencrypted"  # sops' default
        for name in ("unencrypted_comment_regex", "encrypted_comment_regex"):
            if meta.get(name):
                raise SopsFormatError(f"sops.{name} is not supported")
        mac_only_encrypted = meta.get("mac_only_encrypted", False)
        if not isinstance(mac_only_encrypted, bool):
            raise SopsFormatError("sops.mac_only_encrypted must be a boolean")

        return cls(
            kms_entries=_kms_entries(meta),
            mac=mac,
            mac_aad=_go_rfc3339(moment),
            rules=_Rules(mac_only_encrypted=mac_only_encrypted, **rules),
        )


def _kms_entries(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(arn, enc)`` of the KMS keys of the file's only key group."""
    if any(meta.get(name) for name in _KEY_TYPES):
        group: Any = meta
    else:
        groups = meta.get("key_groups") or []
        if not isinstance(groups, list) or len(groups) > 1:
            raise SopsFormatError("several key groups (Shamir) are not supported")
        group = groups[0] if groups else {}
    raw = group.get("kms") if isinstance(group, Mapping) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SopsFormatError("sops.kms must be a list")
    entries: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise SopsFormatError("sops.kms entries must be mappings")
        arn, enc = item.get("arn"), item.get("enc")
        if not isinstance(arn, str) or not isinstance(enc, str):
            raise SopsFormatError("sops.kms entries need 'arn' and 'enc'")
        if item.get("context"):
            raise SopsFormatError(f"KMS encryption context of {arn} is not supported")
        entries.append((arn, enc))
    return entries


# --------------------------------------------------------------------------
# Tree walking and value encoding (as sops' TreeBranch.walkValue and ToBytes)
# --------------------------------------------------------------------------

_OnLeaf: TypeAlias = Callable[[Scalar, tuple[str, ...]], Scalar]


def _walk_root(doc: Mapping[Any, Any], on_leaf: _OnLeaf) -> dict[str, Any]:
    result = _walk(doc, (), on_leaf)
    assert isinstance(result, dict)
    return result


def _walk(node: Any, path: tuple[str, ...], on_leaf: _OnLeaf) -> Any:
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str):
                raise SopsFormatError(f"non-string key of type {type(key).__name__} at {_where(path)}")
            out[key] = _walk(value, (*path, key), on_leaf)
        return out
    if isinstance(node, list | tuple):
        return [_walk(item, path, on_leaf) for item in node]  # no path component
    if node is None:
        return None  # sops neither encrypts nor hashes nulls
    if isinstance(node, str | bool | int | float):
        return on_leaf(node, path)
    raise SopsFormatError(f"unsupported value of type {type(node).__name__} at {_where(path)}")


def _to_bytes(value: Scalar, path: Sequence[str]) -> bytes:
    """Bytes sops hashes and encrypts for a leaf (``sops.ToBytes``)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise SopsFormatError(f"integer at {_where(path)} does not fit in 64 bits")
        return str(value).encode()
    if isinstance(value, float):
        return _go_format_float(value).encode()
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise SopsFormatError(f"string at {_where(path)} is not valid UTF-8") from None


def _type_name(value: Scalar) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def _go_format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'f', -1, 64)``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(Decimal(repr(value)).normalize(), "f")


def _go_rfc3339(moment: datetime) -> str:
    """Go's ``time.Format(time.RFC3339)`` (whole seconds, ``Z`` for UTC)."""
    offset = moment.utcoffset()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def _aad(path: Sequence[str]) -> str:
    return ":".join(path) + ":"


def _where(path: Sequence[str]) -> str:
    return ".".join(path) if path else "<root>"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --------------------------------------------------------------------------
# YAML with the plain-scalar rules of gopkg.in/yaml.v3
# --------------------------------------------------------------------------

_STR_TAG: Final = "tag:yaml.org,2002:str"


def _go_tag(value: Scalar | None) -> str:
    if value is None:
        return "tag:yaml.org,2002:null"
    if isinstance(value, bool):
        return "tag:yaml.org,2002:bool"
    if isinstance(value, int):
        return "tag:yaml.org,2002:int"
    if isinstance(value, float):
        return "tag:yaml.org,2002:float"
    return _STR_TAG


class _Loader(SafeLoader):
    """SafeLoader resolving plain scalars as yaml.v3 does ('<<' is a plain key)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _go_tag(go_plain_scalar(value))
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


def _construct_go_number(loader: SafeLoader, node: yaml.Node) -> int | float:
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    parsed = go_plain_scalar(str(value)) if value else None
    if isinstance(parsed, bool) or not isinstance(parsed, int | float):
        raise yaml.constructor.ConstructorError(None, None, f"invalid {node.tag}", node.start_mark)
    return float(parsed) if node.tag.endswith(":float") else parsed


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_go_number)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_go_number)


class _Dumper(SafeDumper):
    """SafeDumper that also quotes strings yaml.v3 would read as non-strings."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if kind is yaml.ScalarNode and implicit[0] and tag == _STR_TAG:
            return _go_tag(go_plain_scalar(value))
        return tag
