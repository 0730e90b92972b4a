from __future__ import annotations

from django.db import models

from drift.models.clusters import dns_label
from driftcontrol.crypto import SealedTextField


class GitSource(models.Model):
    """Where desired state lives: a Git repository (URL or local path), a ref and a sub-path."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label])
    url = models.CharField(max_length=500, help_text="clone URL, or a local repository path")
    ref = models.CharField(max_length=255, default="main", help_text="branch, tag or commit")
    path = models.CharField(
        max_length=500, blank=True, help_text="sub-directory holding the manifests"
    )
    last_revision = models.CharField(max_length=64, blank=True)
    # When last_revision first became the head: how long clusters may lag behind it.
    revision_since = models.DateTimeField(null=True, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    hook_secret = SealedTextField(help_text="shared secret of the push hook, encrypted")
    refresh_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="a push hook asked watchers to re-read the source"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
