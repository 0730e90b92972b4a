"""Which repositories, refs and sub-paths a Git source may name (drift.git.locations), git
refusing every other transport by itself, and a remote that keeps timing out being left
alone for a while."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift.git import GitError, Repository, locations
from drift.git.commands import GitCommands, _run

ROOTS = ("/srv/git",)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/stefanprodan/podinfo.git",
        "https://alice:s3cret@git.example/org/repo.git",
        "http://gitea.internal:3000/org/repo.git",
        "ssh://git@git.example:2222/org/repo.git",
        "git@github.com:org/repo.git",
        "deploy.example:org/repo.git",
        "/srv/git/deploy.git",
        "/srv/git",
        "file:///srv/git/deploy.git",
    ],
)
def test_it_accepts_remote_transports_and_local_paths_below_a_root(url: str) -> None:
    assert locations.url_problem(url, ROOTS) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("fd::17", "remote helper"),
        ("ext::sh -c touch% /tmp/x", "remote helper"),
        ("ext::https://git.example/r.git", "remote helper"),
        ("git://git.example/r.git", "git:// is not a transport"),
        ("ftp://git.example/r.git", "ftp:// is not a transport"),
        ("/etc", "outside the directories"),
        ("file:///etc", "outside the directories"),
        ("/srv/git/../../etc", "outside the directories"),
        ("/srv/gitx/repo", "outside the directories"),
        ("file://otherhost/srv/git/r.git", "another machine"),
        ("deploy.git", "relative path"),
        ("ssh://-oProxyCommand=touch%20x/r.git", "does not name a host"),
        ("https:///r.git", "does not name a host"),
        ("https://git.example/a b.git", "contains a space"),
        ("-uploadpack=touch:x", "not a repository location"),
        ("https://git.example/r.git\n", "control character"),
        ("", "is required"),
    ],
)
def test_it_refuses_other_transports_and_local_paths_outside_the_roots(url: str, says: str) -> None:
    problem = locations.url_problem(url, ROOTS)

    assert problem is not None and says in problem


def test_local_paths_are_refused_when_the_server_allows_none() -> None:
    for url in ("/srv/git/deploy.git", "file:///srv/git/deploy.git"):
        problem = locations.url_problem(url, ())
        assert problem is not None and "GIT_LOCAL_ROOTS is empty" in problem
    assert locations.url_problem("https://git.example/r.git", ()) is None


def test_a_symlink_cannot_lead_out_of_a_root(tmp_path: Path) -> None:
    root = tmp_path / "repos"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    (root / "inside").mkdir()

    assert locations.url_problem(str(root / "inside"), [str(root)]) is None
    problem = locations.url_problem(str(root / "escape"), [str(root)])
    assert problem is not None and "outside" in problem


def test_a_refused_url_shows_no_password() -> None:
    problem = locations.url_problem("ftp://alice:s3cret@git.example/r.git", ROOTS)

    assert problem is not None and "s3cret" not in problem


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "-", "", "main branch", "a\nb", "a\0b"])
def test_it_refuses_refs_that_are_options_or_span_lines(ref: str) -> None:
    problem = locations.ref_problem(ref)

    assert problem is not None and "is not a valid ref" in problem


@pytest.mark.parametrize("ref", ["main", "release/1.2", "v1.0.0", "0123abcd", "refs/tags/v2"])
def test_it_accepts_branches_tags_and_shas(ref: str) -> None:
    assert locations.ref_problem(ref) is None


@pytest.mark.parametrize(
    ("path", "says"),
    [("../../..", "must stay inside"), ("k8s/../..", "must stay inside"), ("k8s\n", "NUL")],
)
def test_it_refuses_sub_paths_that_leave_the_repository(path: str, says: str) -> None:
    problem = locations.subpath_problem(path)

    assert problem is not None and says in problem


def test_problems_are_named_by_field() -> None:
    assert locations.problems("https://git.example/r.git", "main", "k8s", ROOTS) == {}
    assert set(locations.problems("fd::17", "--all", "../x", ROOTS)) == {"url", "ref", "path"}


def test_git_is_told_which_transports_it_may_use() -> None:
    assert locations.allowed_protocols(()) == "http:https:ssh"
    assert locations.allowed_protocols(ROOTS) == "http:https:ssh:file"


# --- at run time ---------------------------------------------------------------------------


def test_a_stored_remote_helper_url_is_refused_at_once_with_the_declaration_s_words(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    with pytest.raises(GitError) as refused:
        Repository("fd::17", tmp_path / "cache", timeout=30, local_roots=ROOTS)

    assert str(refused.value) == locations.url_problem("fd::17", ROOTS)
    assert time.monotonic() - started < 1


def test_a_stored_local_path_outside_the_roots_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="outside the directories"):
        Repository("/etc", tmp_path / "cache", local_roots=[str(tmp_path / "repos")])
    with pytest.raises(GitError, match="reads no local repositories"):
        Repository(str(tmp_path), tmp_path / "cache", local_roots=[])


@pytest.mark.parametrize("url", ["ext::sh -c touch% {marker}", "fd::17"])
def test_git_itself_refuses_other_transports(url: str, tmp_path: Path) -> None:
    """Even a URL that got past the rules: git is run allowing only its own transports."""
    marker = tmp_path / "marker"
    argv = ["git", "clone", "--bare", "--", url.format(marker=marker), str(tmp_path / "x")]

    started = time.monotonic()
    code, _, err = _run(argv, None, 30, locations.allowed_protocols(()))

    assert code != 0 and b"not allowed" in err
    assert time.monotonic() - started < 5
    assert not marker.exists()


def test_git_refuses_file_urls_when_no_local_repository_is_allowed(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)

    code, _, err = _run(
        ["git", "clone", "--bare", "--", origin.as_uri(), str(tmp_path / "x")],
        None,
        30,
        locations.allowed_protocols(()),
    )

    assert code != 0 and b"transport 'file' not allowed" in err


# --- backing off a remote that times out ---------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An https:// address whose server accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes the handshakes; nobody ever reads
        yield f"https://127.0.0.1:{server.getsockname()[1]}/shop.git"


def test_a_remote_that_timed_out_is_left_alone_until_its_backoff_passes(
    silent_server: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    repo = Repository(silent_server, cache, timeout=1, local_roots=())
    with pytest.raises(GitError, match=r"timed out after 1 s .*not fetched again for 60 s"):
        repo.fetch()

    # Another worker (another process: another Repository) learns it from the cache.
    again = Repository(silent_server, cache, timeout=1, local_roots=())
    started = time.monotonic()
    with pytest.raises(GitError) as refused:
        again.fetch()
    assert time.monotonic() - started < 0.5
    message = str(refused.value)
    assert "is not fetched until" in message and "timed out 1 time(s) in a row" in message

    # Once the backoff has passed it is tried again; another timeout doubles the wait.
    lock = cache / f"{Path(str(repo.mirror)).stem}.lock"
    record = json.loads(lock.read_text())
    lock.write_text(json.dumps({**record, "until": time.time() - 1}))
    with pytest.raises(GitError, match="not fetched again for 120 s"):
        again.fetch()


def test_a_fetch_that_succeeds_clears_the_backoff(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    repo = Repository(origin.as_uri(), tmp_path / "cache", local_roots=[str(tmp_path)])
    assert repo.mirror is not None
    lock = repo.mirror.with_suffix(".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"timeouts": 3, "until": time.time() - 1, "error": "slow"}))

    repo.fetch()

    assert lock.read_text() == ""


def test_the_server_configuration_is_the_default(settings: object, tmp_path: Path) -> None:
    settings.GIT_LOCAL_ROOTS = ()  # type: ignore[attr-defined]
    with pytest.raises(GitError, match="reads no local repositories"):
        GitCommands(str(tmp_path), tmp_path / "cache")

    settings.GIT_LOCAL_ROOTS = (str(tmp_path),)  # type: ignore[attr-defined]
    assert GitCommands(str(tmp_path), tmp_path / "cache").local_roots == (str(tmp_path),)
    assert os.environ["GIT_LOCAL_ROOTS"]  # tests/environment.py allows pytest's tmp_path
