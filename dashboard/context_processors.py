from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from driftcontrol.permissions import Can, role_of


def roles(request: HttpRequest) -> dict[str, Any]:
    """`role` and `can` in every template, so buttons show only for those allowed."""
    user = getattr(request, "user", None)
    return {"role": role_of(user), "can": Can(user)}
