"""Requests to one API server, authenticated from a kubeconfig, retried when transient.

The client is used for what it does well (reading kubeconfigs: certificates, tokens,
exec plugins); requests go out raw and come back as plain dicts, because the engine
compares JSON and the client's model classes would cost more than the comparison.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from drift.kube.errors import (
    TRANSIENT_STATUSES,
    BadKubeconfig,
    Unreachable,
    from_response,
    is_transient,
    shorten,
)


class Transport:
    """What every request to one cluster goes through; `Kube` adds the API on top."""

    def __init__(
        self,
        kubeconfig: str,
        context: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
    ) -> None:
        try:
            config = yaml.safe_load(kubeconfig)
        except yaml.YAMLError as error:
            raise BadKubeconfig(f"the kubeconfig is not valid YAML: {error}") from None
        if not isinstance(config, dict) or not config.get("clusters"):
            raise BadKubeconfig("the kubeconfig defines no clusters")
        configuration = k8s_client.Configuration()
        # This module retries with backoff itself; urllib3's own retries would multiply them.
        configuration.retries = False
        try:
            self._api = k8s_config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
                config,
                context=context or None,
                persist_config=False,
                client_configuration=configuration,
            )
        except (ConfigException, KeyError, ValueError, TypeError) as error:
            where = f"context {context!r}" if context else "its current context"
            raise BadKubeconfig(f"the kubeconfig cannot be used with {where}: {error}") from None
        self.server: str = self._api.configuration.host
        self.timeout, self.retries = timeout, retries

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
        attempt = 0
        while True:
            attempt += 1
            try:
                method_, url, headers_, body_, _ = self._api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=query or [],
                    header_params=dict(headers),
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = self._api.rest_client.request(
                    method_,
                    url,
                    headers=headers_,
                    body=body_,
                    _request_timeout=timeout or self.timeout,
                )
            except (urllib3.exceptions.HTTPError, OSError) as error:
                if attempt > self.retries:
                    raise Unreachable(
                        f"{self.server}: no answer to {method} {path} after "
                        f"{attempt} attempts ({shorten(error)})"
                    ) from None
                self._backoff(attempt)
                continue
            # Only a failed answer is read here: a watch's body is a stream that stays open.
            if (
                response.status in TRANSIENT_STATUSES
                and attempt <= self.retries
                and is_transient(response.status, response.read())
            ):
                self._backoff(attempt, response.getheader("Retry-After"))
                continue
            return response

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
        response = self._send(method, path, query, body, content_type)
        data = response.read()
        if response.status >= 400:
            raise from_response(response.status, data, method, path, self.server)
        return json.loads(data) if data else {}
