"""`GitError`, and keeping credentials out of everything git says."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# Greedy up to the last "@" before the path: an unencoded "@" in a password is still hidden.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s'\"]+)@")
_STDERR_LINES = 5


class GitError(Exception):
    """A git operation failed; the message names the repository (without credentials)."""


class GitTimeout(GitError):
    """A git process ran out of time: the remote hangs, or is far too slow."""


def redact(text: str) -> str:
    """The text with URL passwords (and bare HTTP tokens used as user names) replaced by ***."""

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        user, colon, _ = userinfo.partition(":")
        if colon:
            return f"{scheme}{user}:***@"
        # https://TOKEN@host/... is how several hosting services take an access token.
        if scheme.lower().startswith("http"):
            return f"{scheme}***@"
        return match.group(0)

    return _USERINFO.sub(hide, text)


def secrets_of(url: str) -> list[str]:
    """The password or token in url, in the forms git might echo back."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    secrets = [parts.password] if parts.password else []
    if parts.username and not parts.password and parts.scheme.startswith("http"):
        secrets.append(parts.username)
    secrets += [unquote(secret) for secret in secrets]
    return [secret for secret in secrets if len(secret) >= 3]


def tail(stderr: bytes, secrets: list[str]) -> str:
    """The last lines git wrote to stderr, on one line, with the secrets hidden."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    text = " / ".join([line for line in lines if line][-_STDERR_LINES:])
    text = redact(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
