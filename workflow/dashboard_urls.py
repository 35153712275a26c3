from django.urls import path

from workflow import dashboard

urlpatterns = [
    path("", dashboard.index, name="index"),
    path("nhiem-vu/", dashboard.tasks, name="tasks"),
]
