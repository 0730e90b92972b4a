"""Loaded by pytest before Django (see addopts): the suite runs on PostgreSQL and Redis.

Set DATABASE_URL or CELERY_BROKER_URL to point it elsewhere. Each pytest-xdist worker gets
its own Redis database, so their Celery workers never take each other's tasks.
"""

import getpass
import os
import tempfile
from pathlib import Path

_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_redis_db = 1 + int(_worker.removeprefix("gw") or 0) % 15

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/driftcontrol")
os.environ.setdefault("CELERY_BROKER_URL", f"redis://127.0.0.1:6379/{_redis_db}")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1rZXktb25lLWZvci10aGUtdGVzdC1zdWl0ZSE=")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("DEBUG", "0")
# Results must hold a second, not five: the path is exercised, the suite stays quick.
os.environ.setdefault("REMEDIATION_VERIFY_SECONDS", "1")
# Tests read local repositories they create under tmp_path (pytest's base temp directory,
# <tmp>/pytest-of-<user>/), and declare sources at /srv/git/... without reading them.
_pytest_temp = Path(os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir())
os.environ.setdefault(
    "GIT_LOCAL_ROOTS",
    os.pathsep.join([str(_pytest_temp / f"pytest-of-{getpass.getuser()}"), "/srv/git"]),
)
