"""HTTP/1.1 as the admission server speaks it: a request head read strictly (one request
line, header lines, nothing folded, one Content-Length) and a response written whole.

Only what kube-apiserver sends is accepted: it posts with Content-Length and keeps the
connection open. Anything ambiguous (two lengths, a chunked body, a folded header) is
refused and the connection closed: a request that two parsers could read differently is
how requests get smuggled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(r"[0-9]{1,16}")


class HttpError(Exception):
    """A request answered with an error status; most also close the connection."""

    def __init__(
        self, status: int, text: str, *, close: bool = True, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(text)
        self.status, self.text, self.close = status, text, close
        self.headers = headers or {}


@dataclass(frozen=True)
class Head:
    """A request line and its headers (names in lower case)."""

    method: str
    path: str  # percent-decoded, without the query
    version: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def keep_alive(self) -> bool:
        """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes it."""
        said = {token.strip() for token in self.headers.get("connection", "").lower().split(",")}
        return self.version == "HTTP/1.1" and "close" not in said

    def allow(self, *methods: str) -> None:
        if self.method not in methods:
            allowed = ", ".join(methods)
            raise HttpError(
                405, f"{self.method} {self.path}: use {allowed}", headers={"Allow": allowed}
            )

    def content_length(self) -> int:
        """The body's length; 411 when the body is sent without one."""
        if "transfer-encoding" in self.headers:
            raise HttpError(411, "chunked bodies are not accepted: send Content-Length")
        length = self.headers.get("content-length")
        if length is None:
            raise HttpError(411, "Content-Length required")
        return int(length)


def parse_head(raw: bytes) -> Head:
    """The head of a request (up to and with its blank line); HttpError 400 if malformed."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1].startswith("/"):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, f"{version} not supported: HTTP/1.1")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, f"malformed header line: {line[:80]!r}")
        name, value = name.lower(), value.strip(" \t")
        if name in headers and name in ("content-length", "host"):
            if headers[name] != value:
                raise HttpError(400, f"{name} given twice, differently")
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    length = headers.get("content-length")
    if length is not None and not _DIGITS.fullmatch(length):
        raise HttpError(400, f"Content-Length must be a number, not {length[:40]!r}")
    if length is not None and "transfer-encoding" in headers:
        raise HttpError(400, "both Content-Length and Transfer-Encoding")
    path = unquote(target.partition("?")[0])
    return Head(method, path, version, headers)


def render(
    status: int,
    content_type: str,
    payload: bytes,
    keep_alive: bool,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The whole response, ready for one write."""
    reason = HTTPStatus(status).phrase
    lines = [
        f"HTTP/1.1 {status} {reason}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
