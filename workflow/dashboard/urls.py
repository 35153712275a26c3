"""Mounted at /tong-quan/ with the namespace "dashboard"."""

from django.urls import path

from workflow.dashboard import views

urlpatterns = [
    path("", views.index, name="index"),
    path("nhiem-vu/", views.tasks, name="tasks"),
]
