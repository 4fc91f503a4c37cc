"""Reading a user's YAML file (mapping, programme, catalogue, campaign) with one-sentence errors:
the file, the line of a syntax error, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cvm.core.errors import UserInputError


def read_yaml(path: Path) -> Any:
    """The parsed document; a missing, unreadable, non-UTF-8 or invalid file is a
    `UserInputError` naming the file (and the line, for a syntax error)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise UserInputError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise UserInputError(f"{path}: cannot read ({err.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise UserInputError(f"{path}: not valid YAML{where} ({problem})") from None
