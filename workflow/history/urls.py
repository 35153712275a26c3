"""Mounted at /lich-su/ with the namespace "history"."""

from django.urls import path

from workflow.history import views

urlpatterns = [
    path("nhiem-vu/<int:pk>/", views.task_history, name="task"),
    path("nhiem-vu/<int:pk>/lich-su.pdf", views.task_history_pdf, name="task_pdf"),
    path("nhiem-vu/<int:pk>/lich-su.xlsx", views.task_history_xlsx, name="task_xlsx"),
    path("tim-kiem/", views.audit_search, name="search"),
]
