"""Thư gửi lỗi: the office's page of mails that could not be delivered, with "Gửi lại"."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from workflow import access
from workflow.mail import mails_needing_attention, mails_resend

PAGE_LIMIT = 200


def _retries_text() -> str:
    """MAIL_RETRY_DELAYS as a person reads it: "sau 1, 5 và 30 phút"."""
    spans = [f"{d // 60} phút" if d % 60 == 0 else f"{d} giây" for d in settings.MAIL_RETRY_DELAYS]
    if not spans:
        return "không được thử lại tự động"
    listed = spans[0] if len(spans) == 1 else ", ".join(spans[:-1]) + " và " + spans[-1]
    return f"được thử lại tự động sau {listed}"


def _page(request: HttpRequest, *, status: int = 200, error: str = "") -> HttpResponse:
    mails = mails_needing_attention().order_by("-pk")
    rows = list(mails[:PAGE_LIMIT])
    total = len(rows) if len(rows) < PAGE_LIMIT else mails.count()
    context = {"mails": rows, "total": total, "error": error, "retries": _retries_text()}
    return render(request, "workflow/failed_mails.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def failed_mails(request: HttpRequest) -> HttpResponse:
    """GET: the list. POST ``mail=<id>``: send that one again; POST ``all=1``: all of them."""
    if not access.capabilities(request.user).failed_mails:
        raise PermissionDenied("Chỉ Văn phòng Sở được xem và gửi lại thư gửi lỗi.")
    if request.method == "GET":
        return _page(request)
    if request.POST.get("all") == "1":
        mail_ids = None
    elif (raw := request.POST.get("mail", "")).isascii() and raw.isdigit() and len(raw) < 19:
        mail_ids = [int(raw)]
    else:
        return _page(request, status=400, error="Chưa chọn thư nào để gửi lại.")
    count = mails_resend(actor=request.user, mail_ids=mail_ids)
    if count:
        messages.success(request, f"Đã đưa {count} thư vào hàng đợi gửi lại.")
    else:
        messages.warning(request, "Không có thư nào cần gửi lại (thư đã được gửi hoặc đang được gửi).")
    return redirect("workflow:failed_mails")
