"""Kubeconfigs are data, never code (drift.kube.kubeconfig, drift.kube.plugins): what the
Kubernetes door refuses before the client sees a kubeconfig, how allowlisted credential
plugins run, and how a connection that breaks off mid-answer is retried."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
import urllib3

from drift import kube
from drift.admin import ClusterForm
from drift.kube.transport import Transport

SERVER_FILE_SECRET = "s3rver-file-c0ntent-never-shown"


def kubeconfig(user: str = "    token: t0ken", server: str = "https://127.0.0.1:6443") -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
{user}
contexts:
- name: prod
  context: {{cluster: prod, user: admin}}
current-context: prod
"""


def exec_user(command: str, *args: str, version: str = "v1beta1", env: str = "") -> str:
    return f"""\
    exec:
      apiVersion: client.authentication.k8s.io/{version}
      command: {command}
      args: {json.dumps(list(args))}
{env}"""


def refusal(text: str, credentials: kube.CredentialPolicy | None = None) -> str:
    with pytest.raises(kube.BadKubeconfig) as refused:
        kube.Kube(text, credentials=credentials)
    with pytest.raises(kube.BadKubeconfig):
        kube.check_kubeconfig(text, credentials=credentials)
    return str(refused.value)


def write_plugin(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def credential(token: str, expires: str = "") -> str:
    status: dict[str, Any] = {"token": token}
    if expires:
        status["expirationTimestamp"] = expires
    answer = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential"}
    return json.dumps({**answer, "status": status})


def test_an_exec_entry_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    message = refusal(kubeconfig(exec_user("/bin/sh", "-c", f"touch {marker}")))
    assert message.startswith('users[0] ("admin").user.exec: credential plugins run commands')
    assert "KUBECONFIG_EXEC_ALLOWLIST" in message
    assert not marker.exists()


def test_an_auth_provider_is_refused_even_when_its_command_is_allowlisted(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    user = f"""\
    auth-provider:
      name: gcp
      config: {{cmd-path: "/bin/sh -c 'touch {marker}'"}}"""
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({"/bin/sh"}))
    message = refusal(kubeconfig(user), allowed)
    assert message.startswith('users[0] ("admin").user.auth-provider:')
    assert "credential plugin (exec)" in message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("where", "entry"),
    [
        ('users[0] ("admin").user.tokenFile', "    tokenFile: {path}"),
        ('users[0] ("admin").user.client-certificate', "    client-certificate: {path}"),
        ('users[0] ("admin").user.client-key', "    client-key: {path}"),
    ],
)
def test_a_file_reference_is_refused_without_reading_the_file(
    tmp_path: Path, where: str, entry: str
) -> None:
    secret = tmp_path / "secret"
    secret.write_text(SERVER_FILE_SECRET)
    message = refusal(kubeconfig(entry.format(path=secret)))
    assert message.startswith(f"{where}: file references would read this server's files")
    assert SERVER_FILE_SECRET not in message


def test_a_certificate_authority_path_is_refused(tmp_path: Path) -> None:
    text = kubeconfig().replace(
        "insecure-skip-tls-verify: true", f"certificate-authority: {tmp_path / 'ca.crt'}"
    )
    assert refusal(text).startswith('clusters[0] ("prod").cluster.certificate-authority:')


def test_files_under_the_configured_root_are_read_and_nothing_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "token").write_text("r00t-token\n")
    (outside / "token").write_text(SERVER_FILE_SECRET)
    (root / "link").symlink_to(outside / "token")
    allowed = kube.CredentialPolicy(file_root=str(root))

    connection = kube.Kube(kubeconfig("    tokenFile: token"), credentials=allowed)
    assert connection._api.configuration.api_key["BearerToken"] == "Bearer r00t-token"
    for escape in ["../outside/token", str(outside / "token"), "link", f"{root}/../outside/token"]:
        message = refusal(kubeconfig(f"    tokenFile: {escape}"), allowed)
        assert "KUBECONFIG_FILE_ROOT" in message
        assert SERVER_FILE_SECRET not in message


def test_a_server_url_holding_credentials_is_refused_without_showing_them() -> None:
    message = refusal(kubeconfig(server="https://deployer:pa55word@prod.example:6443"))
    assert message == (
        'clusters[0] ("prod").cluster.server: must not hold credentials; give them in a user'
    )


