"""Watches: a stream of changes to a kind after a resourceVersion, closable at once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import urllib3

from drift.kube.discovery import Resource
from drift.kube.errors import BY_STATUS, KubeError, Unreachable, from_response, shorten
from drift.kube.transport import Transport


class Watching(Transport):
    """The watching part of `Kube`."""

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Open a watch for events after ``resource_version``; iterate the stream for them.

        Raises Gone (here or while iterating) when the version is too old: list again.
        """
        query = [
            ("watch", "1"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        response = self._send(
            "GET",
            resource.path(namespace),
            query,
            timeout=(self.timeout[0], timeout_seconds + 15.0),
        )
        if response.status >= 400:
            raise from_response(
                response.status, response.read(), "WATCH", resource.path(namespace), self.server
            )
        return WatchStream(response.response, resource, self.server)


class WatchStream:
    """An open watch. Iterating yields (type, object) until the server ends it; `close()`,
    from any thread, ends it at once (a blocking read would otherwise wait for the next
    event or the server's timeout)."""

    def __init__(self, response: Any, resource: Resource, server: str) -> None:
        self._response, self._resource, self._server = response, resource, server
        self._closed = False

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        resource = self._resource
        try:
            for line in _lines(self._response):
                event = json.loads(line)
                kind, obj = event.get("type", ""), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise BY_STATUS.get(code, KubeError)(
                        f"watch of {resource.plural}: {obj.get('message', '')}",
                        code,
                        str(obj.get("reason", "")),
                    )
                if kind != "BOOKMARK":
                    obj.setdefault("apiVersion", resource.api_version)
                    obj.setdefault("kind", resource.kind)
                yield kind, obj
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            if self._closed:
                return
            raise Unreachable(
                f"{self._server}: watch of {resource.plural} broke off ({shorten(error)})"
            ) from None
        finally:
            self._response.release_conn()

    def close(self) -> None:
        self._closed = True
        self._response.shutdown()  # unblocks a read in progress in another thread


def _lines(response: Any) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer
