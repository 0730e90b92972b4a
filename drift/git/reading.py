"""Reading desired state at a commit: the manifests below a path, or the whole tree written
out for kustomize. A tree is listed, then every blob comes through one `git cat-file
--batch`, so a few processes serve any number of files."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from drift.git.commands import GitCommands
from drift.git.errors import GitError
from drift.git.refs import check_revision

_SYMLINK_MODE = b"120000"


@dataclass(frozen=True)
class SourceFile:
    """One file of desired state, as committed."""

    path: str  # posix path relative to the repository root, e.g. "k8s/base/deploy.yaml"
    content: bytes


class Reading(GitCommands):
    """The reading part of `Repository`."""

    def read(
        self,
        revision: str,
        subpath: str = "",
        suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
    ) -> list[SourceFile]:
        """Every file below subpath at revision whose name ends with a suffix, by path."""
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        tree = self._tree(revision, prefix)
        doing = f"reading {prefix or '/'!r} at {revision} from {self.display}"
        listing = self._git("ls-tree", "-r", "-z", tree, doing=doing)

        paths: dict[str, bytes] = {}
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            meta, _, raw_name = entry.partition(b"\t")
            mode, kind, oid = meta.split(b" ")
            # Symlinks hold a path, possibly out of the repository, not a manifest;
            # submodules (kind "commit") have no content in this repository.
            if kind != b"blob" or mode == _SYMLINK_MODE:
                continue
            name = raw_name.decode("utf-8", errors="replace")
            if name.endswith(suffixes):
                paths[f"{prefix}/{name}" if prefix else name] = oid

        contents = self._blobs(set(paths.values()), doing=doing)
        return [SourceFile(path, contents[paths[path]]) for path in sorted(paths)]

    def export(self, revision: str, subpath: str, into: Path) -> Path:
        """Write the tree at revision into `into`; return the directory of subpath in it.

        The whole tree is written, not only subpath: a kustomize overlay usually names its
        base by a relative path such as `../../base`, outside its own directory.
        """
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        self._tree(revision, prefix)
        archive = self._git(
            "archive",
            "--format=tar",
            revision,
            doing=f"exporting {revision} from {self.display}",
        )
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(into, filter=_extraction_filter)
        return into / prefix if prefix else into

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


def _extraction_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        # git archive never writes such names; one means the archive is not what we asked for.
        raise GitError(f"refusing to extract {member.name!r}: it would land outside {destination}")
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        # A symlink out of the tree (to /etc/..., or ../../) must not let kustomize read
        # this machine's files; nothing legitimate in a repository needs one.
        return None


def _normalize_subpath(subpath: str) -> str:
    parts = [part for part in PurePosixPath(subpath.strip()).parts if part != "/"]
    if any(character in "\n\r\0" for character in subpath):
        raise GitError(f"sub-path {subpath!r} contains a line break or NUL")
    if ".." in parts:
        raise GitError(f"sub-path {subpath!r} must stay inside the repository")
    return "/".join(parts)
