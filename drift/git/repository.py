"""`Repository`, a Git repository to read desired state from: locating it and running git
in it, with fetching, refs and reading on top."""

from __future__ import annotations

from drift.git.fetching import Fetching
from drift.git.reading import Reading
from drift.git.refs import Refs


class Repository(Fetching, Refs, Reading):
    """A Git repository to read desired state from: a clone URL or a local path.

    Remote repositories are mirrored as `<cache_dir>/<hash>.git`, with `<hash>.lock` next to
    it serialising clones and fetches; `<hash>` comes from the URL without its password.
    """
