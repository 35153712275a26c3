from django.urls import path

from plans import calendar_views, views, views_setup

app_name = "plans"
urlpatterns = [
    path("", views.plan_page, name="plan"),
    path("nhap/", views.plan_upload, name="upload"),
    path("nhap/<int:pk>/", views.plan_upload_status, name="upload_status"),
    path("nhap/<int:pk>/trang-thai/", views.plan_upload_status_json, name="upload_status_json"),
    path("nhap/xem-truoc/", views.plan_upload_preview, name="upload_preview"),
    path("nhap/xac-nhan/", views.plan_upload_confirm, name="upload_confirm"),
    path("nhap/huy/", views.plan_upload_cancel, name="upload_cancel"),
    # Thiết lập: the office's set-up pages (plans/views_setup.py).
    path("thiet-lap/", views_setup.setup_index, name="setup"),
    path("thiet-lap/don-vi/", views_setup.unit_list, name="setup_units"),
    path("thiet-lap/don-vi/them/", views_setup.unit_edit, name="setup_unit_add"),
    path("thiet-lap/don-vi/<int:pk>/", views_setup.unit_edit, name="setup_unit"),
    path("thiet-lap/nguoi-dung/", views_setup.person_list, name="setup_people"),
    path("thiet-lap/nguoi-dung/them/", views_setup.person_edit, name="setup_person_add"),
    path("thiet-lap/nguoi-dung/<int:pk>/", views_setup.person_edit, name="setup_person"),
    path("thiet-lap/ky-bao-cao/", views_setup.period_list, name="setup_periods"),
    path("thiet-lap/ky-bao-cao/<int:pk>/", views_setup.period_edit, name="setup_period"),
    path("lich-lam-viec/", calendar_views.calendar_page, name="calendar"),
    path("lich-lam-viec/them/", calendar_views.calendar_day_add, name="calendar_add"),
    path("lich-lam-viec/xoa/", calendar_views.calendar_day_remove, name="calendar_remove"),
]
