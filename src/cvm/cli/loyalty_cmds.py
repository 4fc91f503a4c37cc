"""`cvm loyalty ...`: members, points, rewards, referrals (rules and tiers add their own).

enroll | balance | statement | post | reverse | expire | redeem | rewards list|load |
referrals list|code|qualify. Times are naive UTC (``2024-05-01`` or ``2024-05-01T10:30:00``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from cvm.cli.options import JsonOpt, WorkspaceOpt
from cvm.cli.output import console, print_json, print_mapping, print_table
from cvm.core.errors import ConflictError, UserInputError

if TYPE_CHECKING:
    from cvm.state.loyalty_book import Kind

loyalty_app = typer.Typer(
    help="Loyalty programme: members, points, rewards, referrals.", no_args_is_help=True
)
rewards_app = typer.Typer(help="The rewards catalogue.", no_args_is_help=True)
referrals_app = typer.Typer(help="Referral codes and referrals.", no_args_is_help=True)
loyalty_app.add_typer(rewards_app, name="rewards")
loyalty_app.add_typer(referrals_app, name="referrals")

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
AtOpt = Annotated[
    dt.datetime | None,
    typer.Option("--at", help="When it happened (UTC; default: now).", formats=_FORMATS),
]
CustomerArg = Annotated[str, typer.Argument(help="Customer id.")]


def _now(at: dt.datetime | None) -> dt.datetime:
    return at if at is not None else dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _report(report: Any, as_json: bool) -> None:
    """Print a PostReport; a rejected posting is an error (exit code 2) naming key and reason."""
    data = {"posted": report.posted, "duplicates": report.duplicates, "rejected": report.rejected}
    if as_json:
        print_json(data)
    else:
        console.print(f"posted {report.posted}, already posted {report.duplicates}")
    if report.rejected:
        key, reason = report.rejected[0]
        raise ConflictError(f"posting {key!r} rejected: {reason}")


@loyalty_app.command("enroll")
def enroll(
    customer_id: CustomerArg,
    at: AtOpt = None,
    referral_code: Annotated[
        str | None, typer.Option("--referral-code", help="The referrer's code.")
    ] = None,
    email: Annotated[str | None, typer.Option(help="E-mail given at sign-up.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone given at sign-up.")] = None,
    device: Annotated[str | None, typer.Option(help="Device / anonymous id.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enroll a customer (with a referral code: recorded, fraud-checked, rewarded later)."""
    from cvm.loyalty.members import open_ledger
    from cvm.loyalty.referrals import ReferralProgramme
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        ledger = open_ledger(ws)
        result: dict[str, Any] = {"customer_id": customer_id}
        if referral_code:
            given = {"email": email, "phone": phone, "anonymous_id": device}
            identifiers = {k: v for k, v in given.items() if v}
            outcome = ReferralProgramme(ledger).enroll(
                customer_id, referral_code, _now(at), identifiers
            )
            result |= {"enrolled": True, "referrer": outcome.referrer_id}
            result |= {"referral_status": outcome.status, "referral_reason": outcome.reason}
        else:
            result["enrolled"] = ledger.enroll(customer_id, _now(at))
        account = ledger.account(customer_id)
        result["referral_code"] = account["referral_code"] if account else None
    if as_json:
        print_json(result)
    elif not result["enrolled"]:
        console.print(f"{customer_id} is already a member")
    else:
        print_mapping("enrolled", result)


