"""Benchmark of the overview's cold load in a real browser (issue: the dashboard as its
users meet it; goal: under 1 s and under 1.5 MB transferred).

Starts gunicorn twice on a fresh SQLite database (the embedded default, one signed-in
user, no findings: the page's weight is its code, not its rows), side by side:
- "collected": what `make demo` and production serve, static files collected under hashed
  names, pre-compressed (Brotli, gzip) and cached for a year;
- "uncollected": static files straight from static/, uncompressed, as in development.
Each run opens the overview in a new browser context (an empty cache, a signed-in session)
in Debian's Chromium, and sums what crossed the wire (headers and encoded bodies, from the
browser's resource timing) and the time to the load event. Loopback only: no network
latency or bandwidth limit is simulated, so on a real link the bytes matter more.

Run: .venv/bin/python bench/cold_load.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
USER, PASSWORD = "bench", "bench-cold-load-password"
CHROMIUM = "/usr/bin/chromium"
MEASURE = """() => {
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  const nav = performance.getEntriesByType("navigation")[0];
  return {bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
          requests: entries.length, load_ms: nav.loadEventEnd - nav.startTime};
}"""


def environment(var: Path, collected: bool) -> dict[str, str]:
    return {
        **os.environ,
        "DRIFTCONTROL_VAR_DIR": str(var),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 50,
        "FIELD_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMTI=",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "1" if collected else "0",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }


def prepare(var: Path) -> float:
    """Migrate, add the user and collect static files; the seconds collecting took."""
    env = environment(var, collected=True)
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [*manage, "createsuperuser", "--no-input", "--username", USER, "--email", "b@example.org"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    started = time.monotonic()
    collect = [*manage, "collectstatic", "--no-input", "-v", "0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def server(var: Path, collected: bool) -> Any:
    port = free_port()
    command = [str(Path(PYTHON).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
               "--workers", "2", "driftcontrol.wsgi"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=environment(var, collected),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("gunicorn did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(browser: Any, base: str, runs: int) -> list[dict[str, float]]:
    login = browser.new_context()
    page = login.new_page()
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    session = login.storage_state()
    login.close()
    results = []
    for _ in range(runs):
        context = browser.new_context(storage_state=session)  # a new, empty cache
        page = context.new_page()
        page.goto(f"{base}/", wait_until="load")
        page.wait_for_load_state("networkidle")
        results.append(page.evaluate(MEASURE))
        context.close()
    return results


def report(name: str, results: list[dict[str, float]]) -> None:
    times = sorted(r["load_ms"] for r in results)
    kib = max(r["bytes"] for r in results) / 1024
    print(
        f"{name:<12} {kib:9.0f} KiB in {results[0]['requests']:.0f} requests   "
        f"load: median {statistics.median(times):6.0f} ms, best {times[0]:6.0f} ms, "
        f"worst {times[-1]:6.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="cold-load-") as tmp:
        collecting = prepare(Path(tmp))
        print(
            "conditions: fresh SQLite database, loopback, new browser context per run, "
            f"{runs} runs per mode; collectstatic took {collecting:.1f} s (once, at deploy)"
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            figures = {}
            for name, collected in (("collected", True), ("uncollected", False)):
                with server(Path(tmp), collected) as base:
                    figures[name] = measure(browser, base, runs)
                report(name, figures[name])
            browser.close()
        ratio = max(r["bytes"] for r in figures["uncollected"]) / max(
            r["bytes"] for r in figures["collected"]
        )
        print(f"bytes, uncollected / collected: {ratio:.1f}x")


if __name__ == "__main__":
    main()
