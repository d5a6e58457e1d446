"""The block-style YAML writer: every reader of a backup file (PyYAML's C and Python parsers, the
restore's sops reader with Go's scalar rules, and the real kubectl) reads back exactly what was written."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.common import yamlio
from lambdas.config_backup import sops
from tests.support.k8s_apiserver import FakeKubeApiServer
from tests.support.test_k8s_apiserver import make_kubectl

# Strings every YAML writer gets wrong once: YAML 1.1 and go-yaml implicit types, indicators, quotes,
# line breaks YAML knows and JSON does not, non-printable characters, and the edges of literal blocks.
TRICKY: tuple[str, ...] = (
    "", " ", "  a", "a ", "y", "Y", "n", "N", "yes", "No", "on", "OFF", "true", "False", "~", "null", "Null",
    "1", "-1", "+1", "0o17", "017", "0x1F", "0b101", "1_000", "1:20", "1e3", "1.5", ".5", "-.5", "1.", ".inf",
    "-.Inf", ".NaN", "2001-12-14", "2001-12-14T21:59:43.10-05:00", "-", "--", "---", "...", "- a", "-a", "a: b",
    "a:", "a:b", ":a", "?", "? a", "?a", "#", "a #b", "a#b", "'q'", '"q"', "a'b", 'a"b', "\\", "a\\nb", "\t",
    "a\tb", "|", ">", "|-", "&a", "*a", "!a", "!!str", "%a", "@a", "a@b", "`a", ",a", "a,b", "[a]", "{a}", "a]",
    "=", "==", "<<", "<", "a=b", "ENC[AES256_GCM,data:q+/=,iv:Zm9v,tag:YmFy,type:str]", "(a)", "a;b", "*",
    "\r", "a\r\nb\r\n", "\x85", "a\x85b", "\u2028", "a\u2029b", "\ufeff", "a\ufeffb", "\x7f", "\x00", "\x1b",
    "\ufffe", "\xa0", "é", "日本語", "😀", "a\n", "a\n\n", "a\n\n\n", "\n", "\n\n", "\na", " a\nb", "\ta\nb",
    "a\n b\n", "a \nb", "a\n\nb", "a\n  \nb\n", "a\n---\n...\nb", "a\n\tb\n", "a\n#b\n", "a\n- b\n", "a\nb: c",
    "x" * 2000, "x\n" * 500,
)  # fmt: skip


def _readers(text: str) -> dict[str, Any]:
    return {
        "libyaml": yaml.load(text, Loader=yamlio.SafeLoader),
        "pure-python": yaml.load(text, Loader=yaml.SafeLoader),
        "go rules (sops reader)": yaml.load(text, Loader=sops._Loader),
    }


def _document(strings: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {
        "values": {f"k{i}": s for i, s in enumerate(strings)},
        "keys": {s: i for i, s in enumerate(strings) if len(s) < 1000},
        "list": list(strings),
        "nested": [[s, {"in": s, s: [s, []]}] for s in strings[:40]],
        "types": {"t": True, "f": False, "z": None, "i": -7, "big": 2**63 - 1, "fl": 1.5, "e": 1e20, "m": {}, "l": []},
    }


def test_every_reader_reads_back_the_tricky_strings() -> None:
    document = _document(TRICKY)
    text = yamlio.dump(document)
    assert "\n- |\n" in text and '  k0: ""\n' in text  # the fast writer's, not PyYAML's
    for reader, back in _readers(text).items():
        assert back == document, reader


def test_random_strings_read_back_identically() -> None:
    alphabet = "aZ09 -:#'\"\\\t\n\r{}[],&*!|>%@`?~=<.+_/\x00\x7f\x85\xa0\u2028\ufeffé😀"
    rng = random.Random(20261202)
    strings = list(dict.fromkeys("".join(rng.choices(alphabet, k=rng.randint(0, 10))) for _ in range(4000)))
    document = _document(strings)
    text = yamlio.dump(document)
    for reader, back in _readers(text).items():
        assert back == document, reader


def test_layout_is_what_kubectl_writes() -> None:
    document = {
        "apiVersion": "v1",
        "items": [{"metadata": {"name": "a", "labels": {}}, "data": {"f.properties": "a=1\nb=2\n", "x": "1"}}],
    }
    assert yamlio.dump(document) == (
        "apiVersion: v1\n"
        "items:\n"
        "- metadata:\n"
        "    name: a\n"
        "    labels: {}\n"
        "  data:\n"
        "    f.properties: |\n"
        "      a=1\n"
        "      b=2\n"
        '    x: "1"\n'
    )


def test_strings_go_reads_as_numbers_are_quoted() -> None:
    # YAML 1.1 (PyYAML) reads 0o17 and 1e3 as strings, Go's yaml.v3 (sops, kubectl) as numbers.
    assert yamlio.dump({"a": "0o17", "b": "1e3", "c": "plain"}) == 'a: "0o17"\nb: "1e3"\nc: plain\n'


@pytest.mark.parametrize(
    "document",
    [
        {1: "an int key"},
        {"when": datetime(2026, 12, 2, tzinfo=UTC)},
        {"k" * 1100: "a key longer than an implicit key may be"},
        {"set": {"a", "b"}},
    ],
    ids=["int-key", "datetime", "long-key", "set"],
)
def test_outside_the_fast_shape_pyyaml_writes_it(document: dict[Any, Any]) -> None:
    expected = yaml.dump(
        document, Dumper=yamlio.SafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    assert yamlio.dump(document) == expected


def test_kubectl_reads_a_configmaps_file_as_written(tmp_path: Path) -> None:
    # The real kubectl (go-yaml) applies the file; what the API server stored must be what was written.
    # (Keys stay simple: the API server refuses most of these strings as keys.)
    # The test server reads apply bodies with PyYAML, which folds NEL, LS and PS and refuses NUL, DEL and
    # U+FFFE in them: those characters are checked by the readers above and by the real sops.
    values = [s for s in TRICKY if not set(s) & set("\x00\x7f\x85\u2028\u2029\ufffe")]
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "labels": {"v": value}, "annotations": {"a": value}},
            "data": {"value": value},
        }
        for i, value in enumerate(values)
    ]
    path = tmp_path / "configmaps.yaml"
    path.write_text(yamlio.dump({"apiVersion": "v1", "kind": "List", "items": items}), encoding="utf-8")
    with FakeKubeApiServer() as server:
        server.create_namespace("production")
        kubectl = make_kubectl(server, tmp_path)
        kubectl("apply", "--server-side", "--validate=false", "--field-manager=test", "-f", str(path))
        stored = json.loads(kubectl("get", "configmaps", "-o", "json").stdout)["items"]
        assert server.errors == []
    by_name = {item["metadata"]["name"]: item for item in stored}
    for i, item in enumerate(items):
        got = by_name[f"cm-{i}"]
        assert got["data"] == item["data"], repr(values[i])
        assert got["metadata"]["labels"] == item["metadata"]["labels"], repr(values[i])
        assert got["metadata"]["annotations"] == item["metadata"]["annotations"], repr(values[i])
