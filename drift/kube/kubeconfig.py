"""What a kubeconfig may ask of this server: data, never code, and files only where allowed.

Whoever may configure clusters writes kubeconfigs (an admin API token held by automation,
too), and the kubernetes client reading one runs its `exec` and `auth-provider` commands
and reads the files it names, as the server's own user, with the server's secrets in its
environment. So every kubeconfig is inspected here before the client sees it, and the
client only ever gets a copy that holds data: the chosen context with its cluster and
user, files read by this module (under the directory the server's configuration names)
and turned into `-data` fields, and the credential plugin (when its command is on the
server's allowlist) left out, for `plugins` to run and the transport to fill in.

Messages name the field (`users[0] ("admin").user.exec`) and never quote values: a
kubeconfig is full of credentials, and errors are shown to every viewer of a cluster.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from drift.kube import plugins
from drift.kube.errors import BadKubeconfig

MAX_BYTES = 1024 * 1024  # kubeconfigs are a few KB; so are certificates read from files
EXEC_EXTENSION = "client.authentication.k8s.io/exec"

# The fields of a user and a cluster entry that are data the client may have; everything
# else is left out of its copy (it ignores what kubectl alone reads, like `as`).
_USER_DATA = ("token", "client-certificate-data", "client-key-data", "username", "password")
_CLUSTER_DATA = ("server", "certificate-authority-data", "insecure-skip-tls-verify")
_CLUSTER_TEXT = ("tls-server-name", "proxy-url")
# File references, and the `-data` field each becomes once read.
_USER_FILES = {"tokenFile": "token", "client-certificate": "client-certificate-data",
               "client-key": "client-key-data"}  # fmt: skip
_CLUSTER_FILES = {"certificate-authority": "certificate-authority-data"}


@dataclass(frozen=True)
class CredentialPolicy:
    """What the server's own configuration lets kubeconfigs use; by default nothing that
    runs a command or reads a file."""

    exec_allowlist: frozenset[str] = frozenset()
    file_root: str = ""
    exec_timeout: float = 20.0


@dataclass(frozen=True)
class Prepared:
    """A kubeconfig found safe: the data-only copy for the client, and its plugin."""

    config: dict[str, Any]
    server: str
    plugin: plugins.ExecPlugin | None = None


@dataclass(frozen=True)
class _Entry:
    where: str  # users[0] ("admin").user
    name: Any
    body: dict[str, Any]


class _Loader(yaml.SafeLoader):
    """YAML without aliases: no kubeconfig tool writes them, and expanding a few nested
    ones (an alias bomb) would take the server's memory."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted", mark)
        return super().compose_node(parent, index)


def parse(text: str) -> dict[str, Any]:
    """The kubeconfig as a mapping (raises BadKubeconfig, naming no content)."""
    if len(text.encode(errors="replace")) > MAX_BYTES:
        raise BadKubeconfig(f"the kubeconfig is larger than {MAX_BYTES // 1024} KiB")
    try:
        config = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        raise BadKubeconfig(f"the kubeconfig is not valid YAML: {yaml_problem(error)}") from None
    if not isinstance(config, dict):
        raise BadKubeconfig("the kubeconfig is not a mapping (apiVersion, clusters, users...)")
    return config


def inspect(text: str, policy: CredentialPolicy) -> dict[str, Any]:
    """The kubeconfig, unless it asks for what this server refuses (a command to run, a
    file to read): then BadKubeconfig names every such field. It need not be complete."""
    config = parse(text)
    problems = [
        problem
        for key, inner, check in (("clusters", "cluster", _cluster_problems),
                                  ("users", "user", _user_problems))
        for entry in _entries(config, key, inner)
        for problem in check(entry.where, entry.body, policy)
    ]  # fmt: skip
    if problems:
        raise BadKubeconfig("; ".join(problems), problems)
    return config


