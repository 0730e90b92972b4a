from django.urls import path

from drift import views

urlpatterns = [
    path("hooks/git/<slug:source>", views.git_push, name="git-push-hook"),
]
