from django.urls import path

from plans import calendar_views, views

app_name = "plans"
urlpatterns = [
    path("", views.plan_page, name="plan"),
    path("nhap/", views.plan_upload, name="upload"),
    path("nhap/xem-truoc/", views.plan_upload_preview, name="upload_preview"),
    path("nhap/xac-nhan/", views.plan_upload_confirm, name="upload_confirm"),
    path("nhap/huy/", views.plan_upload_cancel, name="upload_cancel"),
    path("lich-lam-viec/", calendar_views.calendar_page, name="calendar"),
    path("lich-lam-viec/them/", calendar_views.calendar_day_add, name="calendar_add"),
    path("lich-lam-viec/xoa/", calendar_views.calendar_day_remove, name="calendar_remove"),
]