@loyalty_app.command("balance")
def balance(
    customer_id: CustomerArg,
    soon_days: Annotated[int, typer.Option(help="'Expiring soon' horizon in days.")] = 30,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A member's balance, totals and points expiring soon."""
    from cvm.loyalty.members import member_view, open_ledger
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        view = member_view(open_ledger(ws), customer_id, _now(None), soon_days, recent=0)
    view.pop("recent_entries")
    expiring = view.pop("expiring_soon")
    if as_json:
        print_json({**view, "expiring_soon": expiring})
        return
    print_mapping(f"loyalty member {customer_id}", view)
    if expiring:
        print_table(f"expiring within {soon_days} days", expiring, ["points", "expires_at"])


@loyalty_app.command("statement")
def statement(
    customer_id: CustomerArg,
    limit: Annotated[int, typer.Option(help="Latest entries to show.")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A member's ledger entries, newest first."""
    from cvm.loyalty.members import member_view, open_ledger
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        view = member_view(open_ledger(ws), customer_id, _now(None), recent=limit)
    rows = view["recent_entries"]
    if as_json:
        print_json(rows)
    else:
        columns = ["at", "kind", "points", "reason", "reference", "key"]
        print_table(f"statement of {customer_id} (balance {view['balance']:,})", rows, columns)


# ignore_unknown_options: so a negative amount (-500) is read as POINTS, not as an option.
@loyalty_app.command("post", context_settings={"ignore_unknown_options": True})
def post(
    customer_id: CustomerArg,
    points: Annotated[int, typer.Argument(help="Signed points: + credits the member.")],
    kind: Annotated[str, typer.Option(help="earn, redeem or adjust.")] = "adjust",
    key: Annotated[str | None, typer.Option(help="Idempotency key (default: random).")] = None,
    reason: Annotated[str, typer.Option(help="Why (shown on the statement).")] = "manual",
    expires: Annotated[
        dt.datetime | None, typer.Option(help="Expiry of earned points.", formats=_FORMATS)
    ] = None,
    at: AtOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post one entry by hand (an adjustment by default); a rejection exits with code 2."""
    from cvm.loyalty.members import open_ledger
    from cvm.state.loyalty_ledger import Posting
    from cvm.workspace import open_workspace

    if kind not in ("earn", "redeem", "adjust"):
        raise UserInputError(f"--kind must be earn, redeem or adjust, not {kind!r}")
    posting = Posting(
        key or f"manual:{uuid.uuid4().hex}", customer_id, cast("Kind", kind), points, _now(at),
        reason, expires_at=expires,
    )  # fmt: skip
    with open_workspace(workspace) as ws:
        report = open_ledger(ws).post([posting])
    _report(report, as_json)


@loyalty_app.command("reverse")
def reverse(
    key: Annotated[str, typer.Argument(help="Key of the posting to reverse.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "manual reversal",
    at: AtOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reverse a posting by a new entry (reversing twice does nothing)."""
    from cvm.loyalty.members import open_ledger
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        report = open_ledger(ws).reverse(key, _now(at), reason)
    _report(report, as_json)


@loyalty_app.command("expire")
def expire(
    as_of: Annotated[
        dt.datetime | None,
        typer.Option("--as-of", help="Expire lots due by then (default: now).", formats=_FORMATS),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Expire earned points whose expiry date has passed (first in, first out)."""
    from cvm.loyalty.members import open_ledger
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        report = open_ledger(ws).expire(_now(as_of))
    _report(report, as_json)


@loyalty_app.command("redeem")
def redeem(
    customer_id: CustomerArg,
    reward_id: Annotated[str, typer.Argument(help="Reward id.")],
    key: Annotated[str | None, typer.Option(help="Idempotency key (default: random).")] = None,
    at: AtOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Redeem a reward for a member: points and stock in one transaction."""
    from cvm.loyalty.members import open_catalogue
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        catalogue, tier_check = open_catalogue(ws)
        done = catalogue.redeem(
            customer_id, reward_id, key or f"redeem:{uuid.uuid4().hex}", _now(at), tier_check
        )
        left = catalogue.ledger.balance(customer_id)
    data = {**done.__dict__, "balance": left}
    if as_json:
        print_json(data)
    else:
        word = "already redeemed" if done.duplicate else "redeemed"
        console.print(
            f"{word} {reward_id} for {customer_id}: -{done.points:,} points, {left:,} left"
        )


@rewards_app.command("list")
def rewards_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The catalogue with remaining stock and availability now."""
    from cvm.loyalty.members import open_catalogue
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = open_catalogue(ws)[0].rewards()
    if as_json:
        print_json(rows)
        return
    for row in rows:
        row["stock"] = "unlimited" if row["stock"] is None else row["stock"]
    columns = ["id", "name", "points_cost", "stock", "redeemed", "tier", "valid_from", "valid_to"]
    print_table("rewards", rows, [*columns, "available"])


@rewards_app.command("load")
def rewards_load(
    file: Annotated[Path, typer.Argument(help="Catalogue YAML (see docs/loyalty.md).")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add or update rewards from a YAML file (stock = total units ever issued)."""
    from cvm.loyalty.catalogue import load_catalogue
    from cvm.loyalty.members import open_catalogue
    from cvm.workspace import open_workspace

    rewards = load_catalogue(file)
    with open_workspace(workspace) as ws:
        counts = open_catalogue(ws)[0].load(rewards)
    if as_json:
        print_json(counts)
    else:
        console.print(f"rewards: {counts['added']} added, {counts['updated']} updated")


@referrals_app.command("list")
def referrals_list(
    referrer: Annotated[str | None, typer.Option(help="Only this referrer's.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, qualified or rejected.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Referrals with their status and the fraud guard's reason."""
    from cvm.state.loyalty_referrals import ReferralStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        rows = ReferralStore(ws.state).list(referrer, status)
    if as_json:
        print_json(rows)
    else:
        columns = ["referee_id", "referrer_id", "status", "reason", "enrolled_at", "qualified_at"]
        print_table("referrals", rows, columns)


@referrals_app.command("code")
def referrals_code(
    customer_id: CustomerArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False
) -> None:
    """A member's referral code."""
    from cvm.core.errors import NotFoundError
    from cvm.state.loyalty_referrals import ReferralStore
    from cvm.workspace import open_workspace

    with open_workspace(workspace) as ws:
        code = ReferralStore(ws.state).code_of(customer_id)
    if code is None:
        raise NotFoundError(f"customer {customer_id!r} is not a loyalty member")
    if as_json:
        print_json({"customer_id": customer_id, "referral_code": code})
    else:
        print(code)


@referrals_app.command("qualify")
def referrals_qualify(
    referee_id: Annotated[str, typer.Argument(help="The referred customer.")],
    amount: Annotated[float, typer.Argument(help="Their first purchase amount.")],
    order: Annotated[str | None, typer.Option(help="Order reference.")] = None,
    min_purchase: Annotated[float, typer.Option(help="Minimum first purchase.")] = 20.0,
    referrer_points: Annotated[int, typer.Option(help="Points for the referrer.")] = 500,
    referee_points: Annotated[int, typer.Option(help="Points for the new member.")] = 250,
    monthly_cap: Annotated[int, typer.Option(help="Rewarded referrals per referrer/month.")] = 10,
    at: AtOpt = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report a referred customer's first purchase: rewards both once if it qualifies."""
    from cvm.loyalty.members import open_ledger
    from cvm.loyalty.referrals import ReferralProgramme, ReferralRules
    from cvm.workspace import open_workspace

    rules = ReferralRules(referrer_points, referee_points, min_purchase, monthly_cap)
    with open_workspace(workspace) as ws:
        outcome = ReferralProgramme(open_ledger(ws), rules).qualify(
            referee_id, amount, _now(at), order
        )
    if as_json:
        print_json(outcome.__dict__)
    else:
        print_mapping(f"referral of {referee_id}", outcome.__dict__)
