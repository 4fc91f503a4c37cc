"""Load the CDNOW 1/10 sample into a warehouse engine (test helper, no ingestion involved)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa

from cvm.engine.base import Engine


def read_cdnow_sample(path: Path) -> pd.DataFrame:
    """CDNOW_sample.txt: master_id, sample_id, yyyymmdd, number of CDs, dollar amount."""
    df = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str},
    )
    df["customer_id"] = df["customer_id"].astype(int).astype(str)
    df["occurred_at"] = pd.to_datetime(df["date"].astype(str), format="%Y%m%d")
    return df


def load_cdnow_sample(engine: Engine, path: Path) -> pd.DataFrame:
    df = read_cdnow_sample(path)
    table = pa.table(
        {
            "transaction_id": [f"t{i}" for i in range(len(df))],
            "line_id": ["1"] * len(df),
            "customer_id": df["customer_id"].tolist(),
            "occurred_at": pa.array(df["occurred_at"].to_numpy(dtype="datetime64[us]")),
            "amount": pa.array(
                [Decimal(f"{v:.2f}") for v in df["amount"]], type=pa.decimal128(18, 4)
            ),
            "quantity": pa.array([Decimal(int(v)) for v in df["cds"]], type=pa.decimal128(18, 4)),
            "is_return": [False] * len(df),
        }
    )
    engine.write_arrow("transactions", table)
    return df
