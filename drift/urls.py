from django.urls import path

from drift.views import hooks

urlpatterns = [
    path("hooks/git/<slug:source>", hooks.git_push, name="git-push-hook"),
]
