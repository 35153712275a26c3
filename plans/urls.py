from django.urls import path

from plans import views

app_name = "plans"
urlpatterns = [
    path("", views.plan_page, name="plan"),
    path("nhap/", views.plan_upload, name="upload"),
    path("nhap/xem-truoc/", views.plan_upload_preview, name="upload_preview"),
    path("nhap/xac-nhan/", views.plan_upload_confirm, name="upload_confirm"),
    path("nhap/huy/", views.plan_upload_cancel, name="upload_cancel"),
]
