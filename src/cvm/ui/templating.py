"""Jinja2 templates of the dashboard and the number formats every page shares.

Numbers carry thousands separators, money its currency code, rates a percent sign; a missing
value prints as an en dash so an empty cell never reads as zero.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Undefined

TEMPLATES = Path(__file__).with_name("templates")
NAV = (
    ("overview", "Overview", "/ui/"),
    ("customers", "Customers", "/ui/customers"),
    ("segments", "Segments", "/ui/segments"),
    ("value", "Value", "/ui/value"),
    ("models", "Models", "/ui/models"),
    ("campaigns", "Campaigns", "/ui/campaigns"),
    ("offers", "Offers", "/ui/offers"),
    ("health", "Data health", "/ui/health"),
)
ADMIN_NAV = (("users", "Users", "/ui/admin/users"), ("audit", "Audit log", "/ui/admin/audit"))


def _missing(value: Any) -> bool:
    # None, NaN (not equal to itself) and Jinja's Undefined all print as a dash.
    return value is None or isinstance(value, Undefined) or value != value


def number(value: Any, digits: int = 0) -> str:
    if _missing(value):
        return "–"
    return f"{float(value):,.{digits}f}"


def money(value: Any, currency: str = "", digits: int = 2) -> str:
    if _missing(value):
        return "–"
    return f"{float(value):,.{digits}f} {currency}".strip()


def percent(value: Any, digits: int = 1) -> str:
    if _missing(value):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def change(value: Any) -> str:
    if _missing(value):
        return ""
    return f"{'+' if value >= 0 else ''}{100 * float(value):.1f}%"


def moment(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)[:16].replace("T", " ")


def cell(value: Any) -> str:
    """A table cell of unknown type: integers and floats get separators, times get minutes."""
    if isinstance(value, bool) or value is None:
        return "–" if value is None else ("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return number(value, 2 if abs(value) < 1000 else 0)
    if isinstance(value, dt.date | dt.datetime):
        return moment(value)
    return str(value)


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(
        number=number, money=money, percent=percent, change=change, moment=moment, cell=cell
    )
    env.globals.update(NAV=NAV, ADMIN_NAV=ADMIN_NAV)
    return templates


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the signed-in session, its CSRF token and the workspace currency."""
    templates: Jinja2Templates = request.app.state.ui_templates
    session = getattr(request.state, "ui_session", None)
    ws = request.app.state.services.workspace
    base = {
        "request": request,
        "session": session,
        "user": session.user if session else None,
        "csrf_token": session.csrf_token if session else "",
        "currency": ws.settings.workspace.currency,
        "workspace_name": ws.settings.workspace.name,
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
