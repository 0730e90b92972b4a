"""A finding whose change was admitted while the admission webhook was down says so next to
the field manager that made it (alignment.annotating wrote the note)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db
NOTE = (
    "admitted while the admission webhook was unavailable (no answer since 09:58:12 UTC); "
    "the audit feed names mallory"
)


def test_the_admission_note_is_shown_with_its_field_manager(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    finding = make_finding(
        attribution=[
            {"manager": "kubectl-set", "operation": "Update", "time": "2026-11-30T10:00:00Z",
             "admission": NOTE, "admission_user": "mallory"},
            {"manager": "helm", "operation": "Update", "time": "2026-11-29T10:00:00Z"},
        ]
    )  # fmt: skip
    client.force_login(viewer)

    text = client.get(reverse("finding", args=[finding.pk])).content.decode()

    assert (
        '<strong>kubectl-set</strong></td><td>Update<br><span class="warning-text">Admitted '
        "while the admission webhook was unavailable (no answer since 09:58:12 UTC); the "
        "audit feed names mallory</span></td>"
    ) in text
    assert "<strong>helm</strong></td><td>Update</td>" in text
