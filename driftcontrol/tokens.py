"""API tokens: create (shown once), authenticate, revoke, and what a token's scope allows.

A token is `dct_` followed by 43 url-safe characters (256 bits from `secrets`); only its
SHA-256 digest is stored, so a database leak yields no usable token. A slow hash would
add nothing against guessing 256 random bits and would cost every API call.

A token never carries more than its user: the effective permission of a call is the
intersection of the token's scope (`scope_allows`) and the user's role
(`driftcontrol.permissions`), re-evaluated on every call, so lowering a role takes
effect at once on every token the user holds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from driftcontrol import audit
from driftcontrol.exceptions import DomainError, NotFound
from driftcontrol.models import ApiToken, TokenScope
from driftcontrol.permissions import Action, Role, check, may, role_of

PREFIX = "dct_"
SHOWN_PREFIX_LENGTH = 12
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
_NAME_LENGTH = ApiToken._meta.get_field("name").max_length or 100
# Writing last_used_at on every call would turn each read into a write; a minute is
# precise enough to tell a live token from a forgotten one.
LAST_USED_PRECISION = timedelta(seconds=60)

_READ = frozenset({Action.VIEW, Action.VIEW_AUDIT})
_WRITE = _READ | {
    Action.RUN_SCAN,
    Action.TRIAGE_FINDING,
    Action.REQUEST_REMEDIATION,
    Action.CANCEL_REMEDIATION,
}
_APPROVE = _WRITE | {Action.DECIDE_REMEDIATION, Action.UNPIN_OBJECT}
SCOPE_ACTIONS: dict[str, frozenset[Action]] = {
    TokenScope.READ: _READ,
    TokenScope.WRITE: frozenset(_WRITE),
    TokenScope.APPROVE: frozenset(_APPROVE),
    # Managing tokens needs this scope too: a leaked narrow token cannot mint wider ones.
    TokenScope.ADMIN: frozenset(Action),
}
# The widest scope each role may hold.
ROLE_SCOPE = {
    Role.VIEWER: TokenScope.READ,
    Role.OPERATOR: TokenScope.WRITE,
    Role.APPROVER: TokenScope.APPROVE,
    Role.ADMIN: TokenScope.ADMIN,
}
SCOPE_ORDER = list(TokenScope)


def scope_allows(scope: str, action: Action | str) -> bool:
    return Action(action) in SCOPE_ACTIONS.get(scope, frozenset())


def scope_why_not(scope: str, action: Action | str) -> str | None:
    action = Action(action)
    if scope_allows(scope, action):
        return None
    return f"this token's scope ({scope}) does not allow to {action.label}"


def widest_scope(user: Any) -> str | None:
    role = role_of(user)
    return ROLE_SCOPE[role] if role is not None else None


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


_DURATION = re.compile(r"^(\d+)([dhw])$")


def parse_lifetime(text: str) -> timedelta | None:
    """'90d', '12h', '2w' -> a timedelta; 'never' -> None."""
    if text.strip().lower() == "never":
        return None
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise DomainError(f"expiry {text!r}: use a number of days, hours or weeks (90d, 12h, 2w)")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: amount})


def create(
    user: Any,
    name: str,
    scope: str,
    lifetime: timedelta | None = DEFAULT_LIFETIME,
    actor: Any = None,
) -> tuple[ApiToken, str]:
    """Make a token for ``user``; the plain token is returned here and never again.

    ``actor`` is who asks (a user, or a "cli:..." string); a user may only make their own
    tokens, the command line on the server any user's.
    """
    actor = user if actor is None else actor
    if not isinstance(actor, str):
        check(actor, Action.MANAGE_OWN_TOKENS)
        if actor.pk != user.pk:
            raise DomainError("tokens are personal: sign in as the user the token is for")
    if scope not in TokenScope.values:
        raise DomainError(f"unknown scope {scope!r}; use {', '.join(TokenScope.values)}")
    widest = widest_scope(user)
    if widest is None:
        raise DomainError(f"{user.get_username()} has no DriftControl role; give them one first")
    allowed = SCOPE_ORDER[: SCOPE_ORDER.index(TokenScope(widest)) + 1]
    if TokenScope(scope) not in allowed:
        raise DomainError(
            f"{user.get_username()} is a {role_of(user)}: their tokens may have scope "
            + ", ".join(s.value for s in allowed)
        )
    if not name.strip():
        raise DomainError("name the token after what uses it (e.g. jira-sync)")
    if len(name.strip()) > _NAME_LENGTH:
        raise DomainError(f"a token's name has at most {_NAME_LENGTH} characters")
    if lifetime is not None and not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise DomainError(f"a token may live at most {MAX_LIFETIME.days} days")
    raw = PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip(),
            scope=scope,
            prefix=raw[:SHOWN_PREFIX_LENGTH],
            digest=digest(raw),
            created_at=now,
            created_by=actor if isinstance(actor, str) else actor.get_username(),
            expires_at=now + lifetime if lifetime is not None else None,
        )
        audit.record(
            actor,
            "token.created",
            token,
            {"user": user.get_username(), "scope": scope, "expiresAt": token.expires_at},
        )
    return token, raw


def authenticate(raw: str) -> ApiToken | None:
    """The usable token matching ``raw`` (with its user), or None."""
    if not raw.startswith(PREFIX):
        return None
    token = ApiToken.objects.usable().select_related("user").filter(digest=digest(raw)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def visible_to(user: Any) -> QuerySet[ApiToken]:
    """A user's own tokens; admins (who manage users) see everyone's."""
    tokens = ApiToken.objects.select_related("user")
    return tokens if may(user, Action.MANAGE_USERS) else tokens.filter(user=user)


def revoke(token_id: int, actor: Any) -> ApiToken:
    """Revoke a token at once (safe to repeat). Users revoke their own; admins anyone's."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").filter(pk=token_id)
        found = token.first()
        if found is None:
            raise NotFound(f"no token #{token_id}")
        if not isinstance(actor, str):
            check(actor, Action.MANAGE_OWN_TOKENS)
            if found.user_id != actor.pk and not may(actor, Action.MANAGE_USERS):
                raise NotFound(f"no token #{token_id}")  # others' tokens are not visible
        if found.revoked_at is None:
            found.revoked_at = timezone.now()
            found.save(update_fields=["revoked_at"])
            audit.record(actor, "token.revoked", found, {"user": found.user.get_username()})
    return found
