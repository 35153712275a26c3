"""Issuing a document: a number from the year's register, a frozen signed PDF, an audit event.

The order of work (docs/documents.md explains the choice):

1. checks and the signer's key (nothing is numbered if the key cannot be reached);
2. a short transaction takes the register row's lock (``select_for_update``; on SQLite the
   IMMEDIATE transaction), takes the next number and records the document as *reserved*;
3. outside any transaction: the selector's data, rendering and signing (seconds);
4. a short transaction stores the signed bytes and their SHA-256 (*issued*) with the audit
   event; if step 3 failed, the same kind of transaction records the number as *cancelled*
   ("hủy số") with the reason and its audit event, so the register has no silent gap.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from documents import rendering, signing
from documents.models import IssuedDocument, Register, number_text
from plans.models import ReportingPeriod
from workflow import access
from workflow.models import PeriodTask
from workflow.reports import selectors
from workflow.reports.formatting import date_line, number_line
from workflow.reports.signature import SignerBlock, signer_block  # the one signer rule

ISSUED = "document_issued"
CANCELLED = "document_number_cancelled"
# A number still "reserved" after this long belongs to an issue whose process died (rendering
# and signing take seconds): the next issue of the same register records it as cancelled.
STALE_RESERVATION = datetime.timedelta(minutes=15)
STALE_REASON = "Quá thời gian phát hành: tiến trình cấp số, ký số bị dừng giữa chừng."


class IssueFailed(Exception):
    """Rendering or signing failed after the number was taken; the number is cancelled."""

    def __init__(self, document: IssuedDocument, cause: Exception) -> None:
        self.document = document
        super().__init__(
            f"Không ban hành được văn bản số {document.number_text}: {cause}. "
            f"Số này đã được ghi nhận là hủy số trong sổ văn bản đi."
        )


@dataclass(frozen=True)
class Source:
    """What is issued: the kind, the template, the data (built for a number and a date), the title."""

    kind: str
    template: str
    title: str
    symbol: str
    place: str
    period: ReportingPeriod | None
    period_task: PeriodTask | None
    build: Callable[[datetime.date], Any]


def _symbol(header: Any) -> str:
    """The symbol the draft's own number line shows ("Số: …/BC-SCT" → "BC-SCT")."""
    return header.number.rsplit("/", 1)[-1].strip()


def period_source(period_id: int) -> Source:
    try:
        period = selectors.period_get(period_id)
    except ReportingPeriod.DoesNotExist as exc:
        raise ValidationError(f"Không có kỳ báo cáo số {period_id}.") from exc
    plan = period.plan
    return Source(
        kind=IssuedDocument.Kind.PERIOD_REPORT,
        template="reports/period.html",
        title=f"Báo cáo kết quả thực hiện Kế hoạch CCHC {period.get_code_display()} năm {plan.year}",
        symbol=plan.document_symbol,
        place=plan.place,
        period=period,
        period_task=None,
        build=lambda day: selectors.period_report(period, today=day),
    )


def dossier_source(period_task_id: int) -> Source:
    try:
        run = PeriodTask.objects.select_related("period__plan").get(pk=period_task_id)
    except PeriodTask.DoesNotExist as exc:
        raise ValidationError(f"Không có nhiệm vụ số {period_task_id}.") from exc
    plan = run.period.plan
    symbol = _symbol(selectors.dossier(run.pk, today=None).header)
    return Source(
        kind=IssuedDocument.Kind.DOSSIER,
        template="reports/dossier.html",
        title=f"Hồ sơ nhiệm vụ {run.pk} – {run.period.label}",
        symbol=symbol,
        place=plan.place,
        period=run.period,
        period_task=run,
        build=lambda day: selectors.dossier(run.pk, today=day),
    )


