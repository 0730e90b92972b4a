from django.urls import path

from remediation import views

urlpatterns = [
    path("approvals/", views.approval_queue, name="approvals"),
    path("remediations/", views.request_list, name="remediations"),
    path("remediations/<int:pk>/", views.request_detail, name="remediation"),
    path("remediations/<int:pk>/status", views.request_status, name="remediation-status"),
    path("remediations/<int:pk>/approve", views.approve, name="remediation-approve"),
    path("remediations/<int:pk>/reject", views.reject, name="remediation-reject"),
    path("remediations/<int:pk>/cancel", views.cancel, name="remediation-cancel"),
]
