"""Inputs of the next-best-product recommenders, turned into sparse matrices.

Every recommender sees the same three things, indexed the same way:

* a customer index and a product index (positions 0..n-1, ids kept in arrays);
* the customer x product matrix of net purchased weight (CSR, float32): the `weight` column
  when present, else `quantity`, else 1 per row; lines of one customer and product are summed
  and pairs whose net total is <= 0 (everything returned) are dropped;
* the catalogue flags `repeatable` and `in_stock` per product.

Products bought but absent from the catalogue still count as evidence (they shape the
similarities and factors) but are never offered: their stock is unknown. A missing `in_stock`
column or value means in stock; a missing `repeatable` column or value means *not* repeatable,
the cautious choice: a customer is never re-offered a product they own unless the catalogue
says that product is bought again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from cvm.core.errors import UserInputError

WEIGHT_COLUMNS = ("weight", "quantity")
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class FitData:
    """Indexed training data shared by every recommender."""

    customer_ids: npt.NDArray[Any]
    product_ids: npt.NDArray[Any]
    user_items: sp.csr_matrix
    repeatable: BoolArray
    in_stock: BoolArray


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise a `UserInputError` naming every required column absent from `frame`."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserInputError(
            f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}"
        )


def _require_values(frame: pd.DataFrame, column: str, what: str) -> None:
    nulls = frame[column].isna().to_numpy()
    if nulls.any():
        row = frame.index[int(np.argmax(nulls))]
        raise UserInputError(f"{what} row {row!r}: column {column} is empty")


def interaction_weights(interactions: pd.DataFrame) -> npt.NDArray[np.float64]:
    """Weight of each interaction row: `weight`, else `quantity`, else 1."""
    for column in WEIGHT_COLUMNS:
        if column in interactions.columns:
            values = pd.to_numeric(interactions[column], errors="coerce")
            bad = values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=np.float64))
            if bad.any():
                row = interactions.index[int(np.argmax(bad))]
                raise UserInputError(
                    f"interactions row {row!r}: column {column} is not a finite number"
                )
            return values.to_numpy(dtype=np.float64)
    return np.ones(len(interactions), dtype=np.float64)


def catalog_flags(
    product_ids: npt.NDArray[Any], products: pd.DataFrame | None
) -> tuple[BoolArray, BoolArray]:
    """`repeatable` and `in_stock` for each id of `product_ids`, read from `products`.

    Ids absent from `products` get `in_stock = False` (never offered) and `repeatable = False`.
    With no product table at all, every product is offerable and none is repeatable.
    """
    size = len(product_ids)
    if products is None:
        return np.zeros(size, dtype=bool), np.ones(size, dtype=bool)
    _check_catalog(products)
    position = pd.Index(products["product_id"]).get_indexer(product_ids)
    known = position >= 0
    repeatable = np.zeros(size, dtype=bool)
    in_stock = np.zeros(size, dtype=bool)
    repeatable[known] = _flag(products, "repeatable", default=False)[position[known]]
    in_stock[known] = _flag(products, "in_stock", default=True)[position[known]]
    return repeatable, in_stock


def _check_catalog(products: pd.DataFrame) -> None:
    require_columns(products, ["product_id"], "products")
    _require_values(products, "product_id", "products")
    duplicated = products["product_id"].duplicated().to_numpy()
    if duplicated.any():
        at = int(np.argmax(duplicated))
        raise UserInputError(
            f"products row {products.index[at]!r}: product_id "
            f"{products['product_id'].iloc[at]!r} appears twice"
        )


def _flag(products: pd.DataFrame, column: str, default: bool) -> BoolArray:
    if column not in products.columns:
        return np.full(len(products), default, dtype=bool)
    values = products[column]
    if values.dtype == bool:
        return values.to_numpy(dtype=bool)
    filled = values.astype(object).where(values.notna(), default)
    ok = filled.map(lambda v: isinstance(v, bool | np.bool_) or v in (0, 1)).to_numpy(dtype=bool)
    if not ok.all():
        row = products.index[int(np.argmax(~ok))]
        raise UserInputError(
            f"products row {row!r}: column {column} must be true/false, got {values.loc[row]!r}"
        )
    return filled.to_numpy().astype(bool)


def build_fit_data(interactions: pd.DataFrame, products: pd.DataFrame | None) -> FitData:
    """Index customers and products and build the customer x product weight matrix."""
    require_columns(interactions, ["customer_id", "product_id"], "interactions")
    for column in ("customer_id", "product_id"):
        _require_values(interactions, column, "interactions")
    weights = interaction_weights(interactions)
    if products is not None:
        _check_catalog(products)
    customer_codes, customer_ids = pd.factorize(interactions["customer_id"], sort=True)
    # Catalogue products come first, in catalogue order, so an unbought product still has a
    # column (popularity 0) and can be offered to cover the catalogue.
    catalog_ids = (
        pd.Index(products["product_id"]) if products is not None else pd.Index([], dtype=object)
    )
    seen = pd.Index(pd.unique(interactions["product_id"]))
    product_index = catalog_ids.append(seen.difference(catalog_ids, sort=False))
    product_codes = product_index.get_indexer(interactions["product_id"])
    matrix = sp.coo_matrix(
        (weights, (customer_codes, product_codes)),
        shape=(len(customer_ids), len(product_index)),
    ).tocsr()  # duplicates are summed here
    matrix.data[matrix.data <= 0] = 0.0
    matrix.eliminate_zeros()
    matrix.sort_indices()
    product_ids = np.asarray(product_index, dtype=object)
    repeatable, in_stock = catalog_flags(product_ids, products)
    return FitData(
        customer_ids=np.asarray(customer_ids),
        product_ids=product_ids,
        user_items=sp.csr_matrix(matrix, dtype=np.float32),
        repeatable=repeatable,
        in_stock=in_stock,
    )


def exclusion_inputs(
    exclude: pd.DataFrame | Iterable[Any] | None,
    requested: pd.Index,
    product_ids: npt.NDArray[Any],
) -> tuple[BoolArray, sp.csr_matrix]:
    """Explicitly ineligible products: a global mask and a (request row x product) matrix.

    `exclude` is either an iterable of product ids (ineligible for everyone) or a DataFrame with
    `product_id` and optionally `customer_id`: rows with a customer apply to that customer
    (every request row of that customer), rows without one apply to everyone. Products unknown
    to the model are ignored: they cannot be recommended anyway.
    """
    n_items = len(product_ids)
    global_block = np.zeros(n_items, dtype=bool)
    per_customer = sp.csr_matrix((len(requested), n_items), dtype=np.float32)
    if exclude is None:
        return global_block, per_customer
    item_index = pd.Index(product_ids)
    if not isinstance(exclude, pd.DataFrame):
        codes = item_index.get_indexer(pd.Index(list(exclude)))
        global_block[codes[codes >= 0]] = True
        return global_block, per_customer
    require_columns(exclude, ["product_id"], "exclude")
    codes = item_index.get_indexer(exclude["product_id"])
    if "customer_id" in exclude.columns:
        customers = exclude["customer_id"]
        everyone = customers.isna().to_numpy()
    else:
        customers = pd.Series(np.nan, index=exclude.index)
        everyone = np.ones(len(exclude), dtype=bool)
    global_block[codes[everyone & (codes >= 0)]] = True
    pairs = pd.DataFrame({"customer_id": customers.to_numpy()[~everyone], "item": codes[~everyone]})
    pairs = pairs[pairs["item"] >= 0]
    request = pd.DataFrame({"customer_id": requested, "row": np.arange(len(requested))})
    joined = request.merge(pairs, on="customer_id", how="inner")
    if len(joined):
        per_customer = sp.csr_matrix(
            (
                np.ones(len(joined), dtype=np.float32),
                (joined["row"].to_numpy(), joined["item"].to_numpy()),
            ),
            shape=(len(requested), n_items),
        )
        per_customer.sum_duplicates()
        per_customer.sort_indices()
    return global_block, per_customer
