"""drift.git against real repositories: local ones read in place, "remote" ones (file://
URLs) through the mirror, and a few servers that misbehave on purpose."""

from __future__ import annotations

import fcntl
import http.server
import multiprocessing
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drift.git import GitError, Repository, SourceFile, redact
from drift.git.reading import _extraction_filter

BINARY = b'{"data": "\x00\xff\xfe"}\r\n\x00'

FILES = {
    "k8s/base/deploy.yaml": b"kind: Deployment\n",
    "k8s/base/service.yml": b"kind: Service\n",
    "k8s/base/kustomization.yaml": b"resources: [deploy.yaml, service.yml]\n",
    "k8s/base/README.md": b"# not a manifest\n",
    "k8s/base/nested/deeper/config.json": BINARY,
    "k8s/base/nested/a.yaml": b"kind: ConfigMap\n",
    "k8s/overlays/prod/kustomization.yaml": b"resources: [../../base]\n",
    "docs/example.yaml": b"kind: Example\n",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
        + ["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]
        + ["-c", "tag.gpgsign=false", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit(repo: Path, files: dict[str, bytes], message: str = "change") -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(content)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A working copy with manifests, a symlink, a submodule entry, branches and tags."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "--quiet")
    commit(repo, FILES, "first")
    (repo / "k8s/base/link.yaml").symlink_to("deploy.yaml")
    git(repo, "add", "k8s/base/link.yaml")
    # A submodule is only a commit id in the tree; its name must not make it a manifest.
    gitlink = "160000,1111111111111111111111111111111111111111,k8s/base/vendored.yaml"
    git(repo, "update-index", "--add", "--cacheinfo", gitlink)
    git(repo, "commit", "--quiet", "-m", "link and submodule")
    git(repo, "tag", "v1")
    git(repo, "tag", "-a", "v2", "-m", "release 2")
    git(repo, "branch", "dev")
    return repo


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def remote(origin: Path) -> str:
    return origin.as_uri()  # file:///...: goes through the mirror like https:// would


def paths(files: list[SourceFile]) -> list[str]:
    return [f.path for f in files]


# --- reading in place ----------------------------------------------------------------------


def test_it_reads_every_manifest_below_the_subpath(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)
    files = repo.read(repo.resolve("main"), "k8s/base")

    assert paths(files) == [
        "k8s/base/deploy.yaml",
        "k8s/base/kustomization.yaml",
        "k8s/base/nested/a.yaml",
        "k8s/base/nested/deeper/config.json",
        "k8s/base/service.yml",
    ]
    assert files[0] == SourceFile("k8s/base/deploy.yaml", b"kind: Deployment\n")


def test_it_reads_the_whole_repository_sorted_by_path(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)
    files = repo.read(repo.resolve("main"))

    assert paths(files) == sorted(paths(files))
    assert paths(files)[0] == "docs/example.yaml"
    assert "k8s/overlays/prod/kustomization.yaml" in paths(files)
    assert len(files) == 7


def test_it_reads_only_the_requested_suffixes(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)

    files = repo.read(repo.resolve("main"), "k8s", suffixes=(".json", ".md"))

    assert paths(files) == ["k8s/base/README.md", "k8s/base/nested/deeper/config.json"]


def test_it_returns_content_byte_for_byte(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)

    files = repo.read(repo.resolve("main"), "k8s/base/nested/deeper/")

    assert files == [SourceFile("k8s/base/nested/deeper/config.json", BINARY)]


def test_it_normalises_the_subpath(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)
    sha = repo.resolve("main")

    assert repo.read(sha, "/k8s/./base/") == repo.read(sha, "k8s/base")
    assert repo.read(sha, ".") == repo.read(sha, "")


def test_it_reads_many_files_with_a_few_git_processes(
    origin: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(origin, {f"many/{n:03}.yaml": f"n: {n}\n".encode() for n in range(200)})
    repo = Repository(str(origin), cache)
    sha = repo.resolve("main")
    counting = tmp_path / "counting-bin"
    counting.mkdir()
    log = tmp_path / "git-calls"
    (counting / "git").write_text(
        f'#!/bin/sh\necho "$*" >> {log}\nexec {shutil.which("git")} "$@"\n'
    )
    (counting / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{counting}{os.pathsep}{os.environ['PATH']}")

    files = repo.read(sha, "many")

    assert len(files) == 200
    assert files[7] == SourceFile("many/007.yaml", b"n: 7\n")
    assert len(log.read_text().splitlines()) <= 3


def test_it_reads_a_bare_repository_in_place(origin: Path, cache: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(origin), str(bare))
    repo = Repository(str(bare), cache)

    repo.fetch()
    files = repo.read(repo.resolve("v1"), "k8s/base/nested")

    assert paths(files) == ["k8s/base/nested/a.yaml", "k8s/base/nested/deeper/config.json"]
    assert repo.mirror is None
    assert not cache.exists()


def test_it_reads_a_worktree_in_place(origin: Path, cache: Path, tmp_path: Path) -> None:
    git(origin, "worktree", "add", "--quiet", str(tmp_path / "wt"), "dev")
    repo = Repository(str(tmp_path / "wt"), cache)

    assert repo.resolve("HEAD") == git(origin, "rev-parse", "dev")


def test_it_never_changes_a_local_working_copy(origin: Path, cache: Path, tmp_path: Path) -> None:
    (origin / "k8s/base/deploy.yaml").write_bytes(b"kind: Uncommitted\n")
    before = (git(origin, "status", "--porcelain"), git(origin, "show-ref"))
    repo = Repository(str(origin), cache)

    repo.fetch()
    files = repo.read(repo.resolve("main"), "k8s/base")
    repo.export(repo.resolve("main"), "k8s/base", tmp_path / "out")

    assert files[0].content == b"kind: Deployment\n"  # the commit, not the working tree
    assert (git(origin, "status", "--porcelain"), git(origin, "show-ref")) == before
    assert not cache.exists()


def test_a_plain_directory_is_not_read_from_an_enclosing_repository(
    origin: Path, cache: Path
) -> None:
    repo = Repository(str(origin / "k8s"), cache)

    with pytest.raises(GitError, match="not a git repository"):
        repo.fetch()


# --- refs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["main", "dev", "v1", "v2", "refs/heads/main", "full", "short"])
def test_it_resolves_branches_tags_and_shas_to_the_commit(
    origin: Path, cache: Path, name: str
) -> None:
    head = git(origin, "rev-parse", "HEAD")
    ref = {"full": head, "short": head[:7]}.get(name, name)

    for repo in (Repository(str(origin), cache), Repository(remote(origin), cache)):
        repo.fetch()
        assert repo.resolve(ref) == head


def test_it_peels_an_annotated_tag_to_its_commit(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)

    assert git(origin, "cat-file", "-t", "v2") == "tag"
    assert repo.resolve("v2") == git(origin, "rev-parse", "v2^{commit}")
    assert repo.resolve("v2") != git(origin, "rev-parse", "v2")


def test_it_names_the_available_refs_when_a_ref_is_missing(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    repo.fetch()

    with pytest.raises(GitError) as error:
        repo.resolve("release")

    message = str(error.value)
    assert message.startswith(f"ref 'release' not found in {remote(origin)}")
    assert "branches: " in message and "main" in message and "dev" in message
    assert "tags: " in message and "v1" in message and "v2" in message


def test_it_does_not_take_an_unknown_sha_or_an_option_for_a_ref(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)

    with pytest.raises(GitError, match="not found"):
        repo.resolve("0123456789abcdef0123456789abcdef01234567")
    with pytest.raises(GitError, match="not a valid ref"):
        repo.resolve("--all")


def test_it_names_a_missing_subpath(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)
    sha = repo.resolve("main")

    with pytest.raises(GitError, match=r"path 'k8s/staging' does not exist at [0-9a-f]{40}"):
        repo.read(sha, "k8s/staging")
    with pytest.raises(GitError, match="path 'k8s/base/deploy.yaml' is not a directory"):
        repo.read(sha, "k8s/base/deploy.yaml")
    with pytest.raises(GitError, match="path 'k8s/staging' does not exist"):
        repo.export(sha, "k8s/staging", origin.parent / "out")
    with pytest.raises(GitError, match="must stay inside the repository"):
        repo.read(sha, "../elsewhere")


def test_it_names_a_missing_revision(origin: Path, cache: Path) -> None:
    repo = Repository(str(origin), cache)

    with pytest.raises(GitError, match="revision 'nope' not found in .*origin"):
        repo.read("nope", "k8s")


# --- the mirror ----------------------------------------------------------------------------


def test_it_mirrors_a_remote_repository(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)

    repo.fetch()

    assert repo.mirror is not None and repo.mirror.parent == cache
    assert git(repo.mirror, "rev-parse", "--is-bare-repository") == "true"
    assert paths(repo.read(repo.resolve("dev"), "k8s/overlays")) == [
        "k8s/overlays/prod/kustomization.yaml"
    ]
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [repo.mirror.name, repo.mirror.with_suffix(".lock").name]
    )


def test_it_refuses_to_read_before_the_first_fetch(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)

    with pytest.raises(GitError, match="has not been fetched yet"):
        repo.resolve("main")


def test_it_sees_new_commits_after_fetch_and_not_before(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    repo.fetch()
    old = repo.resolve("main")

    new = commit(origin, {"k8s/base/added.yaml": b"kind: Secret\n"})

    assert repo.resolve("main") == old
    with pytest.raises(GitError, match="not found"):
        repo.resolve(new)
    repo.fetch()
    assert repo.resolve("main") == new
    assert "k8s/base/added.yaml" in paths(repo.read(new, "k8s/base"))
    assert "k8s/base/added.yaml" not in paths(repo.read(old, "k8s/base"))


def test_a_fetch_prunes_deleted_branches_and_follows_moved_tags(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    repo.fetch()

    git(origin, "branch", "-D", "dev")
    moved = commit(origin, {"k8s/base/x.yaml": b"x: 1\n"})
    git(origin, "tag", "--force", "v1")
    repo.fetch()

    with pytest.raises(GitError, match="not found"):
        repo.resolve("dev")
    assert repo.resolve("v1") == moved


def test_the_mirror_remembers_its_url_but_no_fetch_head(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    repo.fetch()
    assert repo.mirror is not None
    assert git(repo.mirror, "config", "remote.origin.url") == remote(origin)
    assert not (repo.mirror / "FETCH_HEAD").exists()


def test_a_fetch_recovers_from_ref_locks_left_by_a_killed_fetch(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    repo.fetch()
    assert repo.mirror is not None
    (repo.mirror / "refs/heads/main.lock").write_text("")
    (repo.mirror / "packed-refs.lock").write_text("")

    new = commit(origin, {"k8s/base/after.yaml": b"a: 1\n"})
    repo.fetch()

    assert repo.resolve("main") == new


def fetch_in_another_process(url: str, cache: str, barrier: object, rounds: int) -> None:
    repo = Repository(url, Path(cache))
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(rounds):
        repo.fetch()


def test_two_processes_fetching_at_once_leave_a_working_mirror(origin: Path, cache: Path) -> None:
    # Both start on an empty cache: one clones, the other waits for the lock, then fetches.
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    workers = [
        context.Process(
            target=fetch_in_another_process, args=(remote(origin), str(cache), barrier, 3)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [worker.exitcode for worker in workers] == [0, 0]
    repo = Repository(remote(origin), cache)
    assert repo.mirror is not None
    git(repo.mirror, "fsck", "--strict", "--no-dangling")
    assert repo.resolve("main") == git(origin, "rev-parse", "main")
    assert len(repo.read(repo.resolve("main"))) == 7
    assert [p.name for p in cache.glob("*.tmp-*")] == []


def test_a_fetch_waits_for_the_lock_of_another_fetch(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache, timeout=0.5)
    assert repo.mirror is not None
    cache.mkdir()
    with open(repo.mirror.with_suffix(".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another worker is fetching

        with pytest.raises(GitError, match="waiting for another fetch"):
            repo.fetch()

    assert not repo.mirror.exists()
    repo.fetch()
    assert repo.mirror.exists()


# --- failures --------------------------------------------------------------------------------


HANGING = """#!/bin/sh
sleep 60 &
echo $! > "$(dirname "$0")/helper.pid"
exec sleep 60
"""


@pytest.fixture
def slow_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `git` first on PATH that never finishes, with a helper process of its own."""
    bin_dir = tmp_path / "slow-bin"
    bin_dir.mkdir()
    fake = bin_dir / "git"
    fake.write_text(HANGING)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "helper.pid"


def is_running(pid: int) -> bool:
    """False once the process is gone or a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_git_that_hangs_times_out_with_its_helpers(
    origin: Path, cache: Path, slow_git: Path
) -> None:
    repo = Repository(str(origin), cache, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(GitError, match=r"git rev-parse timed out after 0.5 s while resolving"):
        repo.resolve("main")

    assert time.monotonic() - started < 5
    # A helper left running (index-pack, remote-https) would go on writing to the mirror.
    helper = int(slow_git.read_text())
    deadline = time.monotonic() + 5
    while is_running(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(helper)


def test_a_clone_that_times_out_leaves_no_mirror_behind(
    origin: Path, cache: Path, slow_git: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repository(remote(origin), cache, timeout=0.5)
    assert repo.mirror is not None

    with pytest.raises(GitError, match=r"git clone timed out after 0.5 s while cloning file://"):
        repo.fetch()

    assert sorted(p.name for p in cache.iterdir()) == [repo.mirror.with_suffix(".lock").name]
    monkeypatch.undo()
    with pytest.raises(GitError, match="has not been fetched yet"):
        repo.resolve("main")


def test_a_clone_killed_halfway_is_cleaned_up_by_the_next_fetch(origin: Path, cache: Path) -> None:
    repo = Repository(remote(origin), cache)
    assert repo.mirror is not None
    leftover = repo.mirror.with_name(repo.mirror.stem + ".tmp-killed")
    (leftover / "objects").mkdir(parents=True)  # what SIGKILL during a clone leaves

    repo.fetch()

    assert not leftover.exists()
    assert repo.resolve("main") == git(origin, "rev-parse", "main")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_url_is_reported_without_its_password(cache: Path) -> None:
    url = f"https://alice:s3cr%40t-token@127.0.0.1:{free_port()}/org/repo.git"
    repo = Repository(url, cache, timeout=20)

    with pytest.raises(GitError) as error:
        repo.fetch()

    message = str(error.value)
    assert message.startswith("git clone failed while cloning https://alice:***@127.0.0.1:")
    assert "s3cr" not in message
    assert "Failed to connect" in message or "Connection refused" in message
    assert "s3cr" not in repr(repo)


class PasswordProtectedFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a directory to alice (password s3cret) only: git's "dumb" HTTP protocol."""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "Basic YWxpY2U6czNjcmV0":  # alice:s3cret
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server(origin: Path, tmp_path: Path) -> Iterator[str]:
    """A password-protected HTTP server with origin as /repo.git."""
    served = tmp_path / "served"
    served.mkdir()
    git(served, "clone", "--quiet", "--bare", str(origin), "repo.git")
    git(served / "repo.git", "update-server-info")  # the index dumb HTTP clients read

    def handler(*args: Any) -> PasswordProtectedFiles:
        return PasswordProtectedFiles(*args, directory=str(served))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}/repo.git"
    server.shutdown()
    server.server_close()


def test_it_mirrors_over_http_and_keeps_the_password_off_the_disk(
    http_server: str, origin: Path, cache: Path
) -> None:
    repo = Repository(f"http://alice:s3cret@{http_server}", cache)

    repo.fetch()
    repo.fetch()

    assert repo.resolve("v2") == git(origin, "rev-parse", "v2^{commit}")
    assert len(repo.read(repo.resolve("main"))) == 7
    assert repo.mirror is not None
    stored = subprocess.run(["grep", "-r", "s3cret", str(cache)], capture_output=True, text=True)
    assert stored.returncode == 1, stored.stdout


def test_a_wrong_password_is_reported_without_the_password(http_server: str, cache: Path) -> None:
    repo = Repository(f"http://alice:wr0ng-pass@{http_server}", cache)

    with pytest.raises(GitError) as error:
        repo.fetch()

    assert "wr0ng" not in str(error.value)
    assert f"http://alice:***@{http_server}" in str(error.value)


def test_it_never_waits_for_a_password(http_server: str, cache: Path) -> None:
    repo = Repository(f"http://{http_server}", cache, timeout=30)

    started = time.monotonic()
    with pytest.raises(GitError, match="terminal prompts disabled"):
        repo.fetch()

    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://alice:tok@example.com/r.git", "https://alice:***@example.com/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://bob:p@ss@example.com/r.git", "https://bob:***@example.com/r.git"),
        ("ssh://git@example.com/o/r.git", "ssh://git@example.com/o/r.git"),
        ("git@example.com:o/r.git", "git@example.com:o/r.git"),
        ("/srv/git/repo", "/srv/git/repo"),
    ],
)
def test_it_redacts_credentials_from_urls(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert (
        redact(f"fatal: unable to access '{url}': boom")
        == f"fatal: unable to access '{shown}': boom"
    )


def test_the_mirror_of_a_url_does_not_depend_on_its_password(cache: Path) -> None:
    first = Repository("https://alice:old@example.com/r.git", cache)
    rotated = Repository("https://alice:new@example.com/r.git", cache)
    other = Repository("https://example.com/other.git", cache)

    assert first.mirror == rotated.mirror != other.mirror


# --- export ----------------------------------------------------------------------------------


def test_it_exports_the_tree_for_kustomize(origin: Path, cache: Path, tmp_path: Path) -> None:
    tricky = {
        "k8s/base/with space.yaml": b"a: 1\n",
        "k8s/base/ünïcode.yaml": b"b: 2\n",
        "k8s/base/.hidden/c.yaml": b"c: 3\n",
        "k8s/base/files/app.properties": b"key=value\n",
    }
    commit(origin, tricky)
    (origin / "k8s/base/script.sh").write_text("#!/bin/sh\n")
    (origin / "k8s/base/script.sh").chmod(0o755)
    commit(origin, {}, "an executable")
    repo = Repository(remote(origin), cache)
    repo.fetch()

    directory = repo.export(repo.resolve("main"), "k8s/base/", tmp_path / "out")

    assert directory == tmp_path / "out" / "k8s/base"
    for name, content in {**FILES, **tricky}.items():
        assert (tmp_path / "out" / name).read_bytes() == content
    assert (directory / "link.yaml").is_symlink()
    assert (directory / "link.yaml").read_bytes() == b"kind: Deployment\n"
    assert os.access(directory / "script.sh", os.X_OK)
    # the overlay's base is outside its directory, and is there too
    assert (tmp_path / "out/k8s/overlays/prod/../../base/deploy.yaml").exists()


def test_it_exports_the_repository_root(origin: Path, cache: Path, tmp_path: Path) -> None:
    repo = Repository(str(origin), cache)

    directory = repo.export(repo.resolve("v1"), "", tmp_path / "out")

    assert directory == tmp_path / "out"
    assert (directory / "docs/example.yaml").read_bytes() == b"kind: Example\n"


def test_export_leaves_out_symlinks_that_point_out_of_the_tree(
    origin: Path, cache: Path, tmp_path: Path
) -> None:
    (origin / "k8s/base/passwd.yaml").symlink_to("/etc/passwd")
    (origin / "k8s/base/up.yaml").symlink_to("../../../../outside.yaml")
    git(origin, "add", "--all")
    git(origin, "commit", "--quiet", "-m", "escape attempts")
    repo = Repository(str(origin), cache)

    directory = repo.export(repo.resolve("main"), "k8s/base", tmp_path / "out")

    assert not (directory / "passwd.yaml").exists() and not (directory / "passwd.yaml").is_symlink()
    assert not (directory / "up.yaml").is_symlink()
    assert (directory / "deploy.yaml").exists()


@pytest.mark.parametrize("name", ["../evil.yaml", "/etc/evil.yaml", "k8s/../../evil.yaml"])
def test_extraction_refuses_names_outside_the_directory(name: str, tmp_path: Path) -> None:
    member = tarfile.TarInfo(name)

    with pytest.raises(GitError, match="refusing to extract"):
        _extraction_filter(member, str(tmp_path))
