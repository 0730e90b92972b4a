"""`manage.py drift token create|list|revoke`: API tokens from a shell on the server."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from driftcontrol import tokens
from driftcontrol.cli.base import Command, Console, Group, cli_actor
from driftcontrol.models import ApiToken, TokenScope


def _create_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="whose token it is")
    parser.add_argument("--scope", required=True, choices=TokenScope.values)
    parser.add_argument("--name", default="", help="what uses it (default: cli)")
    parser.add_argument(
        "--expires", default="90d", help="lifetime: 90d, 12h, 2w, or never (default 90d)"
    )


def create(options: Namespace, console: Console) -> int:
    user = get_user_model().objects.filter(username=options.user).first()
    if user is None:
        raise CommandError(f"no user named {options.user!r}")
    lifetime = tokens.parse_lifetime(options.expires)
    token, raw = tokens.create(user, options.name or "cli", options.scope, lifetime, cli_actor())
    console.warn(
        f"token #{token.pk} for {user.get_username()} (scope {token.scope}, "
        f"expires {token.expires_at or 'never'}); shown once, store it now:"
    )
    console.print(raw)  # stdout holds the token alone, for TOKEN=$(... drift token create ...)
    return 0


def _list_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--user", help="only this user's tokens")
    parser.add_argument("--all", action="store_true", help="include revoked and expired ones")


def list_tokens(options: Namespace, console: Console) -> int:
    found = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
    if options.user:
        found = found.filter(user__username=options.user)
    if not options.all:
        found = found.usable()
    console.print(
        f"{'ID':>5} {'USER':<16} {'NAME':<20} {'SCOPE':<8} {'PREFIX':<13} "
        f"{'EXPIRES':<17} {'LAST USED':<17} STATE"
    )
    for token in found:
        state = "revoked" if token.revoked_at else "usable" if token.is_usable else "expired"
        console.print(
            f"{token.pk:>5} {token.user.get_username():<16} {token.name[:20]:<20} "
            f"{token.scope:<8} {token.prefix:<13} {_when(token.expires_at):<17} "
            f"{_when(token.last_used_at):<17} {state}"
        )
    return 0


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"  # type: ignore[attr-defined]


def revoke(options: Namespace, console: Console) -> int:
    token = tokens.revoke(options.id, cli_actor())
    console.success(f"revoked token #{token.pk} ({token.prefix}…) of {token.user.get_username()}")
    return 0


GROUP = Group(
    "token",
    "API tokens (Authorization: Bearer ...)",
    [
        Command("create", "make a token; prints it once on stdout", create, _create_arguments),
        Command("list", "list tokens (usable ones unless --all)", list_tokens, _list_arguments),
        Command(
            "revoke",
            "revoke a token at once",
            revoke,
            lambda p: p.add_argument("id", type=int, help="the token's id (see list)"),
        ),
    ],
)