def test_a_yaml_error_names_the_line_but_not_its_content() -> None:
    text = kubeconfig("    token: sup3r-secret-t0ken: oops")
    message = refusal(text)
    assert message == (
        "the kubeconfig is not valid YAML: line 11, column 30: mapping values are not allowed here"
    )
    assert "sup3r" not in message


def test_yaml_aliases_are_refused_before_anything_expands_them() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    assert "aliases (*name) are not accepted" in refusal(bomb)


def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it() -> None:
    message = refusal(kubeconfig('    token: "half\\nsecret"'))
    assert message == 'users[0] ("admin").user.token: must be one word of printable characters'


def test_a_bare_plugin_name_is_told_the_allowlisted_path(tmp_path: Path) -> None:
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({"/usr/local/bin/aws"}))
    message = refusal(kubeconfig(exec_user("aws", "eks", "get-token")), allowed)
    assert message == (
        'users[0] ("admin").user.exec.command: give the plugin\'s absolute path, /usr/local/bin/aws'
    )


def test_a_plugin_may_not_set_variables_that_change_what_code_runs(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "plugin", "exit 1\n")
    env = "      env: [{name: LD_PRELOAD, value: /tmp/evil.so}, {name: AWS_PROFILE, value: x}]\n"
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    message = refusal(kubeconfig(exec_user(plugin, env=env)), allowed)
    assert message.startswith('users[0] ("admin").user.exec.env[0].name: LD_PRELOAD changes')
    assert "env[1]" not in message


def test_an_allowlisted_plugin_runs_with_a_minimal_environment(tmp_path: Path) -> None:
    seen = tmp_path / "environment.json"
    plugin = write_plugin(
        tmp_path,
        "plugin",
        f"{sys.executable} -c 'import json, os; print(json.dumps(dict(os.environ)))' > {seen}\n"
        f"echo '{credential('pl4gin-token')}'\n",
    )
    env = "      env: [{name: AWS_PROFILE, value: prod}]\n"
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    assert "SECRET_KEY" in os.environ and "DATABASE_URL" in os.environ

    connection = kube.Kube(kubeconfig(exec_user(plugin, env=env)), credentials=allowed)

    assert connection._api.configuration.api_key["BearerToken"] == "Bearer pl4gin-token"
    environment = json.loads(seen.read_text())
    passed = {name for name in ("PATH", "HOME", "LANG") if name in os.environ}
    shell = {"PWD", "SHLVL", "_"}  # what the plugin's own shell adds
    assert set(environment) - shell == passed | {"AWS_PROFILE", "KUBERNETES_EXEC_INFO"}
    assert environment["AWS_PROFILE"] == "prod"
    info = json.loads(environment["KUBERNETES_EXEC_INFO"])
    assert info["kind"] == "ExecCredential" and info["spec"] == {"interactive": False}


def test_checking_a_kubeconfig_runs_no_plugin(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    plugin = write_plugin(tmp_path, "plugin", f"touch {marker}\nexit 1\n")
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    text = kubeconfig(exec_user(plugin))
    assert kube.check_kubeconfig(text, credentials=allowed) == "https://127.0.0.1:6443"
    assert not marker.exists()


def test_a_plugin_past_its_timeout_is_stopped_with_a_clear_message(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "slow", "sleep 30\necho never\n")
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}), exec_timeout=1)
    started = time.monotonic()
    with pytest.raises(kube.Unreachable) as failed:
        kube.Kube(kubeconfig(exec_user(plugin)), credentials=allowed)
    assert time.monotonic() - started < 5
    assert str(failed.value) == (
        f'users[0] ("admin").user.exec: {plugin} gave no credential within 1 seconds '
        "(KUBECONFIG_EXEC_TIMEOUT_SECONDS)"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("echo sup3r-secret >&2\nexit 3\n", "failed (exit status 3); its error output is"),
        ("echo sup3r-secret\n", "printed no ExecCredential (JSON)"),
        ('echo \'{"kind": "ExecCredential", "apiVersion": "sup3r"}\'\n', "did not answer"),
    ],
)
def test_a_failing_plugin_says_why_without_echoing_its_output(
    tmp_path: Path, body: str, expected: str
) -> None:
    plugin = write_plugin(tmp_path, "plugin", body)
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    message = refusal_at_connect(kubeconfig(exec_user(plugin)), allowed)
    assert expected in message
    assert "sup3r" not in message


