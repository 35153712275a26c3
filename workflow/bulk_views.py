"""Đồng ý hàng loạt: the office and the leadership approve several runs from their list.

The list (``workflow:awaiting``) posts the ticked steps here; this page shows a summary of what
would be approved and asks to confirm; the confirmation approves each run as its own decision
(``services.steps_approve``: per run the same checks, lock and audit as a single approval) and
shows what was approved and what was not, with why. Returns are never taken in bulk.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from workflow import access, selectors, services
from workflow.views import _rows

BULK_MAX = 100  # steps approved at once: two list pages


@login_required
@require_http_methods(["GET", "POST"])
def bulk_approve(request: HttpRequest) -> HttpResponse:
    if not access.may_decide_in_bulk(request.user):
        raise PermissionDenied("Trang này dành cho Văn phòng Sở và Lãnh đạo Sở.")
    source = request.POST if request.method == "POST" else request.GET
    ids = list(dict.fromkeys(i for i in map(selectors.parse_id, source.getlist("steps")) if i is not None))
    if not ids:
        messages.warning(request, "Chưa chọn bước nào để đồng ý.")
        return redirect("workflow:awaiting")
    if len(ids) > BULK_MAX:
        messages.warning(request, f"Mỗi lần đồng ý tối đa {BULK_MAX} bước; hãy chọn ít hơn.")
        return redirect("workflow:awaiting")
    today = timezone.localdate()
    # Only steps in the person's own list of decisions awaiting them.
    awaiting = selectors.steps_awaiting_approval(request.user).filter(pk__in=ids)
    rows = _rows(selectors.step_rows(awaiting, 0, BULK_MAX), today)
    in_list = {int(row["pk"]) for row in rows}
    gone = [pk for pk in ids if pk not in in_list]
    if request.method == "POST" and request.POST.get("confirm") == "1":
        result = services.steps_approve(step_ids=[pk for pk in ids if pk in in_list], user=request.user)
        failed = dict(result.failed)
        failed.update(dict.fromkeys(gone, "Bước này không còn chờ bạn quyết định."))
        done = {step.pk for step in result.approved}
        return render(
            request,
            "workflow/bulk_approve.html",
            {
                "title": "Kết quả đồng ý hàng loạt",
                "done": True,
                "approved": [row for row in rows if int(row["pk"]) in done],
                "failed": [(row, failed[int(row["pk"])]) for row in rows if int(row["pk"]) in failed],
                "gone": len(gone),
            },
        )
    return render(
        request,
        "workflow/bulk_approve.html",
        {
            "title": "Đồng ý hàng loạt – xem lại trước khi đồng ý",
            "done": False,
            "rows": rows,
            "gone": len(gone),
        },
    )