def yaml_problem(error: yaml.YAMLError) -> str:
    """Where and what, without the offending line: PyYAML's own message quotes it, and a
    line of a kubeconfig may be a token."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "cannot be read"
    problem = re.sub(r"'[^']*'|\"[^\"]*\"", "…", str(problem))
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def prepare(text: str, context: str | None, policy: CredentialPolicy) -> Prepared:
    """Inspect the whole kubeconfig, then build the client's copy for ``context`` (or the
    current one). Raises BadKubeconfig with every problem found."""
    config = inspect(text, policy)
    if not config.get("clusters"):
        raise BadKubeconfig("the kubeconfig defines no clusters")
    clusters = _entries(config, "clusters", "cluster")
    users = _entries(config, "users", "user")
    contexts = _entries(config, "contexts", "context")
    unusable = "the kubeconfig cannot be used with " + (
        f"context {context!r}" if context else "its current context"
    )
    name = context or config.get("current-context")
    if not name or not isinstance(name, str):
        raise BadKubeconfig(f"{unusable}: it names none; set spec.context")
    chosen = _named(contexts, name)
    if chosen is None:
        raise BadKubeconfig(f"{unusable}: no context is named {name!r}")
    cluster = _named(clusters, chosen.body.get("cluster"))
    if cluster is None:
        raise BadKubeconfig(f"{unusable}: the context names a cluster it does not define")
    user = _named(users, chosen.body.get("user")) if chosen.body.get("user") else None
    cluster_data = _data(cluster, _CLUSTER_DATA + _CLUSTER_TEXT, _CLUSTER_FILES, policy)
    user_data = _data(user, _USER_DATA, _USER_FILES, policy) if user else {}
    plugin = None
    if user is not None and "exec" in user.body:
        plugin = _plugin(f"{user.where}.exec", user.body["exec"], cluster, cluster_data)
    copy = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster_data}],
        "users": [{"name": "user", "user": user_data}],
        "contexts": [{"name": "context", "context": {"cluster": "cluster", "user": "user"}}],
        "current-context": "context",
    }
    return Prepared(copy, str(cluster_data["server"]), plugin)


def _entries(config: dict[str, Any], key: str, inner: str) -> list[_Entry]:
    """The named entries of a list, each with the field that names it in messages."""
    items = config.get(key) or []
    if not isinstance(items, list):
        raise BadKubeconfig(f"{key}: must be a list")
    found = []
    for index, item in enumerate(items):
        where = f"{key}[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get(inner) or {}, dict):
            raise BadKubeconfig(f"{where}: must be a mapping with name and {inner}")
        name = item.get("name")
        label = f' ("{name}")' if isinstance(name, str) and len(name) <= 100 else ""
        found.append(_Entry(f"{where}{label}.{inner}", name, item.get(inner) or {}))
    return found


def _named(entries: list[_Entry], name: Any) -> _Entry | None:
    return next((entry for entry in entries if entry.name == name), None)


def _cluster_problems(where: str, cluster: dict[str, Any], policy: CredentialPolicy) -> list[str]:
    server = cluster.get("server")
    problems = []
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        problems.append(f"{where}.server: must be the API server's https:// URL")
    elif "@" in urlsplit(server).netloc:
        # The URL is shown to every viewer (api_server_url, connection errors).
        problems.append(f"{where}.server: must not hold credentials; give them in a user")
    if not isinstance(cluster.get("insecure-skip-tls-verify", False), bool):
        problems.append(f"{where}.insecure-skip-tls-verify: must be true or false")
    for key in _CLUSTER_TEXT:
        if not isinstance(cluster.get(key, ""), str):
            problems.append(f"{where}.{key}: must be a string")
    problems += _data_problems(where, cluster, ("certificate-authority-data",))
    problems += _file_problems(where, cluster, _CLUSTER_FILES, policy)
    return problems


def _user_problems(where: str, user: dict[str, Any], policy: CredentialPolicy) -> list[str]:
    problems = []
    if "auth-provider" in user:
        problems.append(
            f"{where}.auth-provider: auth providers run commands and read files on this "
            "server (and Kubernetes deprecated them); use a credential plugin (exec) "
            "that this server's configuration allows (KUBECONFIG_EXEC_ALLOWLIST)"
        )
    if "exec" in user:
        problems += plugins.problems(f"{where}.exec", user["exec"], policy.exec_allowlist)
    token = user.get("token")
    if token is not None and not plugins.usable_token(token):
        problems.append(f"{where}.token: must be one word of printable characters")
    for key in ("username", "password"):
        if not isinstance(user.get(key, ""), str):
            problems.append(f"{where}.{key}: must be a string")
    problems += _data_problems(where, user, ("client-certificate-data", "client-key-data"))
    problems += _file_problems(where, user, _USER_FILES, policy)
    return problems


def _data_problems(where: str, entry: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    problems = []
    for key in keys:
        if key in entry and not _is_base64(entry[key]):
            problems.append(f"{where}.{key}: must be base64 (the PEM file's content, encoded)")
    return problems


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        base64.standard_b64decode(value)
    except (binascii.Error, ValueError):
        return False
    return True


def _file_problems(
    where: str, entry: dict[str, Any], keys: dict[str, str], policy: CredentialPolicy
) -> list[str]:
    problems = []
    for key in keys:
        if key in entry:
            problem = _file_problem(entry[key], policy)
            if problem:
                problems.append(f"{where}.{key}: {problem}")
    return problems


def _file_problem(path: Any, policy: CredentialPolicy) -> str:
    if not policy.file_root:
        return (
            "file references would read this server's files; put the content in the "
            "kubeconfig itself (the -data field, or token)"
        )
    if not isinstance(path, str) or not path:
        return "must be a file path"
    if _resolve(path, policy.file_root) is None:
        return (
            "the file is not a readable file under the directory the server's "
            "configuration allows (KUBECONFIG_FILE_ROOT)"
        )
    return ""


def _resolve(path: str, root: str) -> str | None:
    """The file's real path, if it is a file under ``root`` once `..` and symlinks are
    resolved (relative paths are relative to the root); None otherwise."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, path))
    if os.path.commonpath([real_root, real]) != real_root or not os.path.isfile(real):
        return None
    return real


