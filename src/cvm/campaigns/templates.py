"""Message templates: Jinja2 in an immutable sandbox, strict about missing values.

Templates run in `jinja2.sandbox.ImmutableSandboxedEnvironment` (no attribute tricks, no
mutation of the context) with `StrictUndefined`: a value that is missing must be given a
fallback in the template — ``{{ first_name | default("there") }}`` — or rendering that message
fails with the reason and the message is dead-lettered; the campaign goes on. HTML templates
are auto-escaped, subjects and text are not.

The context of one message: every `customer_360` column that has a value as a top-level name
(``first_name``, ``clv``, ``churn_propensity``, ``city`` …; missing values are absent, so
``default`` applies), ``customer`` (the same as a mapping), ``products`` (recommended products,
best first: ``id``, ``name``, ``category``, ``price``), ``offer`` (the offer's fields),
``event`` (the triggering event's ``name`` and ``properties``), ``campaign`` (``id``,
``name``) and ``unsubscribe_url``.

Language: the customer's ``language`` (``pt-BR``), then its primary subtag (``pt``), then the
campaign's default language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from cvm.campaigns.campaign import Campaign
from cvm.core.errors import UserInputError


def _money(value: object, currency: str = "") -> str:
    try:
        amount = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    text = f"{amount:,.2f}"
    return f"{text} {currency}".strip()


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True
    )
    env.filters["money"] = _money
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


@dataclass(frozen=True)
class Compiled:
    subject: Template | None
    text: Template | None
    html: Template | None


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str | None
    html: str | None
    language: str


class RenderError(Exception):
    """A template failed for one message (missing value, sandbox violation, bad filter)."""


def pick_language(available: Mapping[str, object], wanted: str | None, default: str) -> str:
    if wanted:
        tag = str(wanted).strip()
        if tag in available:
            return tag
        primary = tag.split("-")[0].split("_")[0].lower()
        for lang in available:
            if lang.lower() == primary:
                return lang
    return default


class CampaignTemplates:
    """Every variant of a campaign, compiled once (syntax errors are found at creation)."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self._compiled: dict[tuple[str, str], Compiled] = {}
        self.names: set[str] = set()  # top-level names the templates read
        for channel, variants in campaign.content.items():
            for lang, content in variants.items():
                where = f"campaign {campaign.id!r}: content.{channel}.{lang}"
                for source in (content.subject, content.text, content.html):
                    if source is not None:
                        try:
                            self.names |= meta.find_undeclared_variables(TEXT_ENV.parse(source))
                        except TemplateSyntaxError:
                            pass  # reported with its place by _compile below
                self._compiled[(channel, lang)] = Compiled(
                    self._compile(TEXT_ENV, content.subject, f"{where}.subject"),
                    self._compile(TEXT_ENV, content.text, f"{where}.text"),
                    self._compile(HTML_ENV, content.html, f"{where}.html"),
                )

    @staticmethod
    def _compile(
        env: ImmutableSandboxedEnvironment, source: str | None, where: str
    ) -> Template | None:
        if source is None:
            return None
        try:
            return env.from_string(source)
        except TemplateSyntaxError as err:
            raise UserInputError(f"{where}: line {err.lineno}: {err.message}") from None

    def language_for(self, channel: str, wanted: str | None) -> str:
        return pick_language(self.campaign.content[channel], wanted, self.campaign.default_language)

    def render(self, channel: str, language: str | None, context: Mapping[str, Any]) -> Rendered:
        lang = self.language_for(channel, language)
        compiled = self._compiled[(channel, lang)]
        try:
            return Rendered(
                _render(compiled.subject, context).strip() if compiled.subject else None,
                _render(compiled.text, context) if compiled.text else None,
                _render(compiled.html, context) if compiled.html else None,
                lang,
            )
        except TemplateError as err:
            raise RenderError(f"template content.{channel}.{lang}: {err.message or err}") from None
        except (ArithmeticError, TypeError, ValueError) as err:
            raise RenderError(
                f"template content.{channel}.{lang}: {type(err).__name__}: {err}"
            ) from None


def _render(template: Template, context: Mapping[str, Any]) -> str:
    # `Template.render` copies the context and the globals into a new dict for every call;
    # `message_context` already holds the globals, so the three parts share one dict.
    vars_ = context if isinstance(context, dict) else dict(context)
    if "range" not in vars_:
        vars_ = {**TEXT_ENV.globals, **vars_}
    return str(
        template.environment.concat(
            template.root_render_func(template.new_context(vars_, shared=True))
        )
    )  # type: ignore[attr-defined]


def message_context(
    profile: Mapping[str, Any],
    *,
    products: list[dict[str, Any]] | None = None,
    offer: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
    campaign: Campaign | None = None,
    unsubscribe_url: str = "",
) -> dict[str, Any]:
    """The names a template sees (see the module docstring); None values are left out."""
    fields = {k: v for k, v in profile.items() if v is not None}
    if isinstance(fields.get("traits"), str):  # the JSON column, as a mapping for templates
        try:
            fields["traits"] = json.loads(fields["traits"])
        except ValueError:
            fields.pop("traits")
    context: dict[str, Any] = {**TEXT_ENV.globals, **fields}
    context["customer"] = fields
    context["products"] = products or []
    if offer is not None:
        context["offer"] = dict(offer)
    if event is not None:
        context["event"] = dict(event)
    if campaign is not None:
        context["campaign"] = {"id": campaign.id, "name": campaign.name}
    context["unsubscribe_url"] = unsubscribe_url
    return context
