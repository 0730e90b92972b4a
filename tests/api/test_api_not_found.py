"""Every path under /api/ answers in the API's error format, never with an HTML page:
malformed ids, unknown actions, bytes no route takes, empty segments."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

MALFORMED = [
    "/api/v1/findings/abc/",
    "/api/v1/findings/1/nonsense/",
    "/api/v1/findings/99999999999999999999999/",
    "/api/v1/findings/abc/acknowledge/",
    "/api/v1/clusters/%00/",
    "/api/v1/clusters/%ff/",
    "/api/v1/clusters/x%20y/",
    "/api/v1//",
    "/api/v1/findings",
    "/api/v1/",
    "/api/nothing-here",
]


@pytest.mark.parametrize("path", MALFORMED)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_a_malformed_path_is_a_json_problem(client_for, admin_user, path, method):
    response = getattr(client_for(admin_user), method)(path)

    assert response.status_code in (404, 405), response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == response.status_code


@pytest.mark.parametrize("path", MALFORMED)
def test_it_is_json_for_a_browser_session_too(settings, path):
    settings.DEBUG = False
    response = Client().post(path, HTTP_ACCEPT="text/html")

    # 404, 405, 401, or 406 for a caller that accepts only HTML: in the API's shape.
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == response.status_code >= 400


def test_an_unknown_path_names_itself(client_for, viewer):
    body = client_for(viewer).get("/api/v1/findings/1/nonsense/").json()

    assert body == {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no API endpoint at /api/v1/findings/1/nonsense/; see /api/docs/",
    }
