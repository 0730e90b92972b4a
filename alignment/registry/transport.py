"""Requests to one registry host: TLS, authentication, retries, timeouts, size limits.

The only module that imports `requests`. Authentication follows the distribution spec's
token flow: a request goes out with what is known; a 401's WWW-Authenticate challenge says
Basic (the credentials are sent from then on) or Bearer (a token is fetched from the realm
it names, with the credentials if any, and kept per repository until it expires).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import random
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field

import certifi
import requests

from alignment.registry.errors import NotFound, RegistryError, Unreachable

MAX_RETRY_AFTER = 10.0  # a 429 asking for longer is a registry we give up on for this scan
_CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True)
class Access:
    """How to reach one registry host."""

    host: str  # "127.0.0.1:5443", "ghcr.io"
    username: str = ""  # basic credentials, or what a token endpoint takes
    password: str = field(default="", repr=False)
    ca_pem: str = field(default="", repr=False)  # a CA (PEM) trusted besides the usual ones
    insecure: bool = False  # plain http, for a registry without TLS: never the default
    timeout: float = 10.0

    @property
    def base_url(self) -> str:
        # Docker Hub's name in image references is not where its API answers.
        hub = self.host in ("docker.io", "index.docker.io")
        host = "registry-1.docker.io" if hub else self.host
        return f"{'http' if self.insecure else 'https'}://{host}"


@dataclass(frozen=True)
class Answer:
    """A successful answer, read up to its limit."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


_bundles: dict[str, str] = {}
_bundles_lock = threading.Lock()


