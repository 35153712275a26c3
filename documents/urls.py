"""Mounted at /van-ban/ with the namespace "documents"."""

from django.urls import path

from documents import views

urlpatterns = [
    path("xac-minh/", views.verify, name="verify"),
    path("so-van-ban-di/", views.register, name="register"),
    path("ban-hanh/", views.issue, name="issue"),
    path("<int:pk>/pdf/", views.download, name="download"),
    path("ky/<int:pk>/docx/", views.period_docx, name="period_docx"),
    path("ho-so/<int:pk>/docx/", views.dossier_docx, name="dossier_docx"),
]
