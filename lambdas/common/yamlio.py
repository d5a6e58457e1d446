"""YAML in and out for backups of thousands of objects.

Reading uses PyYAML with libyaml's C parser (shipped in PyYAML's wheels) when present. Writing uses
:func:`dump`, a block-style emitter for JSON-shaped documents (what the Kubernetes API returns): plain
scalars where every reader takes them for strings, literal blocks (``|``) for multi-line text, as
``kubectl get -o yaml`` writes them, and double quotes (JSON escapes, which YAML shares) for the rest.
It writes about ten times faster than PyYAML's representer in front of libyaml's emitter, whose
per-node Python calls cost more than the emitting itself; anything outside that shape (a non-string
key, another type, a key too long for an implicit key) goes to PyYAML instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import yaml
from yaml.resolver import Resolver

if TYPE_CHECKING:
    SafeDumper = yaml.SafeDumper
    SafeLoader = yaml.SafeLoader
else:
    SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["SafeDumper", "SafeLoader", "dump", "go_plain_scalar"]

_STR_TAG: Final = "tag:yaml.org,2002:str"
# A conservative plain scalar: no indicator first, no ": ", " #", quotes, tabs or line breaks anywhere.
_PLAIN_RE: Final = re.compile(r"[A-Za-z0-9_./~(+-][A-Za-z0-9_./~()+=@\[\],;:* -]*")
# Every implicit non-string of YAML 1.1 (bool, int, float, null, timestamp) a plain scalar passing
# _PLAIN_RE can be starts with one of these; the rest never needs the resolver.
_RESOLVABLE_FIRST: Final = frozenset("yYnNtTfFoO~.+-0123456789")
# go-yaml v2 (kubectl's reader) also takes these for booleans; PyYAML does not.
_GO_V2_BOOLS: Final = frozenset({"y", "Y", "n", "N"})
# Characters a double-quoted scalar must escape beyond JSON's: non-printable in YAML or line breaks.
_ESCAPE_RE: Final = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
# Text a literal block may hold: printable characters, tabs and line feeds only (no NEL, LS or PS: YAML
# 1.1 takes them for line breaks).
_LITERAL_RE: Final = re.compile(
    "[\n\t\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
_MAX_IMPLICIT_KEY: Final = 1024
_MAX_CACHED: Final = 64
_INT64_MIN: Final = -(2**63)
_RESOLVER: Final = Resolver()


class _Unsupported(Exception):
    """The document is outside what the fast emitter writes; PyYAML writes it instead."""


def dump(
    document: Mapping[str, Any],
    *,
    fallback: type[SafeDumper] = SafeDumper,
    width: int | None = None,
) -> str:
    """Block-style YAML of ``document`` (keys in the given order), ending with a line feed.

    A string is written plain only when YAML 1.1 (PyYAML), go-yaml v2's booleans and Go's yaml.v3 (sops,
    kubectl) all read it back as that string. ``fallback`` and ``width`` are what PyYAML gets for a
    document the fast path does not take.
    """
    emitter = _Emitter()
    try:
        emitter.mapping(document, 0, "")
    except _Unsupported:
        return yaml.dump(
            document,
            Dumper=fallback,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=width,
        )
    return "".join(emitter.out)


class _Emitter:
    def __init__(self) -> None:
        self.out: list[str] = []
        self._keys: dict[str, str] = {}
        self._strings: dict[str, str] = {}

    # --- collections ---------------------------------------------------------------------

    def mapping(self, mapping: Mapping[Any, Any], indent: int, lead: str) -> None:
        pad = " " * indent
        prefix = lead
        for key, value in mapping.items():
            self.entry(prefix + self.key(key) + ":", value, indent)
            prefix = pad

    def sequence(self, items: list[Any] | tuple[Any, ...], indent: int) -> None:
        pad = " " * indent
        for item in items:
            if _is_mapping(item) and item:
                self.mapping(item, indent + 2, pad + "- ")
            elif _is_sequence(item) and item:
                self.out.append(pad + "-\n")
                self.sequence(item, indent + 2)
            else:
                self.scalar(pad + "-", item, indent + 2)

    def entry(self, head: str, value: Any, indent: int) -> None:
        if type(value) is str:  # the common case first
            self.scalar(head, value, indent + 2)
        elif _is_mapping(value) and value:
            self.out.append(head + "\n")
            self.mapping(value, indent + 2, " " * (indent + 2))
        elif _is_sequence(value) and value:
            self.out.append(head + "\n")
            self.sequence(value, indent)  # block sequences in a mapping sit at its indentation
        else:
            self.scalar(head, value, indent + 2)

    # --- scalars -------------------------------------------------------------------------

    def key(self, key: Any) -> str:
        if type(key) is not str:
            raise _Unsupported
        text = self._keys.get(key)
        if text is None:
            text = key if self.plain(key) else _double_quoted(key)
            if len(text) > _MAX_IMPLICIT_KEY:
                raise _Unsupported
            self._keys[key] = text
        return text

    def scalar(self, head: str, value: Any, content_indent: int) -> None:
        kind = type(value)
        if kind is str:
            if "\n" in value and _literal_ok(value):
                self.literal(head, value, content_indent)
                return
            text = self._strings.get(value) or self._string(value)
        elif value is None:
            text = "null"
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is int:
            text = str(value)
        elif kind is float:
            text = _float(value)
        elif _is_mapping(value):
            text = "{}"  # empty: a non-empty one never gets here
        elif _is_sequence(value):
            text = "[]"
        else:
            raise _Unsupported
        self.out.append(f"{head} {text}\n")

    def _string(self, value: str) -> str:
        text = value if self.plain(value) else _double_quoted(value)
        if len(value) <= _MAX_CACHED:  # label values, types, names of keys: they repeat
            self._strings[value] = text
        return text

    def literal(self, head: str, text: str, content_indent: int) -> None:
        if text.endswith("\n\n"):
            chomp, body = "+", text[:-1]
        elif text.endswith("\n"):
            chomp, body = "", text[:-1]
        else:
            chomp, body = "-", text
        pad = " " * content_indent
        lines = [pad + line if line else "" for line in body.split("\n")]
        self.out.append(f"{head} |{chomp}\n" + "\n".join(lines) + "\n")

    def plain(self, text: str) -> bool:
        if not text or _PLAIN_RE.fullmatch(text) is None:
            return False
        if text[-1] in " :" or ": " in text or text.startswith("- ") or text == "-":
            return False
        if text[0] in _RESOLVABLE_FIRST:
            if text in _GO_V2_BOOLS or _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != _STR_TAG:  # type: ignore[no-untyped-call]
                return False
            if type(go_plain_scalar(text)) is not str:
                return False
        return True


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _is_sequence(value: Any) -> bool:
    return type(value) is list or isinstance(value, list | tuple)


def _literal_ok(text: str) -> bool:
    # The first line sets the block's indentation: it must not start with white space or be empty.
    return text[0] not in " \t\n" and _LITERAL_RE.fullmatch(text) is not None


def _double_quoted(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE_RE.sub(_escape, quoted) if _ESCAPE_RE.search(quoted) else quoted


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    # YAML 1.1 floats need a dot: 1e+20 would read back as a string.
    return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text


# --- Go's yaml.v3 reading of plain scalars ------------------------------------------------

_GO_BOOLS: Final = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
_GO_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_GO_FLOAT_WORDS: Final = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_GO_INT_RE: Final = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT_RE: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_GO_DOT_FLOAT_RE: Final = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")


def go_plain_scalar(text: str) -> str | bool | int | float | None:
    """The value Go's yaml.v3 (sops; kubectl reads alike) gives an untagged plain scalar (timestamps stay str)."""
    if text in _GO_BOOLS:
        return _GO_BOOLS[text]
    if text in _GO_NULLS:
        return None
    if text in _GO_FLOAT_WORDS:
        return _GO_FLOAT_WORDS[text]
    if text[0] == "." and _GO_DOT_FLOAT_RE.fullmatch(text):
        number = float(text)
        return text if math.isinf(number) else number
    if text[0] in "+-0123456789":
        plain = text.replace("_", "")
        if _GO_INT_RE.fullmatch(plain):
            integer = _parse_go_int(plain)
            if _INT64_MIN <= integer < 2**64:
                return integer
        if _GO_FLOAT_RE.fullmatch(plain):
            number = float(plain)
            return text if math.isinf(number) else number
    return text


def _parse_go_int(plain: str) -> int:
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    prefix = digits[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        return sign * int(digits[2:], {"0x": 16, "0b": 2, "0o": 8}[prefix])
    if len(digits) > 1 and digits.startswith("0"):
        return sign * int(digits, 8)
    return sign * int(digits)
