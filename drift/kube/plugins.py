"""Credential plugins (a kubeconfig user's `exec`), checked against the server's allowlist
and run by this package, never by the kubernetes client.

The client would run whatever command a kubeconfig names, with the server's whole
environment (its secret key, its encryption keys, its database password). Here a plugin
runs only when the server's own configuration lists its absolute path, with PATH, HOME
and LANG and the entry's own `env`, without a terminal or standard input, and within a
timeout. What it prints (an ExecCredential, the client.authentication.k8s.io protocol
kubectl speaks) becomes data in the kubeconfig the client is given.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drift.kube.errors import BadKubeconfig, Unreachable

log = logging.getLogger(__name__)

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
PASSED_ENVIRONMENT = ("PATH", "HOME", "LANG")
# A credential this close to its expiry is renewed first: the request must not arrive late.
EXPIRY_MARGIN = timedelta(seconds=10)
# Variables a plugin's `env` may not set: they change which code a program loads or runs
# (an interpreter's startup hooks, the dynamic loader) or where it finds it.
_ENV_REFUSED = re.compile(
    r"(LD_|DYLD_|PYTHON|PERL|RUBY|NODE_|JAVA_|_JAVA_|GIT_|GCONV_|BASH_FUNC_).*"
    r"|PATH|HOME|ENV|BASH_ENV|BROWSER|IFS|SHELLOPTS|BASHOPTS|PS4|GEM_PATH|GEM_HOME"
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an HTTP header carries, without whitespace


def usable_token(value: Any) -> bool:
    """Whether a bearer token can go into a request header as it is."""
    return isinstance(value, str) and bool(_TOKEN.fullmatch(value))


@dataclass(frozen=True)
class ExecPlugin:
    """An allowlisted credential plugin, as a user entry describes it."""

    where: str  # the field, for messages: users[0] ("eks").user.exec
    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    api_version: str
    cluster: dict[str, Any] | None  # ExecCredential spec.cluster (provideClusterInfo)


@dataclass(frozen=True)
class Credential:
    """What a plugin printed: a token, or a client certificate and key (PEM)."""

    token: str = ""
    client_certificate: str = ""
    client_key: str = ""
    expires_at: datetime | None = None

    def expired(self) -> bool:
        if self.expires_at is None:
            return False
        return datetime.now(UTC) >= self.expires_at - EXPIRY_MARGIN

    def user_fields(self) -> dict[str, str]:
        """The credential as a kubeconfig user entry's data fields."""
        if self.token:
            return {"token": self.token}
        return {
            "client-certificate-data": base64.b64encode(self.client_certificate.encode()).decode(),
            "client-key-data": base64.b64encode(self.client_key.encode()).decode(),
        }


def problems(where: str, spec: Any, allowlist: frozenset[str]) -> list[str]:
    """What is wrong with an `exec` entry on this server (nothing when it may run)."""
    if not isinstance(spec, dict):
        return [f"{where}: must be a mapping with command and apiVersion"]
    command = spec.get("command")
    if not isinstance(command, str) or command not in allowlist:
        return [_not_allowed(where, command, allowlist)]
    found = []
    if spec.get("apiVersion") not in API_VERSIONS:
        found.append(f"{where}.apiVersion: must be one of {', '.join(API_VERSIONS)}")
    if spec.get("interactiveMode") == "Always":
        found.append(f"{where}.interactiveMode: a server has no terminal; use IfAvailable")
    args = spec.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        found.append(f"{where}.args: must be a list of strings")
    env = spec.get("env") or []
    if not isinstance(env, list):
        return [*found, f"{where}.env: must be a list of name and value"]
    for index, item in enumerate(env):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            found.append(f"{where}.env[{index}].name: must be a variable name")
        elif _ENV_REFUSED.fullmatch(name.upper()):
            found.append(
                f"{where}.env[{index}].name: {name} changes which code a program runs; "
                "set it in the server's environment if the plugin needs it"
            )
        if not isinstance(item.get("value") if isinstance(item, dict) else None, str):
            found.append(f"{where}.env[{index}].value: must be a string")
    return found


