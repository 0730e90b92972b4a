"""Reading desired state at a commit: the manifests below a path, or the whole tree written
out for kustomize. A tree is listed, then every blob comes through one `git cat-file
--batch`, so a few processes serve any number of files."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Literal, NamedTuple

from drift.git.commands import GitCommands
from drift.git.errors import GitError
from drift.git.locations import subpath_problem
from drift.git.refs import check_revision

_SYMLINK_MODE = b"120000"
# A symlink's blob holds the path it points to; longer than this it is not a path.
_LINK_TARGET_BYTES = 4096
# A tar archive gives each file a 512-byte header and pads its content to 512 bytes.
_TAR_BLOCK = 512


class TooLarge(GitError):
    """An export whose archive would pass the total limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the archive would be {size} bytes, over the limit of {limit}")
        self.size, self.limit = size, limit


@dataclass(frozen=True)
class SourceFile:
    """One file of desired state, as committed."""

    path: str  # posix path relative to the repository root, e.g. "k8s/base/deploy.yaml"
    content: bytes


@dataclass(frozen=True)
class Limits:
    """How much a read may take: per file, and for all the files of one read together."""

    file_bytes: int | None = None
    total_bytes: int | None = None


class Unread(NamedTuple):
    """A file below the path that was listed but whose content was not read, and why."""

    path: str
    why: Literal["symlink", "file_bytes", "total_bytes"]
    size: int  # bytes in Git; for a symlink, the length of the path it holds
    target: str = ""  # where a symlink points


@dataclass
class Contents:
    """What a bounded read found: the files read, and those it left unread."""

    files: list[SourceFile] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(len(f.content) for f in self.files)


@dataclass(frozen=True)
class _Entry:
    path: str
    oid: bytes
    size: int
    symlink: bool


