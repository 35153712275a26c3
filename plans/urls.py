from django.urls import path

from plans import views

app_name = "plans"
urlpatterns = [
    path("", views.plan_page, name="plan"),
    path("nhap/", views.plan_upload, name="upload"),
]
