"""`totaldemand keys ...`: API keys, for operators on the server's machine."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from totaldemand.cli.common import open_services, out, user_errors
from totaldemand.settings import load_settings

keys_app = typer.Typer(help="API keys (operators, on the server's machine).", no_args_is_help=True)


@keys_app.command("create")
@user_errors
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    role: Annotated[str, typer.Option(help="reader, analyst or admin.")] = "reader",
    partner: Annotated[list[str] | None, typer.Option(help="Limit the key to this partner; repeat.")] = None,
) -> None:
    """Create a key and print its token (shown once; only its hash is stored)."""
    from service.auth import create_key

    issued = create_key(open_services(load_settings()).engine, name, role, partner)
    out.print(issued.token, highlight=False)


@keys_app.command("list")
@user_errors
def keys_list() -> None:
    """Every key: id, name, role, partner scope, when created and revoked (never a token)."""
    from service.auth import list_keys

    for key in list_keys(open_services(load_settings()).engine):
        out.print(json.dumps(key), highlight=False, soft_wrap=True)


@keys_app.command("revoke")
@user_errors
def keys_revoke(key_id: str) -> None:
    """Revoke a key: it is refused from the next request on."""
    from service.auth import revoke_key

    revoke_key(open_services(load_settings()).engine, key_id)