class Reading(GitCommands):
    """The reading part of `Repository`."""

    def read(
        self,
        revision: str,
        subpath: str = "",
        suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
    ) -> list[SourceFile]:
        """Every file below subpath at revision whose name ends with a suffix, by path."""
        return self.read_bounded(revision, subpath, suffixes).files

    def read_bounded(
        self,
        revision: str,
        subpath: str = "",
        suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
        limits: Limits = Limits(),
    ) -> Contents:
        """The files `read` returns, within limits; symlinks and files past a limit unread.

        The listing gives every size before any content is read, so a file over a limit
        never reaches memory. Files are taken in path order: once the total would pass its
        limit, that file and every later one are left unread.
        """
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        tree = self._tree(revision, prefix)
        doing = f"reading {prefix or '/'!r} at {revision} from {self.display}"
        entries = [e for e in self._entries(tree, prefix, doing) if e.path.endswith(suffixes)]
        contents, wanted, total, full = Contents(), [], 0, False
        for entry in entries:
            if entry.symlink and entry.size > _LINK_TARGET_BYTES:
                contents.unread.append(Unread(entry.path, "symlink", entry.size))
            elif entry.symlink:
                wanted.append(entry)  # the path it holds, to say where it points
            elif limits.file_bytes is not None and entry.size > limits.file_bytes:
                contents.unread.append(Unread(entry.path, "file_bytes", entry.size))
            elif full or (
                limits.total_bytes is not None and total + entry.size > limits.total_bytes
            ):
                full = True
                contents.unread.append(Unread(entry.path, "total_bytes", entry.size))
            else:
                total += entry.size
                wanted.append(entry)
        blobs = self._blobs({e.oid for e in wanted}, doing=doing)
        for entry in wanted:
            if entry.symlink:
                target = blobs[entry.oid].decode("utf-8", errors="replace")
                contents.unread.append(Unread(entry.path, "symlink", entry.size, target))
            else:
                contents.files.append(SourceFile(entry.path, blobs[entry.oid]))
        contents.unread.sort()
        return contents

    def _entries(self, tree: str, prefix: str, doing: str) -> list[_Entry]:
        """Every blob below the tree with its size, by path (submodules have no content)."""
        listing = self._git("ls-tree", "-r", "-l", "-z", tree, doing=doing)
        entries = []
        for line in listing.split(b"\0"):
            if not line:
                continue
            meta, _, raw_name = line.partition(b"\t")
            mode, kind, oid, size = meta.split()
            if kind != b"blob":
                continue
            name = raw_name.decode("utf-8", errors="replace")
            path = f"{prefix}/{name}" if prefix else name
            entries.append(_Entry(path, oid, int(size), mode == _SYMLINK_MODE))
        entries.sort(key=lambda e: e.path)
        return entries

    def export(self, revision: str, subpath: str, into: Path) -> Path:
        """Write the tree at revision into `into`; return the directory of subpath in it.

        The whole tree is written, not only subpath: a kustomize overlay usually names its
        base by a relative path such as `../../base`, outside its own directory.
        """
        return self.export_bounded(revision, subpath, into)[0]

    def export_bounded(
        self, revision: str, subpath: str, into: Path, limits: Limits = Limits()
    ) -> tuple[Path, list[Unread]]:
        """`export` within limits: files over the per-file limit are left out (and listed
        with the symlinks left out for pointing out of the tree); a tree whose archive
        would pass the total limit raises TooLarge before anything is read."""
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        self._tree(revision, prefix)
        doing = f"exporting {revision} from {self.display}"
        left_out, size = [], 0
        for entry in self._entries(revision, "", doing):
            if limits.file_bytes is not None and entry.size > limits.file_bytes:
                left_out.append(Unread(entry.path, "file_bytes", entry.size))
            else:
                size += _TAR_BLOCK + -(-entry.size // _TAR_BLOCK) * _TAR_BLOCK
        if limits.total_bytes is not None and size > limits.total_bytes:
            raise TooLarge(size, limits.total_bytes)
        # Pathspecs after "." leave the oversized files out of the archive itself.
        excluded = [f":(exclude,literal){unread.path}" for unread in left_out]
        archive = self._git("archive", "--format=tar", revision, "--", ".", *excluded, doing=doing)
        dropped: list[str] = []
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(into, filter=partial(_extraction_filter, dropped=dropped))
        left_out += [Unread(name, "symlink", 0) for name in dropped]
        return (into / prefix if prefix else into), sorted(left_out)

    def _tree(self, revision: str, prefix: str) -> str:
        """The tree id of prefix at revision, or a GitError saying which one is missing."""
        check_revision(revision)
        doing = f"reading {prefix or '/'!r} at {revision} from {self.display}"
        query = f"{revision}^{{commit}}\n{revision}:{prefix}\n".encode()
        answer = self._git("cat-file", "--batch-check", doing=doing, stdin=query)
        commit, path = answer.decode(errors="replace").splitlines()
        if commit.split(" ")[1:2] != ["commit"]:
            raise GitError(f"revision {revision!r} not found in {self.display}")
        fields = path.split(" ")
        if fields[1:2] != ["tree"]:
            what = "is not a directory" if fields[-1].isdigit() else "does not exist"
            raise GitError(f"path {prefix!r} {what} at {revision} in {self.display}")
        return fields[0]

    def _blobs(self, oids: set[bytes], doing: str) -> dict[bytes, bytes]:
        """The content of every blob, through one `git cat-file --batch` process."""
        if not oids:
            return {}
        ordered = sorted(oids)
        out = self._git("cat-file", "--batch", doing=doing, stdin=b"\n".join(ordered) + b"\n")
        contents: dict[bytes, bytes] = {}
        view, position = memoryview(out), 0
        for oid in ordered:
            header_end = out.index(b"\n", position)
            header = out[position:header_end].split(b" ")
            if len(header) != 3 or header[1] != b"blob":
                raise GitError(f"{doing}: object {oid.decode()} is missing")
            start = header_end + 1
            end = start + int(header[2])
            contents[oid] = bytes(view[start:end])
            position = end + 1  # each object ends with a newline
        return contents


def _extraction_filter(
    member: tarfile.TarInfo, destination: str, dropped: list[str] | None = None
) -> tarfile.TarInfo | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        # git archive never writes such names; one means the archive is not what we asked for.
        raise GitError(f"refusing to extract {member.name!r}: it would land outside {destination}")
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        # A symlink out of the tree (to /etc/..., or ../../) must not let kustomize read
        # this machine's files; nothing legitimate in a repository needs one.
        if dropped is not None:
            dropped.append(member.name)
        return None


def _normalize_subpath(subpath: str) -> str:
    problem = subpath_problem(subpath)
    if problem:
        raise GitError(problem)
    return "/".join(part for part in PurePosixPath(subpath.strip()).parts if part != "/")
