from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="workflow:my_steps"), name="home"),
    path("dang-nhap/", auth_views.LoginView.as_view(), name="login"),
    path("dang-xuat/", auth_views.LogoutView.as_view(), name="logout"),
    path("ke-hoach/", include("plans.urls")),
    path("quy-trinh/", include("workflow.urls")),
    path("bao-cao/", include(("workflow.reports.urls", "reports"))),
    path("lich-su/", include(("workflow.history.urls", "history"))),
    path("tong-quan/", include(("workflow.dashboard.urls", "dashboard"))),
    path("van-ban/", include(("documents.urls", "documents"))),
    path("quan-tri/", admin.site.urls),
]
admin.site.site_header = "Quản trị – Kế hoạch CCHC"
admin.site.site_title = "Quản trị"
