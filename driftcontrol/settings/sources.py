"""Git sources: which locations a GitSource may name."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from driftcontrol import env

# Local repositories (a path, or file://) are read only below these directories; empty,
# the default, refuses every local path, so a source can never read the server's own
# disk. Several directories are separated like PATH entries.
_roots = env.string(
    "GIT_LOCAL_ROOTS",
    "",
    "directories (separated by ':') local Git repositories may be read from; empty: none",
)
GIT_LOCAL_ROOTS: tuple[str, ...] = tuple(root for root in _roots.split(os.pathsep) if root)
for _root in GIT_LOCAL_ROOTS:
    if not os.path.isabs(_root):
        raise ImproperlyConfigured(f"GIT_LOCAL_ROOTS: {_root!r} is not an absolute path")
