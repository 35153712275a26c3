"""manage.py seed_demo_year: a living demo, this year's plan with runs at every stage.

The 2024 seed plan is a museum: on today's date every step of it is long overdue. This
command imports the same tasks as a plan for the current year, launches the current
reporting period and drives a few runs through the real services as the demo users, so
that a newcomer sees work in progress at each stage. Running it again changes nothing.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from plans.models import Plan, ReportingPeriod
from plans.parsing import PlanParseError, parse_upload
from plans.periods import periods_ensure
from plans.services import plan_import, unit_directory
from workflow import selectors, services
from workflow.models import PeriodTask, Stage, Step

SEED_FILE: Final = Path(settings.BASE_DIR) / "plans" / "seed" / "ke-hoach-cchc-2024-phu-luc.txt"
DEMO_TITLE_SUFFIX: Final = " (dữ liệu mẫu)"
OFFICE_USER: Final = "vanphong"
SIGNER_USER: Final = "giamdoc"

# How many runs the demo drives to each stage; every other run of the period waits at
# the lead unit, unclaimed.
DEMO_STAGES: Final[dict[str, int]] = {
    "lead_drafted": 2,
    "partner": 2,
    "review": 2,
    "sign_off": 2,
    "done": 2,
    "returned": 1,
    "canceled": 1,
}

RESULT_TEXT: Final = (
    "Đã triển khai nhiệm vụ theo kế hoạch: ban hành văn bản hướng dẫn, tổ chức thực hiện "
    "và tổng hợp kết quả trong kỳ."
)
DRAFT_TEXT: Final = "Đang tổng hợp số liệu của đơn vị (bản nháp)."
EXPLANATION_TEXT: Final = "Hồ sơ giấy lưu tại đơn vị; bản scan bổ sung khi thẩm định."
PARTNER_TEXT: Final = "Thống nhất với kết quả của đơn vị chủ trì."
RETURN_REASON: Final = "Chưa nêu số liệu cụ thể của kỳ báo cáo; đề nghị bổ sung và gửi lại."
CANCEL_REASON: Final = "Nhiệm vụ đã được lồng ghép vào nhiệm vụ khác của kỳ này."


def current_period(periods: list[ReportingPeriod], today: datetime.date) -> ReportingPeriod:
    """The period whose deadline is next, or, after the last one, the most recently passed."""
    ordered = sorted(periods, key=lambda p: p.deadline)
    upcoming = [p for p in ordered if p.deadline >= today]
    return upcoming[0] if upcoming else ordered[-1]


def demo_plan(year: int) -> Plan | None:
    return Plan.objects.filter(year=year, title__endswith=DEMO_TITLE_SUFFIX).order_by("pk").first()


@dataclass
class Cast:
    """The demo users who act: the office, the director, and one staff member per unit."""

    office: Any
    signer: Any
    staff: dict[int, Any]  # unit pk -> its demo staff member (``<short name>.cv``)

    @classmethod
    def load(cls) -> Cast:
        User = get_user_model()
        people = {
            u.username: u
            for u in User.objects.filter(is_active=True).select_related("membership__unit")
            if u.username in (OFFICE_USER, SIGNER_USER) or u.username.endswith(".cv")
        }
        missing = [name for name in (OFFICE_USER, SIGNER_USER) if name not in people]
        if missing:
            raise CommandError(
                f"Chưa có tài khoản mẫu ({', '.join(missing)}): chạy “manage.py seed_demo” (DEBUG bật) trước."
            )
        staff = {
            u.membership.unit_id: u
            for name, u in people.items()
            if name.endswith(".cv") and hasattr(u, "membership")
        }
        return cls(office=people[OFFICE_USER], signer=people[SIGNER_USER], staff=staff)

    def for_unit(self, unit_id: int | None) -> Any:
        if unit_id not in self.staff:
            raise CommandError(f"Đơn vị ID {unit_id} chưa có tài khoản chuyên viên mẫu.")
        return self.staff[unit_id]


def _open_steps(run: PeriodTask, kind: str) -> list[Step]:
    return list(run.steps.filter(kind=kind, state=Step.State.OPEN).order_by("pk"))


def _claim(step: Step, user: Any) -> None:
    services.step_claim(step_id=step.pk, user=user)


def lead_draft(run: PeriodTask, cast: Cast) -> None:
    for step in _open_steps(run, Step.Kind.LEAD):
        user = cast.for_unit(step.unit_id)
        _claim(step, user)
        services.step_save_draft(step_id=step.pk, user=user, data={"result": DRAFT_TEXT})


def lead_submit(run: PeriodTask, cast: Cast) -> None:
    # The lead asks every partner unit of the task in the first round (the demo's runs have the
    # fewest partners), none after a return.
    asked = selectors.partner_unit_ids(run.process.coerced) if run.round == 1 else []
    for step in _open_steps(run, Step.Kind.LEAD):
        user = cast.for_unit(step.unit_id)
        _claim(step, user)
        services.step_submit(
            step_id=step.pk,
            user=user,
            data={
                "result": RESULT_TEXT,
                "self_assessment": Step.SelfAssessment.DONE,
                "explanation": EXPLANATION_TEXT,
                "partners_asked": asked,
            },
        )


def partners_submit(run: PeriodTask, cast: Cast) -> None:
    for step in _open_steps(run, Step.Kind.PARTNER):
        user = cast.for_unit(step.unit_id)
        _claim(step, user)
        services.step_submit(step_id=step.pk, user=user, data={"result": PARTNER_TEXT, "no_opinion": False})


def _decide(run: PeriodTask, kind: str, user: Any, data: dict[str, Any]) -> None:
    (step,) = _open_steps(run, kind)
    _claim(step, user)
    services.step_submit(step_id=step.pk, user=user, data=data)


def review(run: PeriodTask, cast: Cast, *, approve: bool) -> None:
    data: dict[str, Any] = (
        {"decision": Step.Decision.APPROVE}
        if approve
        else {"decision": Step.Decision.RETURN_LEAD, "reason": RETURN_REASON, "ask_partners_again": False}
    )
    _decide(run, Step.Kind.REVIEW, cast.office, data)


def sign_off(run: PeriodTask, cast: Cast) -> None:
    _decide(run, Step.Kind.SIGN_OFF, cast.signer, {"decision": Step.Decision.APPROVE})


def drive(run: PeriodTask, target: str, cast: Cast) -> None:
    """Take one run from its launch to ``target`` (a key of DEMO_STAGES) through the services."""
    if target == "canceled":
        services.period_task_cancel(period_task_id=run.pk, actor=cast.office, reason=CANCEL_REASON)
        return
    if target == "lead_drafted":
        lead_draft(run, cast)
        return
    lead_submit(run, cast)
    if target == "partner":
        return
    partners_submit(run, cast)
    if target == "review":
        return
    review(run, cast, approve=target != "returned")
    if target == "returned":
        return
    if target == "sign_off":
        return
    sign_off(run, cast)


def pick_runs(period: ReportingPeriod) -> dict[str, list[PeriodTask]]:
    """Which runs go to which stage: runs with one lead unit and the fewest partners (at least
    one, so that the partner stage has something to show), in plan order."""
    runs: list[PeriodTask] = list(
        PeriodTask.objects.filter(period=period)
        .annotate(
            leads=Count("plan_task__lead_units", distinct=True),
            partners=Count("plan_task__partner_units", distinct=True),
        )
        .filter(leads=1, partners__gte=1)
        .select_related("plan_task")
        .order_by("partners", "plan_task__position")
    )
    wanted = sum(DEMO_STAGES.values())
    if len(runs) < wanted:
        raise CommandError(f"Kỳ {period.label} chỉ có {len(runs)} nhiệm vụ phù hợp; cần {wanted}.")
    picked: dict[str, list[PeriodTask]] = {}
    index = 0
    for stage, count in DEMO_STAGES.items():
        picked[stage] = runs[index : index + count]
        index += count
    return picked


def stage_counts(period: ReportingPeriod) -> dict[str, int]:
    rows = PeriodTask.objects.filter(period=period).values_list("stage").annotate(n=Count("pk"))
    return dict(rows)


class Command(BaseCommand):
    help = (
        "Tạo kế hoạch mẫu của năm hiện tại (cùng các nhiệm vụ của kế hoạch mẫu 2024), khởi tạo kỳ báo cáo "
        "hiện tại và đưa một số nhiệm vụ qua từng bước bằng các tài khoản mẫu. Chạy lại không thay đổi gì."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Chạy cả khi DEBUG tắt.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["force"]:
            self.stdout.write("Không tạo kế hoạch mẫu (DEBUG tắt; dùng --force nếu cần).")
            return
        today = timezone.localdate()
        year = today.year
        plan = demo_plan(year)
        if plan is None and Plan.objects.filter(year=year).exists():
            self.stdout.write(f"Đã có kế hoạch năm {year} không phải dữ liệu mẫu: không tạo kế hoạch mẫu.")
            return
        # The demo's users have e-mail addresses: nobody is mailed about made-up work. Mail is
        # queued (workflow/mail.py), so the mails the demo's actions queued are dropped before
        # commit; their delivery jobs then find nothing to send.
        from workflow.models import OutgoingMail

        quiet = override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
        with quiet, transaction.atomic():
            last_mail = OutgoingMail.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            plan, period, created = self._seed(plan, year, today)
            OutgoingMail.objects.filter(pk__gt=last_mail).delete()
        counts = stage_counts(period)
        verb = "Đã tạo" if created else "Đã có (không thay đổi)"
        self.stdout.write(f"{verb} kế hoạch mẫu “{plan.title}” (ID {plan.pk}), kỳ đang chạy: {period.label}.")
        self.stdout.write(f"  {sum(counts.values())} nhiệm vụ trong kỳ:")
        for value, label in Stage.choices:
            if value in counts:
                self.stdout.write(f"    {label}: {counts[value]}")
        returned = PeriodTask.objects.filter(period=period, round__gt=1).count()
        self.stdout.write(f"    (trong đó bị trả lại: {returned})")

    def _seed(self, plan: Plan | None, year: int, today: datetime.date) -> tuple[Plan, ReportingPeriod, bool]:
        if plan is None:
            data = SEED_FILE.read_bytes()
            try:
                parsed = parse_upload(SEED_FILE.name, data, unit_directory())
                report = plan_import(
                    parsed=parsed,
                    year=year,
                    source_name=SEED_FILE.name,
                    source_sha256=hashlib.sha256(data).hexdigest(),
                )
            except PlanParseError as exc:
                raise CommandError(exc.message) from exc
            assert report.plan is not None
            plan = report.plan
            plan.title = f"{plan.title}{DEMO_TITLE_SUFFIX}"
            plan.save(update_fields=["title"])
        period = current_period(periods_ensure(plan=plan), today)
        if PeriodTask.objects.filter(period=period).exists():
            return plan, period, False
        cast = Cast.load()
        services.period_launch(period=period, actor=cast.office)
        for stage, runs in pick_runs(period).items():
            for run in runs:
                drive(run, stage, cast)
        return plan, period, True
