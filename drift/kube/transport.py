"""Requests to one API server, authenticated from a kubeconfig, retried when transient.

The client is used for what it does well (certificates, tokens, TLS) on a copy of the
kubeconfig that holds data only (`kubeconfig` says why: the client would run the commands
and read the files a kubeconfig names); requests go out raw and come back as plain dicts,
because the engine compares JSON and the client's model classes would cost more than the
comparison.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import threading
import time
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from drift.kube import kubeconfig as kubeconfigs
from drift.kube import plugins
from drift.kube.errors import (
    TRANSIENT_STATUSES,
    BadKubeconfig,
    Unreachable,
    from_response,
    is_transient,
    shorten,
)
from drift.kube.kubeconfig import CredentialPolicy

# What a connection that breaks off (before or in the middle of an answer) raises:
# urllib3's errors (SSLError UNEXPECTED_EOF, ProtocolError around IncompleteRead), socket
# errors, and http.client's own.
_BROKEN = (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException)


def inspect_kubeconfig(kubeconfig: str, credentials: CredentialPolicy | None = None) -> None:
    """Raise BadKubeconfig when a kubeconfig, complete or not, asks for a command to run or
    a file to read that the server's configuration does not allow."""
    kubeconfigs.inspect(kubeconfig, credentials or CredentialPolicy())


def check_kubeconfig(
    kubeconfig: str, context: str | None = None, credentials: CredentialPolicy | None = None
) -> str:
    """The API server a kubeconfig's context points at, once it is found safe and usable
    (raises BadKubeconfig). Runs no credential plugin and sends nothing."""
    prepared = kubeconfigs.prepare(kubeconfig, context, credentials or CredentialPolicy())
    _client(prepared.config, context)
    return prepared.server


def _client(config: dict[str, Any], context: str | None) -> k8s_client.ApiClient:
    """The client for a data-only kubeconfig (its own checks: certificates, ...)."""
    configuration = k8s_client.Configuration()
    # This module retries with backoff itself; urllib3's own retries would multiply them.
    configuration.retries = False
    try:
        api: k8s_client.ApiClient = k8s_config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
            copy.deepcopy(config), persist_config=False, client_configuration=configuration
        )
    except (ConfigException, KeyError, ValueError, TypeError) as error:
        where = f"context {context!r}" if context else "its current context"
        # Only the client's own messages, which name fields; others may quote a value.
        reason = str(error) if isinstance(error, ConfigException) else type(error).__name__
        raise BadKubeconfig(f"the kubeconfig cannot be used with {where}: {reason}") from None
    return api


class Transport:
    """What every request to one cluster goes through; `Kube` adds the API on top.

    ``credentials`` is what the server's configuration lets the kubeconfig use (credential
    plugins, files); by default neither.
    """

    def __init__(
        self,
        kubeconfig: str,
        context: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
        credentials: CredentialPolicy | None = None,
    ) -> None:
        self._credentials = credentials or CredentialPolicy()
        self._context = context
        self._prepared = kubeconfigs.prepare(kubeconfig, context, self._credentials)
        self._lock = threading.Lock()
        self._plugin_credential: plugins.Credential | None = None
        self._generation = 0  # counts credentials a plugin gave, so one thread renews
        self._api = self._authenticated()
        self.server: str = self._api.configuration.host
        self.timeout, self.retries = timeout, retries

    def _authenticated(self) -> k8s_client.ApiClient:
        """A client with the kubeconfig's credentials, and a fresh one from its plugin."""
        config = self._prepared.config
        if self._prepared.plugin is not None:
            credential = plugins.run(self._prepared.plugin, self._credentials.exec_timeout)
            self._plugin_credential = credential
            config = copy.deepcopy(config)
            config["users"][0]["user"].update(credential.user_fields())
        return _client(config, self._context)

    def _renew(self, generation: int) -> None:
        """Run the plugin again, unless another thread did since ``generation``."""
        with self._lock:
            if generation == self._generation:
                self._api = self._authenticated()
                self._generation += 1

    def _current(self) -> tuple[k8s_client.ApiClient, int]:
        """The client to send with, its plugin's credential renewed first if it expired."""
        credential, generation = self._plugin_credential, self._generation
        if credential is not None and credential.expired():
            self._renew(generation)
        return self._api, self._generation

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        attempt, renewed = 0, False
        while True:
            attempt += 1
            api, generation = self._current()
            try:
                method_, url, headers_, body_, _ = api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=query or [],
                    header_params=dict(headers),
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = api.rest_client.request(  # type: ignore[no-untyped-call]
                    method_,
                    url,
                    headers=headers_,
                    body=body_,
                    _request_timeout=timeout or self.timeout,
                )
                # Only a failed answer is read here: a watch's body is a stream that stays
                # open.
                if (
                    response.status in TRANSIENT_STATUSES
                    and attempt <= self.retries
                    and is_transient(response.status, response.read())
                ):
                    self._backoff(attempt, response.getheader("Retry-After"))
                    continue
            except _BROKEN as error:
                self._give_up_after(attempt, f"no answer to {method} {path}", error)
                continue
            except ApiException as error:
                # The client turns urllib3's SSLError (a certificate the kubeconfig does not
                # trust, an address that speaks no TLS) into an ApiException without status.
                if not str(error.reason).startswith("SSLError"):
                    raise
                self._give_up_after(attempt, f"no TLS connection for {method} {path}", error)
                continue
            if response.status == 401 and self._prepared.plugin is not None and not renewed:
                # The plugin's credential expired before it said it would (or it says
                # nothing of expiry): a fresh one, once, as kubectl does.
                renewed = True
                self._renew(generation)
                continue
            return response

    def _give_up_after(self, attempt: int, what: str, error: BaseException) -> None:
        """Back off before another attempt, or raise Unreachable when none is left."""
        if attempt > self.retries:
            raise Unreachable(
                f"{self.server}: {what} after {attempt} attempts ({shorten(error)})"
            ) from None
        self._backoff(attempt)

    def _backoff(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random())
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 30.0)
        time.sleep(delay)

    def _json(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | list[Any] | None = None,
        content_type: str | None = None,
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            response = self._send(method, path, query, body, content_type)
            try:
                data = response.read()
                break
            except _BROKEN as error:
                # The connection broke off in the middle of the answer (a proxy or load
                # balancer cutting it, a server restarting): sent again like any
                # transient failure. Writes are safe to repeat as `_send` already
                # repeats them: an apply is idempotent, a create answers 409, a guarded
                # patch or delete fails its precondition.
                self._give_up_after(attempt, f"the answer to {method} {path} broke off", error)
        if response.status >= 400:
            raise from_response(response.status, data, method, path, self.server)
        return json.loads(data) if data else {}
