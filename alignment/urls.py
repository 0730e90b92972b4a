from django.urls import path

from alignment import views

urlpatterns = [
    path("hooks/audit/<str:cluster>", views.AuditFeedView.as_view(), name="audit-feed-hook"),
]
