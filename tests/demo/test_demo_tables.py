"""The demo tables honour the canonical contracts and hang together."""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cvm.core.contracts import CANONICAL
from cvm.demo import Company, DemoConfig, generate_company
from cvm.demo.arrow_columns import ARROW_TYPES
from tests.demo.conftest import END, START

TABLE_NAMES = ("customers", "transactions", "products", "events", "consents")


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_columns_and_types_match_the_contract(small_company: Company, name: str) -> None:
    contract = CANONICAL[name]
    table = small_company.tables[name]
    assert table.column_names == contract.column_names
    for col in contract.columns:
        assert table.schema.field(col.name).type == ARROW_TYPES[col.type], col.name
    assert table.num_rows > 0
    for col in contract.columns:
        if col.required:
            assert table.column(col.name).null_count == 0, f"{name}.{col.name} has nulls"
        if col.choices:
            values = set(pc.unique(table.column(col.name)).drop_null().to_pylist())
            assert values <= set(col.choices), (col.name, values - set(col.choices))
        if col.minimum is not None:
            assert pc.min(table.column(col.name)).as_py() >= col.minimum, col.name
        if col.maximum is not None:
            assert pc.max(table.column(col.name)).as_py() <= col.maximum, col.name


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_natural_keys_are_unique(small_company: Company, name: str) -> None:
    table = small_company.tables[name]
    key = list(CANONICAL[name].key)
    distinct = table.group_by(key).aggregate([]).num_rows
    assert distinct == table.num_rows


def test_money_is_decimal_and_timestamps_are_naive_utc_inside_the_period(
    small_company: Company,
) -> None:
    tx = small_company.transactions
    assert tx.schema.field("amount").type == pa.decimal128(18, 4)
    for table, column in (
        (tx, "occurred_at"),
        (small_company.events, "occurred_at"),
        (small_company.consents, "occurred_at"),
        (small_company.customers, "signup_date"),
    ):
        assert table.schema.field(column).type == pa.timestamp("us")  # no zone: UTC by contract
        lo, hi = pc.min(table.column(column)).as_py(), pc.max(table.column(column)).as_py()
        assert lo.date() >= START and hi.date() < END, column


def test_json_columns_hold_json_objects(small_company: Company) -> None:
    for table, column in (
        (small_company.customers, "traits"),
        (small_company.events, "properties"),
    ):
        values = table.column(column).to_pylist()
        parsed = [json.loads(v) for v in values]
        assert all(isinstance(p, dict) for p in parsed)
    traits = json.loads(small_company.customers.column("traits")[0].as_py())
    assert set(traits) == {"loyalty_member", "home_store", "device"}


def test_every_reference_resolves(small_company: Company) -> None:
    customers = set(small_company.customers.column("customer_id").to_pylist())
    products = set(small_company.products.column("product_id").to_pylist())
    tx = small_company.transactions
    assert set(tx.column("customer_id").to_pylist()) <= customers
    assert set(tx.column("product_id").to_pylist()) <= products
    assert set(small_company.events.column("customer_id").to_pylist()) <= customers
    assert set(small_company.consents.column("customer_id").to_pylist()) <= customers
    for truth in small_company.truth.values():
        assert set(truth.column("customer_id").to_pylist()) <= customers
    # Every product id named in an event's properties exists too.
    named = {
        json.loads(p).get("product_id")
        for p in small_company.events.column("properties").to_pylist()
    }
    assert named - {None} <= products


def test_contacts_are_unique_and_well_formed(small_company: Company) -> None:
    c = small_company.customers.to_pandas()
    assert c.email.is_unique and c.phone.is_unique
    assert c.email.str.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z]+\.(com|org|net|example)").all()
    assert c.phone.str.fullmatch(r"\+[1-9]\d{9,14}").all()
    assert c.customer_id.str.fullmatch(r"C\d{8}").all()
    for zone in c.time_zone.unique():
        ZoneInfo(zone)  # a real IANA zone
    assert set(c.country) == {"RU", "GB", "DE", "US"}
    assert c.city.nunique() >= 10
    born = c.birth_date.dropna()
    assert 0.85 < len(born) / len(c) < 1.0  # some customers never said
    assert (born < c.signup_date.dt.date[born.index]).all()
    assert {"female", "male"} <= set(c.gender.dropna())


def test_signup_is_the_first_order(small_company: Company) -> None:
    tx = small_company.transactions.to_pandas()
    first = tx[~tx.is_return].groupby("customer_id").occurred_at.min()
    signup = small_company.customers.to_pandas().set_index("customer_id").signup_date
    assert (first.reindex(signup.index) == signup).all()


