"""A user's YAML file fails with one sentence naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvm.core.errors import UserInputError
from cvm.core.yaml_files import read_yaml


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: 1\nb: [1, 2\n", "not valid YAML at line 3"),
        (b"name: caf\xe9\n", "not UTF-8 text"),
        (None, "no such file"),
    ],
)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "programme.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserInputError) as caught:
        read_yaml(path)
    assert str(path) in caught.value.message and message in caught.value.message


def test_a_good_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("rewards:\n  - {id: coffee, points: 40}\n", encoding="utf-8")
    assert read_yaml(path) == {"rewards": [{"id": "coffee", "points": 40}]}
