"""Mapping keys do what docs/ingestion.md says, and a bad mapping is refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvm.core.errors import UserInputError
from cvm.ingest import ingest, parse_mapping, show_quarantine
from cvm.workspace import Workspace


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_european_export_with_cents_padding_defaults_and_time_zone(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = _write(
        tmp_path / "export.csv",
        "exported by shop v2\n"
        "Bon;Kunde;Zeit;Betrag;Menge;Kanal\n"
        "17;42;05.01.2024 10:00;1.234,50;2;\n"
        "18;0042;06.01.2024 23:30;-500,00;-1;STORE\n"
        "19;7;07.01.2024 08:00;n/a;1;web\n",
    )
    mapping = parse_mapping(
        {
            "source": {
                "delimiter": ";",
                "skip_rows": 1,
                "decimal_separator": ",",
                "thousands_separator": ".",
                "null_values": ["n/a"],
                "timezone": "Europe/Berlin",
            },
            "columns": {
                "transaction_id": {"from": "Bon", "zero_pad": 6},
                "customer_id": {"from": "Kunde", "strip_leading_zeros": True},
                "occurred_at": {"from": "Zeit", "format": ["%d.%m.%Y %H:%M", "%Y-%m-%d"]},
                "amount": "Betrag",
                "quantity": "Menge",
                "channel": {"from": "Kanal", "default": "web", "lowercase": True},
                "currency": {"constant": "EUR"},
            },
        }
    )
    result = ingest(workspace, "transactions", source, mapping=mapping)
    assert (result.read, result.accepted) == (3, 2)
    rows = workspace.engine.fetch_rows(
        "SELECT transaction_id, line_id, customer_id, strftime(occurred_at, '%Y-%m-%d %H:%M'), amount::DOUBLE, "
        "currency, channel, is_return FROM transactions ORDER BY 1"
    )
    assert rows == [
        ("000017", "1", "42", "2024-01-05 09:00", 1234.5, "EUR", "web", False),  # Berlin is UTC+1
        ("000018", "1", "42", "2024-01-06 22:30", -500.0, "EUR", "store", True),
    ]
    [refused] = show_quarantine(workspace.engine, result.run_id)
    # the marker n/a is a missing value, and amount is required; line 5 counts the preamble
    assert (refused["row_number"], refused["column_name"], refused["reason"]) == (
        5,
        "amount",
        "missing required value",
    )


def test_units_booleans_and_json(workspace: Workspace, tmp_path: Path) -> None:
    source = _write(
        tmp_path / "products.csv",
        'sku,price_cents,margin,stock,meta\nP1,1999,0.4,ja,"{""size"": 3}"\nP2,250,1.5,nein,{}\nP3,10,0.1,vielleicht,{bad\n',
    )
    mapping = parse_mapping(
        {
            "columns": {
                "product_id": "sku",
                "price": {"from": "price_cents", "multiply": 0.01},
                "in_stock": {"from": "stock", "true_values": ["ja"], "false_values": ["nein"]},
            },
        }
    )
    result = ingest(workspace, "products", source, mapping=mapping)
    assert workspace.engine.fetch_rows(
        "SELECT product_id, price::DOUBLE, margin, in_stock FROM products"
    ) == [("P1", 19.99, 0.4, True)]
    refused = sorted(
        (r["row_number"], r["reason"]) for r in show_quarantine(workspace.engine, result.run_id)
    )
    assert refused == [(3, "above maximum 1"), (4, "not true/false")]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"columns": {"amount": {"from": "x", "zero_pad": 3}}},
            "'columns.amount.zero_pad': only text columns take zero_pad",
        ),
        (
            {"columns": {"customer_id": {"derive": "row_hash"}}},
            "only a text key column of transactions can be derived",
        ),
        (
            {"columns": {"amount": {"from": "x", "constant": 1}}},
            "give only one of from, constant, derive",
        ),
        (
            {"columns": {"amont": "x"}},
            "transactions has no column 'amont' (did you mean 'amount'?)",
        ),
        (
            {"columns": {"occurred_at": {"from": "x", "timezone": "Mars/Olympus"}}},
            "unknown time zone 'Mars/Olympus'",
        ),
        ({"source": {"delimiter": ";;"}}, "'source.delimiter': must be one character"),
        (
            {"columns": {"amount": {"from": "x", "multiply": "lots"}}},
            "'columns.amount.multiply': Input should be a valid number",
        ),
        ({"table": "orders"}, "mapping key 'table': Input should be"),
    ],
)
def test_bad_mappings_are_refused_naming_the_key(
    mapping: dict[str, object], message: str, workspace: Workspace, tmp_path: Path
) -> None:
    source = _write(
        tmp_path / "t.csv",
        "transaction_id,customer_id,occurred_at,amount,x\nT1,C1,2024-01-01,1,2\n",
    )
    with pytest.raises(
        UserInputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        ingest(workspace, "transactions", source, mapping=parse_mapping(mapping))
    assert workspace.engine.fetch_scalar("SELECT count(*) FROM ingest_runs") == 0


def test_columns_are_found_by_normalised_name(workspace: Workspace, tmp_path: Path) -> None:
    source = _write(tmp_path / "c.tsv", "Customer ID\tE-Mail\tCountry\n7\tA@B.C\tNL\n")
    result = ingest(
        workspace, "customers", source, mapping=parse_mapping({"columns": {"email": "E-Mail"}})
    )
    assert result.accepted == 1
    assert workspace.engine.fetch_rows("SELECT customer_id, email, country FROM customers") == [
        ("7", "a@b.c", "NL")
    ]


def test_required_column_missing_from_the_source_is_named(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = _write(tmp_path / "t.csv", "transaction_id,customer_id,amount\nT1,C1,3\n")
    with pytest.raises(UserInputError, match="no column for the required field 'occurred_at'"):
        ingest(workspace, "transactions", source)
