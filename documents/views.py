"""Pages of the register of issued documents, issuing, downloads, and the public verification.

Permissions come from workflow/access.py (``capabilities(user).document_issue``,
``.document_register``); the verification page is public (no login) and rate-limited
per client address.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.auth import client_ip
from documents import conf, docx, services, signing
from documents.forms import IssueForm, VerifyForm
from documents.models import IssuedDocument
from documents.verification import verify_pdf
from plans.models import ReportingPeriod
from workflow import access
from workflow.reports import selectors
from workflow.reports.views import attachment
from workflow.selectors import parse_id

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TOO_MANY = "Bạn đã gửi quá nhiều yêu cầu xác minh. Vui lòng thử lại sau ít phút."


@login_required
@require_GET
def register(request: HttpRequest) -> HttpResponse:
    """Sổ văn bản đi: every number taken, issued or cancelled; the issue form for the office."""
    if not access.capabilities(request.user).document_register:
        raise PermissionDenied("Chỉ Văn phòng Sở, Lãnh đạo Sở và tổ kiểm tra được xem sổ văn bản đi.")
    documents = list(
        IssuedDocument.objects.select_related("register", "replaces__register").defer("pdf", "replaces__pdf")[
            :500
        ]
    )
    may_issue = access.capabilities(request.user).document_issue
    periods = list(ReportingPeriod.objects.select_related("plan").order_by("-plan__year", "pk")[:12])
    return render(
        request,
        "documents/register.html",
        {
            "documents": documents,
            "may_issue": may_issue,
            "form": IssueForm() if may_issue else None,
            "periods": periods,
        },
    )


@login_required
@require_POST
def issue(request: HttpRequest) -> HttpResponse:
    if not access.capabilities(request.user).document_issue:
        raise PermissionDenied("Chỉ Văn phòng Sở được ban hành (cấp số, ký số) văn bản đi.")
    form = IssueForm(request.POST)
    if not form.is_valid():
        documents = list(IssuedDocument.objects.select_related("register").defer("pdf")[:500])
        return render(
            request,
            "documents/register.html",
            {"documents": documents, "may_issue": True, "form": form},
            status=400,
        )
    data = form.cleaned_data
    try:
        if data["kind"] == IssuedDocument.Kind.PERIOD_REPORT:
            document = services.issue_period_report(
                period_id=data["period"].pk,
                signer=data["signer"],
                actor=request.user,
                replaces=data["replaces"],
            )
        else:
            access.period_task_get_for_user(user=request.user, pk=data["period_task"])
            document = services.issue_dossier(
                period_task_id=data["period_task"],
                signer=data["signer"],
                actor=request.user,
                replaces=data["replaces"],
            )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("documents:register")
    except (signing.KeyUnavailable, services.IssueFailed) as exc:
        messages.error(request, str(exc))
        return redirect("documents:register")
    messages.success(
        request,
        f"Đã ban hành văn bản số {document.number_text} ngày {document.issued_on_text}, "
        f"người ký {document.signer_name}.",
    )
    return redirect("documents:register")


@login_required
@require_GET
def download(request: HttpRequest, pk: int) -> HttpResponse:
    """The frozen, signed PDF exactly as issued."""
    if not access.capabilities(request.user).document_register:
        raise PermissionDenied("Chỉ Văn phòng Sở, Lãnh đạo Sở và tổ kiểm tra được tải văn bản đã ban hành.")
    number = parse_id(str(pk))  # in range for the database, else 404
    document = (
        IssuedDocument.objects.select_related("register")
        .filter(pk=number, state=IssuedDocument.State.ISSUED)
        .first()
        if number is not None
        else None
    )
    if document is None:
        raise Http404("Không tìm thấy văn bản.")
    name = f"{document.number_text.replace('/', '-')} {document.title}.pdf"
    return attachment(bytes(document.pdf), content_type=PDF, filename=name)


@login_required
@require_GET
def period_docx(request: HttpRequest, pk: int) -> HttpResponse:
    """The period report as an editable .docx (ND30 layout), for the office to edit before issuing;
    the same audience as the report's PDF (it is the same document, not yet numbered)."""
    if not access.capabilities(request.user).document_register:
        raise PermissionDenied("Chỉ Văn phòng Sở, Lãnh đạo Sở và tổ kiểm tra được tải báo cáo của kỳ.")
    number = parse_id(str(pk))  # in range for the database, else 404
    try:
        period = selectors.period_get(number) if number is not None else None
    except ReportingPeriod.DoesNotExist:
        period = None
    if period is None:
        raise Http404("Không tìm thấy kỳ báo cáo.")
    data = selectors.period_report(period, today=timezone.localdate())
    body = docx.period_report_docx(data)
    return attachment(
        body,
        content_type=DOCX,
        filename=f"{period.report_file_name}.docx",
    )


def _rate_limited(request: HttpRequest) -> bool:
    limit, window = conf.verify_rate()
    key = f"documents:verify:{client_ip(request) or 'unknown'}"
    if cache.add(key, 1, window):
        return False
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, window)
        return False
    return count > limit


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Xác minh văn bản: anyone uploads a PDF and reads the verdict. No login; CSRF-protected;
    the upload size and the number of uploads per address are limited."""
    if request.method == "GET":
        return render(request, "documents/verify.html", {"form": VerifyForm()})
    if _rate_limited(request):
        return render(request, "documents/verify.html", {"form": VerifyForm(), "error": TOO_MANY}, status=429)
    if int(request.META.get("CONTENT_LENGTH") or 0) > conf.verify_max_bytes() + 64 * 1024:
        message = f"Tệp quá lớn: tối đa {conf.verify_max_bytes() // (1024 * 1024)} MB."
        return render(request, "documents/verify.html", {"form": VerifyForm(), "error": message}, status=413)
    form = VerifyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "documents/verify.html", {"form": form}, status=400)
    upload = form.cleaned_data["file"]
    verdict = verify_pdf(upload.read())
    return render(
        request, "documents/verify.html", {"form": VerifyForm(), "verdict": verdict, "name": upload.name}
    )


@login_required
@require_GET
def dossier_docx(request: HttpRequest, pk: int) -> HttpResponse:
    """The task dossier as an editable .docx (ND30 layout): whoever may see the task
    (``access.period_task_get_for_user``), signed as the dossier PDF is (who signed it off)."""
    run = access.period_task_get_for_user(user=request.user, pk=pk)
    data = selectors.dossier(run.pk, today=timezone.localdate())
    return attachment(
        docx.dossier_docx(data),
        content_type=DOCX,
        filename=f"Hồ sơ nhiệm vụ {run.pk} {run.period.label}.docx",
    )
