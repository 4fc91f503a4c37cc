"""Templates (sandbox, strict values with defaults, languages), definitions, and signed links."""

from __future__ import annotations

import datetime as dt

import pytest

from cvm.campaigns.campaign import parse_campaign, parse_duration
from cvm.campaigns.outbox import idempotency_key, product_list
from cvm.campaigns.templates import CampaignTemplates, RenderError, message_context, pick_language
from cvm.campaigns.tracking import (
    LinkSigner,
    add_open_pixel,
    ensure_unsubscribe_html,
    rewrite_links,
    unsubscribe_headers,
)
from cvm.core.errors import UserInputError


def campaign(content: dict[str, object], **extra: object):  # type: ignore[no-untyped-def]
    return parse_campaign(
        {
            "id": "t",
            "name": "T",
            "audience": {"segment": "s"},
            "channels": ["email"],
            "content": {"email": content},
            **extra,
        }  # fmt: skip
    )


def test_defaults_fill_missing_values_and_missing_without_default_fails() -> None:
    t = CampaignTemplates(campaign({"en": {"subject": "Hi {{ first_name | default('there') }}",
                                           "html": "<p>{{ first_name }} &amp; {{ note }}</p>"}}))  # fmt: skip
    ctx = message_context({"first_name": None, "note": "<b>x</b>"})
    with pytest.raises(RenderError, match="'first_name' is undefined"):
        t.render("email", "en", ctx)
    ok = t.render("email", "en", message_context({"first_name": "Ann", "note": "<b>x</b>"}))
    assert ok.subject == "Hi Ann"
    assert ok.html == "<p>Ann &amp; &lt;b&gt;x&lt;/b&gt;</p>"  # HTML is escaped, subjects are not


def test_the_sandbox_refuses_attribute_tricks() -> None:
    t = CampaignTemplates(campaign({"en": {"subject": "x", "text": "{{ ''.__class__.__mro__ }}"}}))
    with pytest.raises(RenderError):
        t.render("email", "en", {})
    mutate = CampaignTemplates(
        campaign({"en": {"subject": "x", "text": "{{ products.append(1) }}"}})
    )
    with pytest.raises(RenderError):
        mutate.render("email", "en", {"products": []})


def test_syntax_errors_are_refused_at_creation() -> None:
    with pytest.raises(UserInputError, match=r"content\.email\.en\.subject: line 1"):
        CampaignTemplates(campaign({"en": {"subject": "{{ oops", "text": "x"}}))


def test_language_fallback() -> None:
    variants = {"en": 1, "pt": 2, "pt-BR": 3}
    assert pick_language(variants, "pt-BR", "en") == "pt-BR"
    assert pick_language(variants, "pt-PT", "en") == "pt"
    assert pick_language(variants, "de", "en") == "en"
    assert pick_language(variants, None, "en") == "en"


def test_products_offer_and_event_reach_the_template() -> None:
    t = CampaignTemplates(
        campaign(
            {
                "en": {
                    "subject": "{{ offer.name }}",
                    "text": "{% for p in products %}{{ p.name }} {{ p.price | money('EUR') }};{% endfor %}"
                    " {{ event.properties.value }}",
                }
            }
        )  # fmt: skip
    )
    catalogue = {"p1": {"id": "p1", "name": "Tea", "price": 3.5}}
    ctx = message_context(
        {"customer_id": "c"}, products=product_list('["p1", "p9"]', catalogue),
        offer={"name": "10% off"}, event={"name": "cart", "properties": {"value": 80}},
    )  # fmt: skip
    out = t.render("email", "en", ctx)
    assert out.subject == "10% off"
    assert out.text == "Tea 3.50 EUR; 80"


def test_definition_shorthands_and_checks() -> None:
    c = parse_campaign(
        {
            "id": "cart",
            "name": "Cart",
            "channels": ["sms", "email"],
            "trigger": {
                "event": "cart_abandoned",
                "delay": "90m",
                "unless": "order_completed",
                "reentry": {"every_days": 7},
            },
            "content": {
                "sms": {"en": {"text": "x"}},
                "email": {"en": {"subject": "s", "text": "t"}},
            },
            "schedule": {"every": "weekly", "days": ["mon"], "time": "09:30"},
        }  # fmt: skip
    )
    assert c.trigger is not None and c.trigger.delay == dt.timedelta(minutes=90)
    assert c.trigger.unless is not None and c.trigger.unless.event == "order_completed"
    assert parse_duration("2d") == dt.timedelta(days=2) and parse_duration("PT1H") == dt.timedelta(
        hours=1
    )
    with pytest.raises(UserInputError, match="either an audience"):
        parse_campaign(
            {"id": "x", "name": "x", "channels": ["sms"], "content": {"sms": {"en": {"text": "t"}}}}
        )
    with pytest.raises(UserInputError, match="content.sms: no template"):
        parse_campaign(
            {
                "id": "x",
                "name": "x",
                "audience": {"segment": "s"},
                "channels": ["sms"],
                "content": {},
            }
        )
    with pytest.raises(UserInputError, match="unknown channel"):
        parse_campaign({"id": "x", "name": "x", "audience": {"segment": "s"}, "channels": ["fax"],
                        "content": {"fax": {"en": {"text": "t"}}}})  # fmt: skip


def test_signed_links_cannot_be_forged_or_reused_for_another_kind() -> None:
    signer = LinkSigner(b"secret", "https://t.example")
    click = signer.click_url("k1", "https://shop.example/x?a=1")
    token = click.rsplit("/", 1)[1]
    assert signer.verify("c", token) == {"k": "k1", "u": "https://shop.example/x?a=1"}
    assert signer.verify("u", token) is None  # a click token is not an unsubscribe token
    assert LinkSigner(b"other", "https://t.example").verify("c", token) is None
    body, tag = token.split(".")
    evil = LinkSigner(b"guess", "").sign("c", {"k": "k1", "u": "https://evil.example"})
    assert signer.verify("c", evil.split(".")[0] + "." + tag) is None
    assert signer.verify("c", body + "." + tag[:-1] + ("A" if tag[-1] != "A" else "B")) is None
    assert signer.verify("c", "garbage") is None


def test_email_tracking_rewrites_links_adds_pixel_unsubscribe_and_headers() -> None:
    signer = LinkSigner(b"s", "https://t.example")
    html = "<html><body><a href=\"https://shop.example/a?x=1&amp;y=2\">A</a><a href='mailto:x@y'>m</a></body></html>"
    out = rewrite_links(html, signer, "k")
    assert "https://shop.example/a" not in out and "mailto:x@y" in out
    token = out.split("/t/c/")[1].split('"')[0]
    assert signer.verify("c", token)["u"] == "https://shop.example/a?x=1&y=2"  # type: ignore[index]
    out = ensure_unsubscribe_html(
        add_open_pixel(out, signer.open_url("k")), "https://t.example/u/z"
    )
    assert out.index("/t/o/") < out.index("</body>") and "https://t.example/u/z" in out
    headers = unsubscribe_headers("https://t.example/u/z", "unsub@shop.example")
    assert headers["List-Unsubscribe"].startswith("<https://t.example/u/z>, <mailto:")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_idempotency_key_is_stable_and_distinct() -> None:
    assert idempotency_key("c", "u", "launch") == idempotency_key("c", "u", "launch")
    assert (
        len({idempotency_key("c", "u", s) for s in ("launch", "day:2025-01-01", "event:e1")}) == 3
    )
