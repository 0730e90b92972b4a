"""Static files: the pages ask for the small Plotly bundle the app vendors, a missing file is
a 404 (not a server error), and collected files are served compressed and cached for a year
under their hashed names. bench/cold_load.py measures what a cold load costs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_static_file_is_not_found() -> None:
    response = Client(raise_request_exception=False).get("/static/vendor/plotly/nope.js")

    assert response.status_code == 404


def test_the_overview_loads_the_vendored_basic_plotly_bundle(client: Client, viewer: Any) -> None:
    client.force_login(viewer)

    page = client.get("/").content.decode()

    [script] = re.findall(r'<script src="([^"]*plotly[^"]*)"', page)
    assert script.endswith("/vendor/plotly/plotly-basic.min.js")
    served = client.get(script)
    assert served.status_code == 200
    header = b"".join(served.streaming_content)[:200].decode()
    assert "plotly.js (basic - minified)" in header


def test_collected_files_are_compressed_and_cached_for_a_year(
    settings: Any, tmp_path: Path, viewer: Any
) -> None:
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = settings.WHITENOISE_AUTOREFRESH = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "driftcontrol.staticstorage.CollectedStaticFiles"},
    }
    settings.DEBUG = True  # as in `make demo`: hashed names all the same
    # What the overview uses: compressing the admin's and Swagger UI's too takes a minute.
    unused = ("admin/*", "rest_framework/*", "drf_spectacular_sidecar/*")
    call_command("collectstatic", "--no-input", "-v", "0", *(f"--ignore={p}" for p in unused))
    client = Client()
    client.force_login(viewer)

    page = client.get("/").content.decode()
    [script] = re.findall(r'<script src="([^"]*plotly-basic[^"]*)"', page)
    served = client.get(script, HTTP_ACCEPT_ENCODING="gzip, br")

    assert re.search(r"plotly-basic\.min\.[0-9a-f]{12}\.js$", script)
    assert served["Content-Encoding"] == "br"
    assert "max-age=315360000" in served["Cache-Control"]
    assert "immutable" in served["Cache-Control"]
    assert int(served["Content-Length"]) < 400_000
