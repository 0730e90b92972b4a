"""Changing what a person chooses for themselves, audited like any other change."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from driftcontrol import audit
from driftcontrol.exceptions import DomainError
from driftcontrol.models import Preferences
from driftcontrol.models.preferences import validate_time_zone


def time_zone_of(user: AbstractBaseUser) -> str:
    """The user's chosen zone name; "" means the server's TIME_ZONE."""
    chosen = Preferences.objects.filter(user=user.pk).values_list("time_zone", flat=True).first()
    return chosen or ""


def choose_time_zone(user: AbstractBaseUser, name: str) -> bool:
    """Store `name` ("" for the server's zone) as the user's time zone; False when it
    already was. An unknown name is refused (DomainError) before anything is written."""
    name = name.strip()
    try:
        validate_time_zone(name)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages)) from None
    with transaction.atomic():
        # Locked, so two tabs saving at once each audit the change they really made.
        preferences, _ = Preferences.objects.select_for_update().get_or_create(user=user)
        before = preferences.time_zone
        if before == name:
            return False
        preferences.time_zone = name
        preferences.save(update_fields=["time_zone"])
        audit.record(
            user, "preferences.time_zone_changed", preferences, {"from": before, "to": name}
        )
    return True
