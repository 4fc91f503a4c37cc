from __future__ import annotations

from pathlib import Path

from cvm.core.contracts import CANONICAL
from cvm.core.contracts_doc import render_all
from cvm.profiles.contract import PROFILES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contracts.md"


def test_data_contracts_doc_is_generated_from_code() -> None:
    assert DOC.read_text(encoding="utf-8") == render_all((PROFILES,)), (
        "regenerate: python -m cvm.core.contracts_doc > docs/data-contracts.md"
    )


def test_money_is_never_a_binary_float() -> None:
    for contract in (*CANONICAL.values(), PROFILES):
        for col in contract.all_columns:
            if col.name in ("amount", "price", "revenue"):
                assert col.sql_type.startswith("DECIMAL"), (contract.name, col.name)
