from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drift.services import desired
from tests.gitwork import git


@pytest.fixture
def fresh_revisions() -> Iterator[None]:
    """Parsed revisions are cached per process: a test that reads Git starts without any."""
    desired.revisions.clear()
    yield
    desired.revisions.clear()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository of the test's own."""
    path = tmp_path / "deploy"
    path.mkdir()
    git(path, "init", "--quiet")
    return path
