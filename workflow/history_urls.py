from django.urls import path

from workflow import history

urlpatterns = [
    path("nhiem-vu/<int:pk>/", history.task_history, name="task"),
    path("nhiem-vu/<int:pk>/lich-su.pdf", history.task_history_pdf, name="task_pdf"),
    path("nhiem-vu/<int:pk>/lich-su.xlsx", history.task_history_xlsx, name="task_xlsx"),
    path("tim-kiem/", history.audit_search, name="search"),
]