def test_returns_mirror_a_sale(small_company: Company) -> None:
    tx = small_company.transactions.to_pandas()
    ret = tx[tx.is_return]
    assert 0.005 < len(ret) / len(tx) < 0.08
    assert (ret.quantity < 0).all() and (ret.amount < 0).all()
    assert (tx[~tx.is_return].amount > 0).all()
    sales = tx[~tx.is_return].set_index(["transaction_id", "line_id"])
    original = ret.assign(transaction_id="T" + ret.transaction_id.str[1:])
    matched = sales.loc[list(zip(original.transaction_id, original.line_id, strict=True))]
    assert (matched.product_id.to_numpy() == ret.product_id.to_numpy()).all()
    assert (matched.amount.to_numpy() == -ret.amount.to_numpy()).all()
    assert (matched.occurred_at.to_numpy() < ret.occurred_at.to_numpy()).all()


def test_sales_lines_never_exceed_list_price(small_company: Company) -> None:
    tx = small_company.transactions.to_pandas()
    prices = small_company.products.to_pandas().set_index("product_id").price
    sales = tx[~tx.is_return]
    list_value = prices.reindex(sales.product_id).to_numpy() * sales.quantity.to_numpy()
    assert (sales.amount.to_numpy() <= list_value).all()


def test_same_seed_same_company_and_another_seed_differs() -> None:
    config = DemoConfig(chunk_size=400)
    one = generate_company(900, seed=5, start=START, end=END, config=config)
    two = generate_company(900, seed=5, start=START, end=END, config=config)
    other = generate_company(900, seed=6, start=START, end=END, config=config)
    for name in TABLE_NAMES:
        assert one.tables[name].equals(two.tables[name]), name
    for name in one.truth:
        assert one.truth[name].equals(two.truth[name]), name
    assert one.params == two.params
    assert not one.transactions.equals(other.transactions)


def test_engagement_follows_purchases(small_company: Company) -> None:
    events = small_company.events.to_pandas()
    per_customer = events.groupby("customer_id").size()
    assert 5 <= per_customer.mean() <= 15
    orders = small_company.transactions.to_pandas().groupby("customer_id").transaction_id.nunique()
    corr = np.corrcoef(per_customer.reindex(orders.index, fill_value=0), orders)[0, 1]
    assert corr > 0.5
    names = set(events.name.dropna())
    assert {"page_view", "product_viewed", "add_to_cart", "cart_abandoned"} <= names
    assert {"email_opened", "email_clicked", "app_open", "order_completed"} <= names
    assert set(events.type) >= {"track", "page", "screen", "identify", "message"}
    assert set(events.channel) >= {"web", "app", "email"}
    # E-mail events happen only while the customer's e-mail consent holds.
    opens = events[events.name == "email_opened"]
    assert opens.customer_id.isin(_ever_granted(small_company, "email")).all()


def _ever_granted(company: Company, channel: str) -> set[str]:
    c = company.consents.to_pandas()
    return set(c[(c.channel == channel) & (c.status == "granted")].customer_id)


def test_consents_have_opt_outs_and_history(small_company: Company) -> None:
    c = small_company.consents.to_pandas()
    assert set(c.channel) == {"email", "sms", "push"}
    assert set(c.purpose) == {"marketing"}
    denied = c[c.status == "denied"]
    assert (denied.source == "signup_form").any()  # refused at signup
    assert (denied.source == "unsubscribe_link").any()  # withdrew later
    granted_then_denied = c.sort_values("occurred_at").groupby(["customer_id", "channel"]).status
    assert (
        granted_then_denied.agg(lambda s: "granted" in s.values[:-1] and s.values[-1] == "denied")
    ).any()
    email_now = (
        c[c.channel == "email"].sort_values("occurred_at").groupby("customer_id").status.last()
    )
    assert 0.5 < (email_now == "granted").mean() < 0.8
    # Push is only asked of customers with the app.
    assert (
        c[c.channel == "push"].customer_id.nunique() < c[c.channel == "email"].customer_id.nunique()
    )


def test_products_cover_the_catalogue(small_company: Company) -> None:
    p = small_company.products.to_pandas()
    assert len(p) == 200
    assert 10 <= p.category.nunique() <= 15
    assert p.repeatable.any() and (~p.repeatable).any()
    assert p.in_stock.mean() > 0.8 and not p.in_stock.all()
    assert re.fullmatch(r"P\d{5}", p.product_id.iloc[0])