def _data(
    entry: _Entry, keys: tuple[str, ...], files: dict[str, str], policy: CredentialPolicy
) -> dict[str, Any]:
    """The entry's data fields, with each allowed file reference read into its `-data`
    field (a file the `-data` field already covers is not read: the client prefers data)."""
    data = {key: entry.body[key] for key in keys if key in entry.body}
    for key, data_key in files.items():
        if key in entry.body and data_key not in data:
            data[data_key] = _read(f"{entry.where}.{key}", entry.body[key], data_key, policy)
    return data


def _read(where: str, path: str, data_key: str, policy: CredentialPolicy) -> str:
    real = _resolve(path, policy.file_root)
    try:
        if real is None:
            raise OSError("not a file under the root")
        with open(real, "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except OSError:
        raise BadKubeconfig(f"{where}: the file cannot be read") from None
    if len(content) > MAX_BYTES:
        raise BadKubeconfig(f"{where}: the file is larger than {MAX_BYTES // 1024} KiB")
    if data_key == "token":
        token = content.decode(errors="replace").strip()
        if not plugins.usable_token(token):
            raise BadKubeconfig(f"{where}: the file must hold one word of printable characters")
        return token
    return base64.standard_b64encode(content).decode()


def _plugin(
    where: str, spec: dict[str, Any], cluster: _Entry, data: dict[str, Any]
) -> plugins.ExecPlugin:
    info = None
    if spec.get("provideClusterInfo"):
        given = {
            "server": data["server"],
            "tlsServerName": data.get("tls-server-name"),
            "insecureSkipTLSVerify": data.get("insecure-skip-tls-verify", False),
            "certificateAuthorityData": data.get("certificate-authority-data"),
            "proxyURL": data.get("proxy-url"),
            "config": _extension(cluster.body.get("extensions")),
        }
        info = {key: value for key, value in given.items() if value is not None}
    return plugins.describe(where, spec, info)


def _extension(extensions: Any) -> Any:
    """The cluster's configuration for exec plugins (its extension of that name)."""
    for item in extensions if isinstance(extensions, list) else ():
        if isinstance(item, dict) and item.get("name") == EXEC_EXTENSION:
            return item.get("extension")
    return None
