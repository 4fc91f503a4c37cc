"""Options naming one person: a customer id argument or one identifier option."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cvm.core.errors import UserInputError

if TYPE_CHECKING:
    from cvm.identity.profile_lookup import LookupKey

CustomerArg = Annotated[str | None, typer.Argument(help="Customer id.", show_default=False)]
EmailOpt = Annotated[str | None, typer.Option("--email", help="Find by e-mail.")]
UserOpt = Annotated[str | None, typer.Option("--user-id", help="Find by user id.")]
PhoneOpt = Annotated[str | None, typer.Option("--phone", help="Find by phone.")]
AnonOpt = Annotated[str | None, typer.Option("--anonymous-id", help="Find by anonymous id.")]


def lookup_key(
    customer_id: str | None,
    email: str | None = None,
    user_id: str | None = None,
    phone: str | None = None,
    anonymous_id: str | None = None,
) -> LookupKey:
    given = {
        "customer_id": customer_id, "email": email, "user_id": user_id, "phone": phone,
        "anonymous_id": anonymous_id,
    }  # fmt: skip
    from cvm.identity.profile_lookup import LookupKey

    named = [(k, v) for k, v in given.items() if v]
    if len(named) != 1:
        raise UserInputError(
            "name one person: a customer id, or one of --email, --user-id, --phone, --anonymous-id"
        )
    return LookupKey(*named[0])
