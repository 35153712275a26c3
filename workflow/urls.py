from django.urls import path

from workflow import bulk_views, mail_views, views

app_name = "workflow"
urlpatterns = [
    path("viec-cua-toi/", views.my_steps, name="my_steps"),
    path("viec-cua-don-vi/", views.unit_queue, name="unit_queue"),
    path("cho-phe-duyet/", views.awaiting, name="awaiting"),
    path("cho-phe-duyet/dong-y/", bulk_views.bulk_approve, name="bulk_approve"),
    path("da-xu-ly/", views.done_by_me, name="done_by_me"),
    path("khoi-tao/", views.launch, name="launch"),
    path("buoc/<int:pk>/", views.step_detail, name="step"),
    path("nhiem-vu/<int:pk>/", views.period_task_detail, name="period_task"),
    path("tai-lieu/<int:pk>/", views.evidence_download, name="evidence"),
    path("thong-bao/", views.notifications, name="notifications"),
    path("thong-bao/<int:pk>/", views.notification_open, name="notification_open"),
    path("thu-gui-loi/", mail_views.failed_mails, name="failed_mails"),
]
