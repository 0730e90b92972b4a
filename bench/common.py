"""Shared set-up for benchmarks: Django on a PostgreSQL database of their own, the local
API server, and the corpus as live objects read back from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
SHOP = ROOT / "tests" / "integration" / "manifests" / "shop.yaml"
CACHE = ROOT / "var" / "bench"


def setup_django(database: str = "driftcontrol_bench") -> None:
    """Django against its own PostgreSQL database (created and migrated when missing)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftcontrol.settings")
    # Django's test client, which page benchmarks use, says it is "testserver".
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    import psycopg2

    admin = psycopg2.connect("dbname=postgres user=postgres host=127.0.0.1")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def devcluster(*args: str) -> str:
    return subprocess.run(
        [str(ROOT / "scripts" / "devcluster"), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


_started: set[str] = set()


def _running(name: str) -> None:
    if name not in _started:
        devcluster("start", "--name", name)  # idempotent: quick when it already runs
        _started.add(name)


def kubeconfig(user: str = "admin", name: str = "test-a") -> str:
    _running(name)
    return devcluster("kubeconfig", "--name", name, "--user", user)


def kubectl(*args: str, name: str = "test-a") -> str:
    _running(name)
    return devcluster("kubectl", "--name", name, "--user", "admin", "--", *args)


def corpus_live_objects() -> list[tuple[dict, str]]:
    """(manifest, live JSON text) for every corpus object, applied client-side and
    server-side to the local API server once and cached under var/bench/."""
    import yaml

    cache = CACHE / "corpus-live.json"
    if not cache.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        pairs = []
        for namespace, server_side in (("bench-csa", False), ("bench-ssa", True)):
            kubectl("create", "namespace", namespace) if namespace not in kubectl(
                "get", "namespaces", "-o", "name"
            ) else None
            for manifest in _manifests():
                if server_side and manifest["kind"] == "Service":
                    # 1.20's server-side apply needs the protocol of every Service port.
                    for port in manifest["spec"].get("ports", []):
                        port.setdefault("protocol", "TCP")
                manifest = {
                    **manifest,
                    "metadata": {**manifest["metadata"], "namespace": namespace},
                }
                path = CACHE / "manifest.yaml"
                path.write_text(yaml.safe_dump(manifest))
                kubectl("apply", *(["--server-side"] if server_side else []), "-f", str(path))
                live = kubectl("get", "-o", "json", "-f", str(path))
                pairs.append((manifest, live))
        cache.write_text(json.dumps(pairs))
    return [(manifest, live) for manifest, live in json.loads(cache.read_text())]


def _manifests() -> list[dict]:
    import yaml

    found = []
    # The published manifests; tests/corpus/external holds other projects' test pairs.
    published = [p for p in CORPUS.rglob("*.yaml") if "external" not in p.parts]
    for path in sorted([*published, SHOP]):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found
