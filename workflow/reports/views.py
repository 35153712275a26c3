"""Downloads of the official documents (PDF) and spreadsheets (.xlsx).

Each view checks access, reads through a selector (fixed number of queries, no lock
held), then renders or takes the bytes from the cache. Nothing here writes.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.http import require_GET

from plans.models import Plan, ReportingPeriod
from workflow import access
from workflow.reports import pdf, selectors, signature, xlsx
from workflow.reports.formatting import attachment_header
from workflow.selectors import parse_id

PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(data: bytes, *, content_type: str, filename: str) -> HttpResponse:
    """A generated file as a private download (never cached by a proxy); documents/ uses it too."""
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = attachment_header(filename)
    response["Cache-Control"] = "private, max-age=0"
    return response


def _id(raw: int) -> int:
    pk = parse_id(str(raw))  # in range for the database, else 404
    if pk is None:
        raise Http404("Không tìm thấy tài liệu.")
    return pk


def _plan(raw: int) -> Plan:
    try:
        return Plan.objects.get(pk=_id(raw))
    except Plan.DoesNotExist as exc:
        raise Http404("Không tìm thấy kế hoạch.") from exc


def _period_for(request: HttpRequest, raw: int) -> ReportingPeriod:
    """The period report is for the office, leadership and auditors only."""
    if not access.capabilities(request.user).period_downloads:
        raise PermissionDenied("Chỉ Văn phòng Sở, Lãnh đạo Sở và tổ kiểm tra được tải báo cáo của kỳ.")
    try:
        return selectors.period_get(_id(raw))
    except ReportingPeriod.DoesNotExist as exc:
        raise Http404("Không tìm thấy kỳ báo cáo.") from exc


class _BadSigner(Exception):
    pass


def _signer(request: HttpRequest) -> signature.SignerBlock | None:
    """The signer a request names (``?signer=<user id>``, a leader); None: the document's default
    (the director; for a dossier, the leader who signed the task off)."""
    raw = request.GET.get("signer")
    if not raw:
        return None
    try:
        return signature.signer_chosen(raw)
    except ValidationError as exc:
        raise _BadSigner(" ".join(exc.messages)) from exc


def _bad_signer(exc: _BadSigner) -> HttpResponse:
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")


def _period_name(period: ReportingPeriod) -> str:
    return period.report_file_name


@login_required
@require_GET
def plan_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """Kế hoạch (PDF): every signed-in user."""
    plan = _plan(pk)
    try:
        signer = _signer(request)
    except _BadSigner as exc:
        return _bad_signer(exc)
    data = selectors.plan_document(plan, signer=signer)
    body = pdf.document_pdf("reports/plan.html", data, kind="plan")
    return attachment(body, content_type=PDF, filename=f"Kế hoạch CCHC {plan.year}.pdf")


@login_required
@require_GET
def plan_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    """Kế hoạch (Excel): every signed-in user."""
    plan = _plan(pk)
    body = xlsx.plan_xlsx_cached(plan)
    return attachment(body, content_type=XLSX, filename=f"Kế hoạch CCHC {plan.year}.xlsx")


@login_required
@require_GET
def period_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    period = _period_for(request, pk)
    try:
        signer = _signer(request)
    except _BadSigner as exc:
        return _bad_signer(exc)
    data = selectors.period_report(period, today=timezone.localdate(), signer=signer)
    body = pdf.document_pdf("reports/period.html", data, kind="period")
    return attachment(body, content_type=PDF, filename=f"{_period_name(period)}.pdf")


@login_required
@require_GET
def period_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    period = _period_for(request, pk)
    data = selectors.period_report(period, today=timezone.localdate())
    body = pdf.document_cached("period_xlsx", data, lambda: xlsx.period_report_xlsx(data))
    return attachment(body, content_type=XLSX, filename=f"{_period_name(period)}.xlsx")


@login_required
@require_GET
def dossier_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """Hồ sơ nhiệm vụ: whoever may see the task (``access.period_task_get_for_user``)."""
    run = access.period_task_get_for_user(user=request.user, pk=_id(pk))
    try:
        signer = _signer(request)
    except _BadSigner as exc:
        return _bad_signer(exc)
    data = selectors.dossier(run.pk, today=timezone.localdate(), signer=signer)
    body = pdf.document_pdf("reports/dossier.html", data, kind="dossier")
    return attachment(body, content_type=PDF, filename=f"Hồ sơ nhiệm vụ {run.pk} {run.period.label}.pdf")
