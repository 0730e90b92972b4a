"""Schemathesis hooks for tests/api/test_schema.py (named in schemathesis.toml; they run
in the `st` process). The run must keep its own credentials: it fuzzes DELETE
/tokens/{id}/ and learns ids from answers, so it would find and revoke the token it
sends. A DELETE of that token goes to an id no token has instead (a 404)."""

from __future__ import annotations

from typing import Any

import schemathesis

# The id of the token each run sends (see test_schema.py).
TOKEN_ID = 7_346_291_085_571


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    revokes = case.method.upper() == "DELETE" and case.path.startswith("/api/v1/tokens/")
    if revokes and str(case.path_parameters.get("id")) == str(TOKEN_ID):
        case.path_parameters["id"] = TOKEN_ID + 1