def _usual_cas() -> str:
    """The CA file requests trusts by default: the environment's, else certifi's."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        path = os.environ.get(variable, "")
        if path and os.path.isfile(path):
            return path
    return certifi.where()


def _ca_bundle(ca_pem: str) -> str:
    """A file of the usual CAs plus ``ca_pem``, for requests' ``verify`` (which takes a
    path): one per distinct CA, removed at exit."""
    key = hashlib.sha256(ca_pem.encode()).hexdigest()
    with _bundles_lock:
        if key not in _bundles:
            with open(_usual_cas(), encoding="utf-8") as usual:
                text = usual.read()
            fd, path = tempfile.mkstemp(prefix="driftcontrol-registry-ca-", suffix=".pem")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(f"{text}\n{ca_pem.strip()}\n")
            atexit.register(os.unlink, path)
            _bundles[key] = path
        return _bundles[key]


class Transport:
    """What every request to one host goes through; safe to share between threads."""

    def __init__(self, access: Access, retries: int = 3) -> None:
        self.access, self.retries = access, retries
        self._session = requests.Session()
        # Never unverified: a CA of its own is added to the usual ones, not put instead.
        # Passed with each request: requests lets REQUESTS_CA_BUNDLE override a session's.
        self._verify: str | bool = _ca_bundle(access.ca_pem) if access.ca_pem else True
        self._session.headers["User-Agent"] = "DriftControl"
        self._tokens: dict[str, tuple[str, float]] = {}  # scope -> (token, expiry)
        self._basic = False  # the host asked for basic credentials once: sent from then on
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        repository: str,
        path: str,
        where: str,
        *,
        accept: str = "*/*",
        params: dict[str, str] | None = None,
        limit: int = 0,
    ) -> Answer:
        """A request under /v2/<repository>/, authenticated as the registry asks, its body
        read up to ``limit`` bytes (more raises). ``where`` starts each error's message.
        Raises NotFound on 404, Unreachable when retries run out, RegistryError otherwise."""
        url = f"{self.access.base_url}/v2/{repository}/{path}"
        scope = f"repository:{repository}:pull"
        challenged = False
        while True:
            response = self._send(method, url, where, accept, params, scope)
            with response:
                status = response.status_code
                if status == 401 and not challenged:
                    challenged = True
                    self._authenticate(response.headers.get("WWW-Authenticate", ""), scope, where)
                    continue
                if response.ok:
                    body = _read(response, limit, where) if method != "HEAD" else b""
                    headers = {name.lower(): value for name, value in response.headers.items()}
                    return Answer(status, headers, body)
                _drain(response)
            text = f"{where}: {method} answered {status} {response.reason}"
            if status == 404:
                raise NotFound(text, status)
            if status == 401:
                raise RegistryError(f"{text}: the credentials were refused", status)
            raise RegistryError(text, status)

    def _send(
        self,
        method: str,
        url: str,
        where: str,
        accept: str,
        params: dict[str, str] | None,
        scope: str,
    ) -> requests.Response:
        """One request with retries: backoff on connection errors and 5xx, Retry-After
        (bounded) on 429. TLS failures are not retried: they do not heal in a second."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    headers={"Accept": accept, **self._authorization(scope)},
                    auth=self._credentials() if self._basic else None,
                    timeout=self.access.timeout,
                    verify=self._verify,
                    stream=True,
                )
            except requests.exceptions.SSLError as error:
                raise Unreachable(f"{where}: TLS failed: {_shorten(error)}") from None
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt > self.retries:
                    raise Unreachable(f"{where}: {method} failed: {_shorten(error)}") from None
                time.sleep(_backoff(attempt))
                continue
            status = response.status_code
            if status != 429 and status < 500:
                return response
            response.close()
            if attempt > self.retries:
                raise Unreachable(f"{where}: {method} answered {status} {response.reason}", status)
            time.sleep(_retry_after(response) if status == 429 else _backoff(attempt))

    def _credentials(self) -> tuple[str, str] | None:
        access = self.access
        return (access.username, access.password) if access.username else None

    def _authorization(self, scope: str) -> dict[str, str]:
        with self._lock:
            token, expiry = self._tokens.get(scope, ("", 0.0))
        return {"Authorization": f"Bearer {token}"} if token and time.time() < expiry else {}

    def _authenticate(self, challenge: str, scope: str, where: str) -> None:
        """Answer a 401's challenge: Basic means sending the credentials from now on;
        Bearer means fetching a token for the scope from the realm it names."""
        scheme, _, rest = challenge.strip().partition(" ")
        params = {m[0].lower(): m[1] or m[2] for m in _CHALLENGE_PARAM.findall(rest)}
        if scheme.lower() == "basic":
            if not self.access.username:
                raise RegistryError(f"{where}: the registry asks for credentials", 401)
            self._basic = True
        elif scheme.lower() == "bearer" and params.get("realm"):
            self._fetch_token(params, scope, where)
        else:
            raise RegistryError(f"{where}: 401 with a challenge it cannot answer: {challenge!r}")

    def _fetch_token(self, challenge: dict[str, str], scope: str, where: str) -> None:
        realm = challenge["realm"]
        query = {"service": challenge.get("service", ""), "scope": challenge.get("scope", scope)}
        try:
            response = self._session.get(
                realm,
                params={name: value for name, value in query.items() if value},
                auth=self._credentials(),
                timeout=self.access.timeout,
                verify=self._verify,
            )
        except requests.RequestException as error:
            raise Unreachable(f"{where}: the token service failed: {_shorten(error)}") from None
        if not response.ok:
            raise RegistryError(
                f"{where}: the token service {realm} answered "
                f"{response.status_code} {response.reason}",
                response.status_code,
            )
        try:
            body = response.json()
            token = str(body.get("token") or body.get("access_token") or "")
            lifetime = float(body.get("expires_in") or 60)  # the spec's default
        except (ValueError, AttributeError, TypeError):
            token, lifetime = "", 0.0
        if not token:
            raise RegistryError(f"{where}: the token service {realm} answered no token")
        with self._lock:  # renewed a little before it expires
            self._tokens[scope] = (token, time.time() + max(lifetime - 10, 1))


def _read(response: requests.Response, limit: int, where: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RegistryError(f"{where}: {declared} bytes, more than the {limit} allowed")
    data = bytearray()
    try:
        for chunk in response.iter_content(64 << 10):
            data += chunk
            if len(data) > limit:
                raise RegistryError(f"{where}: more than the {limit} bytes allowed")
    except requests.RequestException as error:
        raise Unreachable(f"{where}: the answer broke off: {_shorten(error)}") from None
    return bytes(data)


def _backoff(attempt: int) -> float:
    return min(0.25 * 2.0 ** (attempt - 1), 4.0) * (0.5 + random.random())


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")  # seconds; an HTTP date counts as 1 s
    seconds = float(value) if value.replace(".", "", 1).isdigit() else 1.0
    return min(seconds, MAX_RETRY_AFTER)


def _shorten(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) < 240 else text[:237] + "..."


def _drain(response: requests.Response, limit: int = 64 << 10) -> None:
    """Read a short error body (a 404's JSON) before the answer is closed: closed unread,
    its connection is dropped instead of going back to the pool, and the next request
    pays for a new TLS handshake (2 of the 6 requests verifying an image are 404s)."""
    read = 0
    try:
        for chunk in response.iter_content(16 << 10):
            read += len(chunk)
            if read > limit:
                return
    except requests.RequestException:
        pass
