"""`manage.py drift registry set|list|remove`: how scans reach the OCI registries they
verify images in (credentials sealed at rest, a CA per host)."""

from __future__ import annotations

import sys
from argparse import ArgumentParser, Namespace
from pathlib import Path

from alignment import registries
from alignment.models import RegistryCredential
from driftcontrol.cli.base import Command, Console, Group, cli_actor


def _set_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("host", help="as images name it: ghcr.io, registry.example:5000")
    parser.add_argument("--username", default="", help="for basic auth or a token service")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--password-file", type=Path, help="a file holding the password or token")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password or token from stdin"
    )
    parser.add_argument("--ca-file", type=Path, help="PEM CA certificates its TLS chains to")


def set_registry(options: Namespace, console: Console) -> int:
    try:
        password = (
            options.password_file.read_text().strip()
            if options.password_file
            else (sys.stdin.readline().strip() if options.password_stdin else "")
        )
        ca = options.ca_file.read_text() if options.ca_file else ""
        stored, created = registries.save(
            options.host, cli_actor(), username=options.username, password=password, ca_pem=ca
        )
    except (OSError, registries.BadRegistry) as error:
        console.warn(str(error))
        return 1
    console.success(f"registry {stored.host}: {'added' if created else 'changed'}")
    return 0


def list_registries(options: Namespace, console: Console) -> int:
    for stored in RegistryCredential.objects.all():
        said = [f"user {stored.username}" if stored.username else "anonymous"]
        said += ["password set"] if stored.password else []
        said += ["own CA"] if stored.ca_pem else []
        console.print(f"{stored.host}\t{', '.join(said)}")
    return 0


def remove_registry(options: Namespace, console: Console) -> int:
    if not registries.remove(options.host, cli_actor()):
        console.warn(f"no registry {options.host!r} is configured")
        return 1
    console.success(f"registry {options.host}: removed; scans reach it anonymously")
    return 0


GROUP = Group(
    "registry",
    "How scans reach the OCI registries images are verified in",
    [
        Command("set", "store a host's credentials and CA", set_registry, _set_arguments),
        Command("list", "the hosts configured (never their secrets)", list_registries),
        Command(
            "remove", "forget a host's settings", remove_registry, lambda p: p.add_argument("host")
        ),
    ],
)
