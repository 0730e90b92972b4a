from __future__ import annotations

import secrets
import sys
from argparse import ArgumentParser, Namespace

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from driftcontrol import audit
from driftcontrol.cli.base import Command, Console, Group, cli_actor
from driftcontrol.permissions import Role, role_of, set_role


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name", help="the login name")
    parser.add_argument("--role", required=True, choices=Role.values)
    parser.add_argument("--email", default="")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )


def add(options: Namespace, console: Console) -> int:
    User = get_user_model()
    if User.objects.filter(username=options.name).exists():
        raise CommandError(
            f"user {options.name!r} already exists; change their role with `drift user set-role`"
        )
    generated = not options.password_stdin
    password = secrets.token_urlsafe(12) if generated else sys.stdin.readline().rstrip("\n")
    user = User(username=options.name, email=options.email)
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise CommandError("password refused: " + " ".join(error.messages)) from None
    with transaction.atomic():
        user.set_password(password)
        user.save()
        set_role(user, options.role)
        audit.record(cli_actor(), "user.created", user, {"role": options.role})
    console.success(f"created {options.name} ({options.role})")
    if generated:
        console.print(f"password: {password}")
    return 0


def set_role_command(options: Namespace, console: Console) -> int:
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=options.name).first()
        if user is None:
            raise CommandError(f"no user named {options.name!r}")
        before = role_of(user)
        set_role(user, options.role)
        audit.record(cli_actor(), "user.role_changed", user, {"from": before, "to": options.role})
    console.success(f"{options.name} is now {options.role}")
    return 0


def list_users(options: Namespace, console: Console) -> int:
    User = get_user_model()
    users = User.objects.order_by("username").prefetch_related("groups")
    console.print(f"{'USER':<24} {'ROLE':<10} ACTIVE")
    for user in users:
        console.print(
            f"{user.get_username():<24} {role_of(user) or '-':<10} "
            f"{'yes' if user.is_active else 'no'}"
        )
    return 0


GROUP = Group(
    "user",
    "people who use DriftControl and their roles",
    [
        Command(
            "add", "create a user with a role (prints a generated password)", add, _add_arguments
        ),
        Command(
            "set-role",
            "give an existing user another role",
            set_role_command,
            lambda p: (p.add_argument("name"), p.add_argument("role", choices=Role.values)),
        ),
        Command("list", "list users and their roles", list_users),
    ],
)
