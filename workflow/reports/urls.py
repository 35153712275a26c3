"""Mounted at /bao-cao/ with the namespace "reports"."""

from django.urls import path

from workflow.reports import views

urlpatterns = [
    path("ke-hoach/<int:pk>/pdf/", views.plan_pdf, name="plan_pdf"),
    path("ke-hoach/<int:pk>/xlsx/", views.plan_xlsx, name="plan_xlsx"),
    path("ky/<int:pk>/pdf/", views.period_pdf, name="period_pdf"),
    path("ky/<int:pk>/xlsx/", views.period_xlsx, name="period_xlsx"),
    path("nhiem-vu/<int:pk>/pdf/", views.dossier_pdf, name="dossier_pdf"),
]
