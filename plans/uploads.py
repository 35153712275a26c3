"""A plan upload's life: stored and queued (web), parsed (background job), imported or dropped.

``upload_create`` keeps the bytes (``plans.staging``) and, in one transaction, writes the
``PlanUpload`` row and enqueues its parse job, so that a saved upload always has its job
and a rolled-back one has none. ``upload_parse`` is the job's work: the same bounded child
process as ``manage.py import_plan`` (``parse_upload_bounded``); the parsed plan waits as
JSON for the preview and the confirm, which never parse in the web process. Whatever
happens, the row ends with a status and a Vietnamese message, and an upload that ends
(refused, failed, imported, cancelled) deletes its files.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from plans import staging
from plans.models import PlanUpload
from plans.parsing import ParsedPlan, PlanParseError, parse_upload_bounded
from plans.parsing.tree import plan_from_json, plan_to_json

__all__ = [
    "FAILED_MESSAGE",
    "GONE_MESSAGE",
    "STUCK_AFTER",
    "upload_close",
    "upload_create",
    "upload_parse",
    "upload_result",
    "upload_stuck_fail",
]

log = logging.getLogger(__name__)
Status = PlanUpload.Status

FAILED_MESSAGE = "Có lỗi hệ thống khi đọc tệp; chưa có gì được ghi. Hãy tải tệp lên lại."
GONE_MESSAGE = "Không còn tệp đã tải lên (đã quá hạn hoặc đã bị xóa). Hãy chọn lại tệp."
# A parse takes seconds (15 s, or 75 s with LibreOffice, at the most): a job still "parsing"
# after this long lost its worker (killed, machine restarted).
STUCK_AFTER = timedelta(minutes=10)


def upload_create(*, user: Any, name: str, data: bytes, year: int | None) -> PlanUpload:
    """Keep the file and queue its parse job, in one transaction with the row."""
    from plans.tasks import parse_plan_upload

    token = staging.store(data)
    try:
        with transaction.atomic():
            upload = PlanUpload.objects.create(
                uploaded_by=user,
                name=name,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                year=year,
                token=token,
            )
            parse_plan_upload.enqueue(upload_id=upload.pk)
    except BaseException:
        staging.discard(token)
        raise
    return upload


def _finish(upload: PlanUpload, status: str, *, message: str = "", **fields: Any) -> bool:
    """Record how the parse ended, unless the upload was cancelled meanwhile."""
    done = PlanUpload.objects.filter(pk=upload.pk, status=Status.PARSING).update(
        status=status, message=message, finished_at=timezone.now(), **fields
    )
    return done == 1


def upload_parse(*, upload_id: int) -> str:
    """The parse job: read the kept bytes in the bounded child, keep the parsed plan as JSON."""
    from plans.services import unit_directory

    with transaction.atomic():
        upload = PlanUpload.objects.select_for_update().filter(pk=upload_id).first()
        if upload is None or upload.status != Status.QUEUED:
            return "skipped"  # run twice, or cancelled before its turn
        upload.status = Status.PARSING
        upload.started_at = timezone.now()
        upload.save(update_fields=["status", "started_at"])
    token = upload.token
    try:
        data = staging.read_original(token, upload.sha256)
        if data is None:
            raise PlanParseError(GONE_MESSAGE)
        plan = parse_upload_bounded(upload.name, data, unit_directory()).plan
        result = json.dumps(plan_to_json(plan), ensure_ascii=False).encode("utf-8")
        summary = {
            "tasks": len(plan.tasks),
            "appendices": [[a.number, len(a.tasks)] for a in plan.appendices],
            "unresolved": len(plan.unresolved),
        }
        result_sha256 = staging.store_result(token, result)
    except PlanParseError as exc:
        staging.discard(token)
        _finish(upload, Status.REFUSED, message=exc.message, token="")
        return Status.REFUSED
    except BaseException:
        log.exception("plan upload %s: the parse job failed", upload_id)
        staging.discard(token)
        _finish(upload, Status.FAILED, message=FAILED_MESSAGE, token="")
        raise  # the queue records the job as failed too
    staging.drop_original(token)
    if not _finish(upload, Status.DONE, summary=summary, result_sha256=result_sha256):
        staging.discard(token)  # cancelled while it was being read
    return Status.DONE


def upload_stuck_fail(upload: PlanUpload) -> PlanUpload:
    """An upload whose job lost its worker long ago is failed (and its files deleted)."""
    if (
        upload.status == Status.PARSING
        and upload.started_at
        and timezone.now() - upload.started_at > STUCK_AFTER
    ):
        staging.discard(upload.token)
        if _finish(upload, Status.FAILED, message=FAILED_MESSAGE, token=""):
            upload.refresh_from_db()
    return upload


def upload_result(upload: PlanUpload) -> ParsedPlan | None:
    """The parsed plan the job kept, if the upload is read and its file intact."""
    if upload.status != Status.DONE:
        return None
    data = staging.read_result(upload.token, upload.result_sha256)
    if data is None:
        return None
    try:
        return plan_from_json(json.loads(data))
    except ValueError:
        return None


def upload_close(upload: PlanUpload, status: str) -> None:
    """Imported or cancelled: the row says so, the files go."""
    staging.discard(upload.token)
    PlanUpload.objects.filter(pk=upload.pk).exclude(status__in=[Status.IMPORTED, Status.CANCELLED]).update(
        status=status, token="", finished_at=timezone.now()
    )
