from __future__ import annotations

from argparse import Namespace

from cryptography.fernet import Fernet
from django.apps import apps
from django.db import transaction

from driftcontrol import audit
from driftcontrol.cli.base import Command, Console, Group, cli_actor
from driftcontrol.crypto import SealedTextField, reseal


def generate(options: Namespace, console: Console) -> int:
    console.print(Fernet.generate_key().decode())
    return 0


def rotate(options: Namespace, console: Console) -> int:
    """Re-encrypt every sealed value with the first key of FIELD_ENCRYPTION_KEYS."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        for model in apps.get_models():
            sealed = [f.name for f in model._meta.fields if isinstance(f, SealedTextField)]
            if not sealed:
                continue
            for row in model._default_manager.select_for_update():
                values = {name: getattr(row, name) for name in sealed if getattr(row, name)}
                if not values:
                    continue
                for name, value in values.items():
                    setattr(row, name, reseal(value, f"{model._meta.label} {row.pk} {name}"))
                row.save(update_fields=list(values))
                counts[model._meta.label] = counts.get(model._meta.label, 0) + 1
        audit.record(cli_actor(), "keys.rotated", None, {"rows": counts})
    total = sum(counts.values())
    console.success(
        f"re-encrypted {total} row(s) with the first key"
        + "".join(f"\n  {label}: {n}" for label, n in sorted(counts.items()))
    )
    console.print("Every value now opens with the first key; older keys can be removed.")
    return 0


GROUP = Group(
    "keys",
    "encryption keys for credentials at rest",
    [
        Command("generate", "print a new random key for FIELD_ENCRYPTION_KEYS", generate),
        Command("rotate", "re-encrypt stored credentials with the first key", rotate),
    ],
)