def _not_allowed(where: str, command: Any, allowlist: frozenset[str]) -> str:
    message = (
        f"{where}: credential plugins run commands on this server; only those whose "
        "absolute path the server's configuration lists (KUBECONFIG_EXEC_ALLOWLIST) may run"
    )
    if not allowlist:
        return message + ", and it lists none"
    allowed = sorted(allowlist)
    same_name = [path for path in allowed if path.rsplit("/", 1)[-1] == command]
    if same_name:
        return f"{where}.command: give the plugin's absolute path, {same_name[0]}"
    return message + f": {', '.join(allowed)}"


def describe(where: str, spec: dict[str, Any], cluster: dict[str, Any] | None) -> ExecPlugin:
    """The plugin of an `exec` entry that `problems` found nothing wrong with."""
    return ExecPlugin(
        where=where,
        command=spec["command"],
        args=tuple(spec.get("args") or ()),
        env=tuple((item["name"], item["value"]) for item in spec.get("env") or ()),
        api_version=spec["apiVersion"],
        cluster=cluster,
    )


def run(plugin: ExecPlugin, timeout: float) -> Credential:
    """Run the plugin and read its ExecCredential (raises BadKubeconfig, or Unreachable
    when it gives no answer in time)."""
    spec: dict[str, Any] = {"interactive": False}
    if plugin.cluster is not None:
        spec["cluster"] = plugin.cluster
    env = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    env.update(plugin.env)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(
        {"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec}
    )
    try:
        process = subprocess.Popen(
            [plugin.command, *plugin.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd="/",
            # Its own process group, so a timeout stops whatever it started too (a child
            # holding the output pipe open would otherwise keep us waiting).
            start_new_session=True,
        )
    except OSError as error:
        message = f"{plugin.where}: cannot run {plugin.command}: {error.strerror}"
        raise BadKubeconfig(message) from None
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise Unreachable(
            f"{plugin.where}: {plugin.command} gave no credential within {timeout:g} seconds "
            "(KUBECONFIG_EXEC_TIMEOUT_SECONDS)"
        ) from None
    if process.returncode != 0:
        # Its error output may say what it was given; operators read it in the log.
        log.warning(
            "credential plugin %s exited with status %s: %s",
            plugin.command,
            process.returncode,
            err.decode(errors="replace")[-2000:],
        )
        raise BadKubeconfig(
            f"{plugin.where}: {plugin.command} failed (exit status {process.returncode}); "
            "its error output is in the server's log"
        )
    return _credential(plugin, out)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    # A grandchild that left the group may hold the pipe open: leave it to the system.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


def _credential(plugin: ExecPlugin, out: bytes) -> Credential:
    """The ExecCredential's status; messages say what is missing, never what was printed."""
    where, command = plugin.where, plugin.command
    try:
        answer = json.loads(out)
    except ValueError:
        raise BadKubeconfig(f"{where}: {command} printed no ExecCredential (JSON)") from None
    if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
        raise BadKubeconfig(f"{where}: {command} printed no ExecCredential")
    if answer.get("apiVersion") != plugin.api_version:
        raise BadKubeconfig(f"{where}: {command} did not answer in {plugin.api_version}")
    status = answer.get("status")
    if not isinstance(status, dict):
        raise BadKubeconfig(f"{where}: {command} printed an ExecCredential without status")
    expires_at = _time(where, status.get("expirationTimestamp"))
    token, certificate, key = (
        status.get("token"),
        status.get("clientCertificateData"),
        status.get("clientKeyData"),
    )
    if token:
        if not usable_token(token):
            raise BadKubeconfig(f"{where}: the token {command} printed is not one word")
        return Credential(token=token, expires_at=expires_at)
    if isinstance(certificate, str) and isinstance(key, str) and certificate and key:
        return Credential(client_certificate=certificate, client_key=key, expires_at=expires_at)
    raise BadKubeconfig(
        f"{where}: {command} printed neither a token nor a client certificate and key"
    )


def _time(where: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadKubeconfig(f"{where}: expirationTimestamp is not an RFC 3339 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
