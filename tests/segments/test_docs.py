"""Every YAML example in docs/segments.md works as written (and selects what pandas selects)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from cvm.segments.compile import compile_segment
from cvm.segments.validate import parse_definition
from tests.segments.conftest import Loaded
from tests.segments.data import AS_OF

DOC = Path(__file__).resolve().parents[2] / "docs" / "segments.md"


def yaml_blocks() -> list[Any]:
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)]


def test_doc_examples_validate_and_run(loaded: Loaded) -> None:
    blocks = yaml_blocks()
    full = [b for b in blocks if "rule" in b]
    nodes = [b for b in blocks if "kind" in b]
    assert len(full) >= 1 and len(nodes) >= 9 and len(full) + len(nodes) == len(blocks)
    definitions = [parse_definition(b, str(DOC)) for b in full]
    definitions += [
        parse_definition({"name": f"doc_{i}", "rule": b}, str(DOC)) for i, b in enumerate(nodes)
    ]
    loaded.store.save_many(definitions, replace=True)  # validates every one
    reference = loaded.reference()
    non_empty = 0
    for definition in definitions:
        query = compile_segment(definition.rule, loaded.store.context(AS_OF))
        got = {r[0] for r in loaded.ws.engine.fetch_rows(query)}
        assert got == reference.members(definition.rule), definition.name
        non_empty += bool(got)
    assert non_empty >= len(definitions) - 2
    for definition in reversed(definitions):
        loaded.store.delete(definition.name)