def _reserve(
    source: Source, *, signer: Any, block: SignerBlock, actor: Any, day: datetime.date, replaces: Any
) -> IssuedDocument:
    """Step 2: the next number of the register, taken under the register row's lock."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                register, _ = Register.objects.get_or_create(year=day.year, symbol=source.symbol)
        except IntegrityError:  # created by a concurrent issuer between our read and insert
            register = Register.objects.get(year=day.year, symbol=source.symbol)
        register = Register.objects.select_for_update().get(pk=register.pk)
        _cancel_stale(register, actor=actor)
        register.last_number += 1
        register.save(update_fields=["last_number"])
        return IssuedDocument.objects.create(
            register=register,
            number=register.last_number,
            kind=source.kind,
            title=source.title,
            issued_on=day,
            period=source.period,
            period_task=source.period_task,
            signer=signer,
            signer_name=block.name,
            signer_authority=block.authority,
            signer_title=block.title,
            issued_by=actor,
            replaces=replaces,
        )


def _audit_data(document: IssuedDocument) -> dict[str, Any]:
    return {
        "number": document.number_text,
        "kind": document.kind,
        "title": document.title,
        "issued_on": document.issued_on.isoformat(),
        "signer": document.signer_name,
        "sha256": document.sha256,
        "replaces": document.replaces.number_text if document.replaces is not None else "",
        "document_id": document.pk,
    }


def _cancel_stale(register: Register, *, actor: Any) -> None:
    """Under the register's lock: the reservations of issues that died are recorded as cancelled."""
    stale = (
        IssuedDocument.objects.filter(
            register=register,
            state=IssuedDocument.State.RESERVED,
            created_at__lt=timezone.now() - STALE_RESERVATION,
        )
        .select_related("register", "replaces__register")
        .defer("pdf", "replaces__pdf")
    )
    for document in stale:
        document.state = IssuedDocument.State.CANCELLED
        document.cancel_reason = STALE_REASON
        document.save(update_fields=["state", "cancel_reason"])
        audit_record(
            actor=actor,
            action=CANCELLED,
            period_task=document.period_task,
            reason=STALE_REASON,
            data=_audit_data(document),
        )


def _cancel(document: IssuedDocument, *, actor: Any, cause: Exception) -> None:
    with transaction.atomic():
        IssuedDocument.objects.filter(pk=document.pk).update(
            state=IssuedDocument.State.CANCELLED, cancel_reason=str(cause)[:2000]
        )
        document.state = IssuedDocument.State.CANCELLED
        audit_record(
            actor=actor,
            action=CANCELLED,
            period_task=document.period_task,
            reason=str(cause)[:500],
            data=_audit_data(document),
        )


def issue(
    source: Source,
    *,
    signer: Any,
    actor: Any,
    replaces: IssuedDocument | None = None,
    now: datetime.datetime | None = None,
) -> IssuedDocument:
    """Number, render, sign and store one document (see the module's docstring)."""
    if actor is not None and not access.capabilities(actor).document_issue:
        raise PermissionDenied("Chỉ Văn phòng Sở được ban hành (cấp số, ký số) văn bản đi.")
    if replaces is not None and replaces.state != IssuedDocument.State.ISSUED:
        raise ValidationError("Chỉ thay thế được một văn bản đã ban hành.")
    if replaces is not None and replaces.kind != source.kind:
        raise ValidationError("Văn bản thay thế phải cùng loại với văn bản bị thay thế.")
    block = signer_block(signer)
    moment = timezone.localtime(now)
    day = moment.date()
    with signing.signer_open(signer.username) as key:  # 1: a missing key takes no number
        document = _reserve(source, signer=signer, block=block, actor=actor, day=day, replaces=replaces)
        try:  # 3: outside any transaction
            text = number_text(document.number, source.symbol)
            data = source.build(day)
            data.header = dataclasses.replace(
                data.header, number=number_line(source.symbol, text), date=date_line(source.place, day)
            )
            issue_context = {
                "number": text,
                "date": day.strftime("%d/%m/%Y"),
                "signer_name": block.name,
                "authority": block.authority,
                "title": block.title,
                "replaces": replaces.number_text if replaces else "",
            }
            body, place = rendering.render_issued(source.template, data, issue_context)
            signed = signing.sign_pdf(
                body,
                signer=key,
                signature=signing.Signature(
                    authority=block.authority,
                    title=block.title,
                    name=block.name,
                    reason=f"Ban hành văn bản số {text}",
                    location=source.place,
                ),
                place=place,
                moment=moment,
            )
        except Exception as exc:
            _cancel(document, actor=actor, cause=exc)
            raise IssueFailed(document, exc) from exc
    with transaction.atomic():  # 4
        document.pdf = signed
        document.sha256 = hashlib.sha256(signed).hexdigest()
        document.state = IssuedDocument.State.ISSUED
        document.save(update_fields=["pdf", "sha256", "state"])
        audit_record(actor=actor, action=ISSUED, period_task=document.period_task, data=_audit_data(document))
    return document


def issue_period_report(*, period_id: int, signer: Any, actor: Any, **kwargs: Any) -> IssuedDocument:
    return issue(period_source(period_id), signer=signer, actor=actor, **kwargs)


def issue_dossier(*, period_task_id: int, signer: Any, actor: Any, **kwargs: Any) -> IssuedDocument:
    return issue(dossier_source(period_task_id), signer=signer, actor=actor, **kwargs)


def default_signer() -> Any:
    """The director (the first active one), who signs when no one else is named."""
    from workflow.reports.signature import director

    return director()