def refusal_at_connect(text: str, credentials: kube.CredentialPolicy) -> str:
    with pytest.raises(kube.KubeError) as refused:
        kube.Kube(text, credentials=credentials)
    return str(refused.value)


# --- A fake API server: 401 for stale plugin credentials, answers that break off --------


@pytest.fixture
def api_server() -> Iterator[Callable[[Callable[[str], tuple[int, bytes, int]]], str]]:
    """serve(answer) -> the server's URL; answer(authorization) gives (status, body, bytes
    announced), announcing more than it sends to break the answer off."""
    servers: list[ThreadingHTTPServer] = []

    def serve(answer: Callable[[str], tuple[int, bytes, int]]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, length = answer(self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


VERSION = json.dumps({"gitVersion": "v1.20.2"}).encode()


def test_a_plugin_credential_refused_with_401_is_renewed_once(tmp_path: Path, api_server) -> None:
    runs = tmp_path / "runs"
    plugin = write_plugin(
        tmp_path,
        "plugin",
        f"echo run >> {runs}\n"
        f'echo \'{{"kind": "ExecCredential", "apiVersion": '
        f'"client.authentication.k8s.io/v1beta1", "status": '
        f'{{"token": "token-\'$(wc -l < {runs})\'"}}}}\'\n',
    )
    url = api_server(lambda auth: (200, VERSION, len(VERSION)) if auth == "Bearer token-2"
                     else (401, b"{}", 2))  # fmt: skip
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    connection = kube.Kube(kubeconfig(exec_user(plugin), server=url), credentials=allowed)
    assert connection.version() == "v1.20.2"
    assert runs.read_text().count("run") == 2


def test_an_expired_plugin_credential_is_renewed_before_the_request(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    answer = credential("t0ken", expires="2020-01-01T00:00:00Z")
    plugin = write_plugin(tmp_path, "plugin", f"echo run >> {runs}\necho '{answer}'\n")
    allowed = kube.CredentialPolicy(exec_allowlist=frozenset({plugin}))
    connection = kube.Kube(kubeconfig(exec_user(plugin)), credentials=allowed)
    connection._current()
    assert runs.read_text().count("run") == 2


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Transport, "_backoff", lambda self, attempt, retry_after=None: None)


def test_an_answer_broken_off_mid_body_is_sent_again(api_server, no_backoff) -> None:
    answers = iter([(200, VERSION[:5], len(VERSION)), (200, VERSION, len(VERSION))])
    url = api_server(lambda auth: next(answers))
    assert kube.Kube(kubeconfig(server=url)).version() == "v1.20.2"


class BrokenOff:
    """A response whose body cannot be read: the TLS connection ended mid-answer."""

    status = 200

    def read(self) -> bytes:
        raise urllib3.exceptions.SSLError(
            "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol\n"
            "(_ssl.c:2580)"
        )


def test_an_answer_that_keeps_breaking_off_ends_as_unreachable_on_one_line(
    monkeypatch: pytest.MonkeyPatch, no_backoff
) -> None:
    connection = kube.Kube(kubeconfig(), retries=2)
    sent: list[str] = []
    monkeypatch.setattr(
        Transport, "_send", lambda self, method, path, *args: sent.append(path) or BrokenOff()
    )
    with pytest.raises(kube.Unreachable) as failed:
        connection.version()
    assert len(sent) == 3
    assert str(failed.value) == (
        "https://127.0.0.1:6443: the answer to GET /version broke off after 3 attempts "
        "([SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol "
        "(_ssl.c:2580))"
    )


# --- The admin form checks what it stores, and never shows it back ------------------------


@pytest.mark.django_db
def test_the_admin_form_refuses_an_exec_kubeconfig_and_does_not_render_it(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "MARKER"
    text = kubeconfig(exec_user("/bin/sh", "-c", f"touch {marker}"))
    form = ClusterForm(data={"name": "east", "labels": "{}", "new_credentials": text})
    assert not form.is_valid()
    assert form.errors["new_credentials"][0].startswith('users[0] ("admin").user.exec:')
    assert str(marker) not in str(form["new_credentials"])
    assert not marker.exists()


@pytest.mark.django_db
def test_the_admin_form_stores_a_kubeconfig_that_is_only_data() -> None:
    form = ClusterForm(data={"name": "east", "labels": "{}", "new_credentials": kubeconfig()})
    assert form.is_valid(), form.errors
    assert form.save().read_credentials() == kubeconfig()
