"""Customers: search by any identifier as you type, the customer 360 page, privacy requests.

The profile is the one the API serves (`cvm.identity.profile_lookup`: `find_customer_id`,
`lookup_profile`); privacy export and erase are `cvm.privacy`'s, for admins only.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from cvm.core.contracts import CUSTOMERS
from cvm.core.errors import CvmError
from cvm.engine.sql import bind
from cvm.identity.profile_lookup import LookupKey, find_customer_id, lookup_profile
from cvm.privacy import erase_person, export_person
from cvm.profiles.contract import PROFILE_COLUMNS
from cvm.state.audit import record_change
from cvm.ui.auth import Admin, Viewer
from cvm.ui.templating import render

router = APIRouter(prefix="/ui/customers", include_in_schema=False)
MEANINGS = {c.name: c.description for c in (*CUSTOMERS.columns, *PROFILE_COLUMNS)}
SCORES = ("clv", "p_alive", "churn_propensity", "expected_purchases", "expected_spend",
          "rfm_segment", "rfm_score", "value_tier", "lifecycle_stage")  # fmt: skip
_PREFIX = """
SELECT customer_id, first_name, last_name, email, phone, city FROM customers
WHERE customer_id = :q OR email = lower(:q) OR phone = :q
   OR starts_with(customer_id, :q) OR starts_with(email, lower(:q))
LIMIT 10
"""
_PURCHASES = """
SELECT occurred_at, transaction_id, product_id, category, quantity, amount, channel
FROM transactions WHERE customer_id = :cid ORDER BY occurred_at DESC LIMIT 50
"""


def _services(request: Request) -> Any:
    return request.app.state.services


def search_customers(request: Request, q: str) -> list[dict[str, Any]]:
    """Exact identity lookups (e-mail, phone, user id, customer id), then prefix matches."""
    services = _services(request)
    ws = services.workspace
    country = services.settings.identity.default_phone_country
    found: dict[str, dict[str, Any]] = {}
    kinds = ["customer_id", "user_id"]
    kinds += ["email"] if "@" in q else []
    kinds += ["phone"] if sum(ch.isdigit() for ch in q) >= 6 else []
    for kind in kinds:
        try:
            cid = find_customer_id(ws.state, LookupKey(kind, q), country)
        except CvmError:
            continue
        if kind != "customer_id" or ws.engine.fetch_rows(
            bind("SELECT 1 FROM customers WHERE customer_id = :c", c=cid)
        ):
            found.setdefault(cid, {"customer_id": cid, "matched": kind})
    if ws.engine.table_exists("customers"):
        for row in ws.engine.fetch_arrow(bind(_PREFIX, q=q)).to_pylist():
            found.setdefault(row["customer_id"], {**row, "matched": "prefix"})
            found[row["customer_id"]].update({k: v for k, v in row.items() if v is not None})
    return list(found.values())[:10]


@router.get("")
def customers(request: Request, session: Viewer, q: str = "") -> Response:
    results = search_customers(request, q.strip()) if q.strip() else []
    return render(request, "customers.html", page="customers", q=q, results=results)


@router.get("/search")
def search(request: Request, session: Viewer, q: str = Query("", max_length=320)) -> Response:
    results = search_customers(request, q.strip()) if len(q.strip()) >= 2 else []
    return render(request, "customer_results.html", q=q, results=results)


@router.get("/{customer_id}")
def customer(request: Request, customer_id: str, session: Viewer) -> Response:
    services = _services(request)
    ws = services.workspace
    live = find_customer_id(ws.state, LookupKey("customer_id", customer_id))
    profile = lookup_profile(ws.engine, ws.state, live, services.policy, events_limit=50)
    metrics = profile["metrics"]
    purchases = (
        ws.engine.fetch_arrow(bind(_PURCHASES, cid=live)).to_pylist()
        if ws.engine.table_exists("transactions")
        else []
    )
    events = profile["recent_events"]
    messages = [e for e in events if str(e.get("name", "")).startswith(("message_", "email_"))]
    products = metrics.get("top_products") or []
    if isinstance(products, str):
        products = json.loads(products)
    return render(
        request, "customer.html", page="customers", p=profile, metrics=metrics,
        scores=[(k, metrics.get(k), MEANINGS.get(k, "")) for k in SCORES if k in metrics],
        other=[(k, v, MEANINGS.get(k, "")) for k, v in metrics.items()
               if k not in SCORES and k not in ("traits", "top_products", "uplift")],
        purchases=purchases, events=events, messages=messages, products=products,
        customer_id=live,
    )  # fmt: skip


@router.post("/{customer_id}/export")
def export(request: Request, customer_id: str, session: Admin) -> Response:
    services = _services(request)
    ws = services.workspace
    country = services.settings.identity.default_phone_country
    with services.loader.lock:
        data = export_person(ws.engine, ws.state, customer_id, country)
    record_change(ws.state, session.user.username, "privacy.export", customer_id)
    return Response(
        json.dumps(data, indent=2, default=str),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="export-{customer_id}.json"'},
    )


@router.post("/{customer_id}/erase")
def erase(
    request: Request,
    customer_id: str,
    session: Admin,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    services = _services(request)
    ws = services.workspace
    if confirm != customer_id:
        return render(
            request, "error.html", status_code=422, status=422,
            message="To erase, type the customer id exactly into the confirmation box.",
        )  # fmt: skip
    record = erase_person(
        ws.engine, ws.state, customer_id, requested_by=f"ui:{session.user.username}",
        default_country=services.settings.identity.default_phone_country,
        lock=services.loader.lock,
    )  # fmt: skip
    record_change(ws.state, session.user.username, "privacy.erase", customer_id,
                  {"erasure": str(record.get("id", ""))})  # fmt: skip
    request.app.state.ui_cache.invalidate()
    return RedirectResponse("/ui/customers?erased=" + customer_id, status_code=303)
