"""A Git source's test fetch, against real repositories: what the typed URL, ref and path
hold, and every failure said as a sentence (never raised)."""

from __future__ import annotations

import http.server
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drift.services import sources
from tests.gitwork import git


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A deploy repository: manifests and a kustomization under k8s/, a README, two more
    branches and a tag."""
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "--quiet")
    commit(
        repo,
        {
            "k8s/shop/deploy.yaml": "kind: Deployment\n",
            "k8s/shop/service.yml": "kind: Service\n",
            "k8s/shop/kustomization.yaml": "resources: [deploy.yaml, service.yml]\n",
            "k8s/config.json": "{}\n",
            "k8s/README.md": "# not a manifest\n",
            "docs/notes.txt": "hello\n",
        },
    )
    git(repo, "tag", "v1.0")
    git(repo, "branch", "staging")
    git(repo, "checkout", "--quiet", "-b", "feature/new-shop")
    commit(repo, {"k8s/shop/extra.yaml": "kind: ConfigMap\n"})
    git(repo, "checkout", "--quiet", "main")
    return repo


def test_it_lists_branches_and_tags_and_counts_the_manifests_below_the_path(
    origin: Path,
) -> None:
    trial = sources.try_fetch(origin.as_uri(), "main", "k8s")

    assert trial.error == ""
    assert sorted(trial.branches) == ["feature/new-shop", "main", "staging"]
    assert trial.tags == ["v1.0"]
    assert trial.commit == git(origin, "rev-parse", "main")
    assert trial.path_found is True
    # deploy.yaml, service.yml, kustomization.yaml and config.json; not the README.
    assert (trial.manifests, trial.kustomizations) == (4, 1)


def test_a_local_path_is_read_in_place_and_a_branch_or_tag_resolves(origin: Path) -> None:
    branch = sources.try_fetch(str(origin), "feature/new-shop", "/k8s/shop/")
    tag = sources.try_fetch(str(origin), "v1.0", "")

    assert branch.commit == git(origin, "rev-parse", "feature/new-shop")
    assert (branch.path, branch.manifests) == ("k8s/shop", 4)
    assert tag.commit == git(origin, "rev-parse", "v1.0^{commit}")
    assert (tag.path_found, tag.manifests) == (True, 4)


def test_an_unknown_ref_is_said_with_the_refs_that_exist(origin: Path) -> None:
    trial = sources.try_fetch(origin.as_uri(), "production", "k8s")

    assert trial.error == ""
    assert trial.ref_error == (
        "'production' is neither a branch, a tag nor a commit of this repository."
    )
    assert trial.commit == ""
    assert "staging" in trial.branches and trial.tags == ["v1.0"]


def test_a_missing_path_is_said_and_a_path_without_manifests_counts_none(origin: Path) -> None:
    missing = sources.try_fetch(str(origin), "main", "deploy/prod")
    no_manifests = sources.try_fetch(str(origin), "main", "docs")

    assert (missing.commit != "", missing.path_found, missing.manifests) == (True, False, 0)
    assert (no_manifests.path_found, no_manifests.manifests) == (True, 0)


def test_a_file_is_not_a_path(origin: Path) -> None:
    trial = sources.try_fetch(str(origin), "main", "k8s/README.md")

    assert trial.path_found is False


def test_nothing_is_left_behind_where_scans_keep_their_mirrors(
    origin: Path, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path / "var"
    before = set(Path(tempfile.gettempdir()).glob("driftcontrol-test-fetch-*"))

    sources.try_fetch(origin.as_uri(), "main", "k8s")

    assert not (tmp_path / "var").exists()
    # Nothing of its own left (another worker's fetch may come and go meanwhile).
    assert set(Path(tempfile.gettempdir()).glob("driftcontrol-test-fetch-*")) <= before


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_host_is_a_sentence_without_the_password() -> None:
    url = f"https://alice:s3cr3t-token@127.0.0.1:{free_port()}/org/deploy.git"

    trial = sources.try_fetch(url, "main", "")

    assert trial.error.startswith("The host could not be reached: check the host and port")
    assert "s3cr3t" not in trial.error and "s3cr3t" not in trial.url
    assert trial.url == f"https://alice:***@127.0.0.1:{url.split(':')[3]}"


def test_an_unknown_host_is_a_sentence() -> None:
    trial = sources.try_fetch("https://git.invalid/org/deploy.git", "main", "")

    assert trial.error.startswith("The host could not be found: check the host name")


class PasswordProtected(http.server.BaseHTTPRequestHandler):
    """Asks every client for a password nobody gives."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def locked_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PasswordProtected)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("user", ["", "alice:wr0ng-pass@"])
def test_a_refused_login_is_a_sentence(locked_server: str, user: str) -> None:
    trial = sources.try_fetch(f"http://{user}{locked_server}/deploy.git", "main", "")

    assert trial.error.startswith("The server refused access: the repository needs credentials")
    assert "wr0ng" not in trial.error


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that takes connections and never says a word."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield int(listening.getsockname()[1])


def test_a_silent_host_times_out_within_the_test_fetch_limit(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "TEST_FETCH_SECONDS", 1)

    trial = sources.try_fetch(f"https://127.0.0.1:{silent_server}/deploy.git", "main", "")

    assert trial.error.startswith(
        f"https://127.0.0.1:{silent_server}/deploy.git did not answer within 1 seconds"
    )
    assert trial.seconds < 10


@pytest.mark.parametrize(
    ("url", "ref", "path", "said"),
    [
        ("ext::sh -c touch% /tmp/pwned", "main", "", "URL: 'ext::sh -c touch% /tmp/pwned' names"),
        ("/etc", "main", "", "URL: '/etc' is outside the directories"),
        ("https://example.com/r.git", "--upload-pack=x", "", "Ref: '--upload-pack=x' is not"),
        ("https://example.com/r.git", "main", "../../etc", "Path: sub-path '../../etc' must"),
    ],
)
def test_what_the_server_refuses_is_never_fetched(url: str, ref: str, path: str, said: str) -> None:
    trial = sources.try_fetch(url, ref, path)

    assert trial.error.startswith(said)
    assert trial.seconds == 0.0
