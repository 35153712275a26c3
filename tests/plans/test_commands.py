"""manage.py import_plan, export_plan, seed_demo and seed_demo_year."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db.models import Count
from openpyxl import load_workbook

from audit.models import AuditEvent
from plans.models import Appendix, Criterion, Plan, PlanTask, ReportingPeriod, Section, Unit
from plans.periods import periods_ensure
from tests.helpers import SEED_DOCX, SEED_TXT
from workflow import services
from workflow.management.commands.seed_demo_year import current_period
from workflow.models import Notification, PeriodTask, Step


def run(*args: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_plan_dry_run_prints_the_summary_and_writes_nothing(units: dict[str, Unit]) -> None:
    # when the seed is imported with --dry-run
    output = run("import_plan", str(SEED_TXT), "--dry-run")
    # then the summary is printed
    assert "Kế hoạch: mới, năm 2024" in output
    assert "  Phụ lục 1 (par): 21 nhiệm vụ" in output
    assert "  Phụ lục 2 (par): 19 nhiệm vụ" in output
    assert "  Phụ lục 3 (sipas): 26 nhiệm vụ" in output
    assert "  Phụ lục 4 (papi): 11 nhiệm vụ" in output
    assert "Tổng: 4 phụ lục, 77 nhiệm vụ" in output
    assert "Thêm 77, sửa 0, xóa 0 nhiệm vụ." in output
    assert "Chạy thử (--dry-run): chưa ghi gì vào cơ sở dữ liệu." in output
    # and nothing is written
    for model in (Plan, Appendix, Section, Criterion, PlanTask, ReportingPeriod, AuditEvent):
        assert model.objects.count() == 0, model


def test_import_plan_imports_then_reimport_changes_nothing(units: dict[str, Unit]) -> None:
    first = run("import_plan", str(SEED_DOCX))
    assert "Thêm 77, sửa 0, xóa 0 nhiệm vụ." in first
    assert "Đã nhập xong." in first
    assert PlanTask.objects.count() == 77
    plan = Plan.objects.get()
    assert plan.source_name == "ke-hoach-cchc-2024-phu-luc.docx"

    again = run("import_plan", str(SEED_DOCX), "--plan", str(plan.pk))
    assert f"Kế hoạch: Kế hoạch cải cách hành chính năm 2024 (ID {plan.pk}, năm 2024)" in again
    assert "Thêm 0, sửa 0, xóa 0 nhiệm vụ." in again
    assert "Không có gì thay đổi." in again
    assert AuditEvent.objects.count() == 1


def test_import_plan_year_option_names_the_plan_year(units: dict[str, Unit]) -> None:
    run("import_plan", str(SEED_TXT), "--year", "2025")
    assert list(Plan.objects.values_list("year", flat=True)) == [2025]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "rong.txt", "Tệp rỗng."),
        (b"\xff\xfe\x00\x00garbage", "utf16.txt", "Tệp đang ở mã UTF-16"),
        (b"PK\x03\x04 not really a zip", "hong.docx", "Tệp .docx bị hỏng hoặc không trọn vẹn"),
        (b"plain text", "ke-hoach.pdf", "Tệp “ke-hoach.pdf” không đúng loại."),
        (b"hello world", "ke-hoach.txt", "Không tìm thấy phụ lục nào trong tệp"),
    ],
)
def test_import_plan_bad_file_exits_with_the_message(
    units: dict[str, Unit], tmp_path: Path, content: bytes, name: str, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CommandError) as caught:
        run("import_plan", str(path))
    assert message in str(caught.value)
    assert Plan.objects.count() == 0


def test_import_plan_missing_file_and_plan(units: dict[str, Unit], tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Không mở được tệp"):
        run("import_plan", str(tmp_path / "khong-co.txt"))
    with pytest.raises(CommandError, match="Không có kế hoạch ID 999"):
        run("import_plan", str(SEED_TXT), "--plan", "999")


def test_import_plan_unknown_unit_names_the_line(units: dict[str, Unit], tmp_path: Path) -> None:
    text = SEED_TXT.read_text(encoding="utf-8").replace(
        "\tPhòng Quản lý công nghiệp\n\tCác phòng, đơn vị thuộc sở",
        "\tSở Tài chính\n\tCác phòng, đơn vị thuộc sở",
    )
    path = tmp_path / "ke-hoach.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        run("import_plan", str(path))
    assert "dòng 441: “Sở Tài chính”" in str(caught.value)
    assert str(caught.value).endswith("(dòng 441)")
    assert PlanTask.objects.count() == 0


TASK_KEYS = [
    "key",
    "target",
    "task",
    "lead_text",
    "lead_units",
    "partner_text",
    "partner_units",
    "timeline_text",
    "timeline_kind",
    "due_date",
    "inherited",
]


def test_export_plan_json_has_the_documented_structure(units: dict[str, Unit]) -> None:
    # given the seed imported
    run("import_plan", str(SEED_TXT))
    # when it is exported as JSON to stdout
    data = json.loads(run("export_plan", "--format", "json"))
    # then the keys are exactly those of docs/plan-json.md
    assert list(data) == ["format", "plan", "appendices"]
    assert data["format"] == "cchc-plan/1"
    assert list(data["plan"]) == ["id", "title", "year", "source_name", "source_sha256"]
    assert [a["number"] for a in data["appendices"]] == [1, 2, 3, 4]
    appendix = data["appendices"][0]
    assert list(appendix) == ["number", "index", "title", "columns", "sections"]
    section = appendix["sections"][0]
    assert list(section) == ["code", "title", "groups", "criteria"]
    criterion = section["criteria"][0]
    assert list(criterion) == ["ordinal", "code", "name", "group", "tasks"]
    task = criterion["tasks"][0]
    assert list(task) == TASK_KEYS
    assert task == {
        "key": "1/I/-/1/1",
        "target": "100% nhiệm vụ kế hoạch được hoàn thành đúng tiến độ",
        "task": "Triển khai thực hiện có hiệu quả, đúng tiến độ các nhiệm vụ kế hoạch CCHC năm 2024 đề ra",
        "lead_text": "Văn phòng Sở",
        "lead_units": ["Văn phòng Sở"],
        "partner_text": "Các phòng, đơn vị thuộc sở",
        "partner_units": [
            "Thanh tra Sở",
            "Phòng Quản lý công nghiệp",
            "Phòng Quản lý thương mại",
            "Phòng An toàn - Năng lượng",
            "Phòng Kế hoạch - Tài chính",
            "Trung tâm Khuyến công và Xúc tiến Thương mại",
        ],
        "timeline_text": "Thường xuyên",
        "timeline_kind": "ongoing",
        "due_date": None,
        "inherited": [],
    }
    # every task is there, groups carry their codes
    tasks = [t for a in data["appendices"] for s in a["sections"] for c in s["criteria"] for t in c["tasks"]]
    assert len(tasks) == 77
    sipas = data["appendices"][2]["sections"][0]
    assert [g["code"] for g in sipas["groups"]] == ["1", "2", "3", "4"]
    assert sipas["criteria"][0]["group"] == "1"
    assert data["appendices"][3]["sections"][0]["code"] == ""


def test_export_plan_json_to_a_file(units: dict[str, Unit], tmp_path: Path) -> None:
    run("import_plan", str(SEED_TXT))
    out = tmp_path / "ke-hoach.json"
    assert run("export_plan", "--format", "json", "-o", str(out)) == ""
    assert json.loads(out.read_text(encoding="utf-8"))["plan"]["year"] == 2024


def test_export_plan_xlsx_has_one_sheet_per_appendix_with_headers(
    units: dict[str, Unit], tmp_path: Path
) -> None:
    run("import_plan", str(SEED_TXT))
    out = tmp_path / "ke-hoach.xlsx"
    run("export_plan", "--format", "xlsx", "-o", str(out))
    book = load_workbook(out)
    assert book.sheetnames == ["Phụ lục 1", "Phụ lục 2", "Phụ lục 3", "Phụ lục 4"]
    first = book["Phụ lục 1"]
    # rows 1-3: the title block (plan, empty row, the appendix's heading); row 4 the header
    assert [c.value for c in first[4]] == [
        "TT",
        "Lĩnh vực/Tiêu chí/ Tiêu chí thành phần",
        "Mục tiêu năm 2024",
        "Nhiệm vụ, giải pháp",
        "Đơn vị chủ trì thực hiện",
        "Cơ quan phối hợp thực hiện",
        "Thời gian thực hiện",
    ]
    assert first.freeze_panes == "A5"
    assert first["D6"].alignment.wrap_text is True
    assert first.column_dimensions["D"].width == 60
    # row 5 is section I, row 6 its first criterion's task
    assert [first["A5"].value, first["B5"].value] == ["I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"]
    assert first["B6"].value == "TC 1.1. Thực hiện kế hoạch CCHC"
    assert first["E6"].value == "Văn phòng Sở"
    papi = book["Phụ lục 4"]
    assert [c.value for c in papi[4]] == [
        "TT",
        "Chỉ số nội dung/Nội dung thành phần",
        "Nhiệm vụ, giải pháp",
        "Cơ quan chủ trì thực hiện",
        "Cơ quan phối hợp thực hiện",
        "Thời gian thực hiện",
    ]
    # one row per task (with its lead unit) under the header, section and group rows
    lead_column = {"Phụ lục 1": 4, "Phụ lục 2": 4, "Phụ lục 3": 3, "Phụ lục 4": 3}
    task_rows = [
        sum(1 for row in sheet.iter_rows(min_row=5, values_only=True) if row[lead_column[sheet.title]])
        for sheet in book
    ]
    assert task_rows == [21, 19, 26, 11]


def test_export_plan_xlsx_needs_an_output_file(units: dict[str, Unit]) -> None:
    run("import_plan", str(SEED_TXT))
    with pytest.raises(CommandError, match="cần tệp kết quả"):
        run("export_plan", "--format", "xlsx")


def test_export_plan_without_plans_or_unknown_id(units: dict[str, Unit]) -> None:
    with pytest.raises(CommandError, match="Chưa có kế hoạch nào."):
        run("export_plan", "--format", "json")
    with pytest.raises(CommandError, match="Không có kế hoạch ID 5"):
        run("export_plan", "--format", "json", "--plan", "5")


# --- seed_demo and seed_demo_year: the living demo ---------------------------------------

# A demo date in the middle of a quarter: the next deadline is 6 tháng's, 10/06/2026.
DEMO_DAY = datetime.datetime(2026, 5, 2, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture
def demo_seeded(db: Any, settings: Any) -> str:
    """seed_demo with its accounts and the 2024 seed plan imported, as `make seed` does."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    output = run("seed_demo", "--demo-accounts")
    run("import_plan", str(SEED_TXT))
    return output


def test_seed_demo_prints_every_login_with_its_role_and_vietnamese_name(demo_seeded: str) -> None:
    lines = [line.split(maxsplit=1) for line in demo_seeded.splitlines() if line.startswith("  ")]
    assert len(lines) == 18
    printed = dict(lines)
    assert printed["giamdoc"].endswith("Giám đốc")
    assert printed["phogiamdoc"] == "Trần Thị Phó           Phó Giám đốc"
    assert printed["vanphong"] == (
        "Lê Thị Đầu Mối         Văn phòng Sở - đầu mối CCHC; Chuyên viên – Văn phòng Sở"
    )
    assert printed["kiemtra"].endswith("Kiểm tra, thẩm định")
    assert printed["qlcn.cv"].endswith("Chuyên viên – Phòng Quản lý công nghiệp")
    assert printed["ttkc.tp"].endswith("Trưởng đơn vị – Trung tâm Khuyến công và Xúc tiến Thương mại")
    # no account is printed without a role
    assert all(len(value.split("  ")) > 1 and value.strip() for value in printed.values())


def _demo_state() -> dict[str, int]:
    return {
        "plans": Plan.objects.count(),
        "runs": PeriodTask.objects.count(),
        "steps": Step.objects.count(),
        "events": AuditEvent.objects.count(),
        "notifications": Notification.objects.count(),
    }


@time_machine.travel(DEMO_DAY, tick=False)
def test_seed_demo_year_runs_the_current_period_at_every_stage(demo_seeded: str, settings: Any) -> None:
    settings.DEBUG = True
    plan_2024 = Plan.objects.get(year=2024)
    before_2024 = list(PlanTask.objects.filter(plan=plan_2024).values_list("key", "task"))

    output = run("seed_demo_year")

    # nobody is mailed about made-up work (the queued mails are dropped before commit)
    from workflow.models import OutgoingMail

    assert not OutgoingMail.objects.exists()
    plan = Plan.objects.get(year=2026)
    assert plan.title == "Kế hoạch cải cách hành chính năm 2026 (dữ liệu mẫu)"
    assert "kỳ đang chạy: 6 tháng/2026" in output
    # the same tasks as the 2024 seed plan
    assert list(PlanTask.objects.filter(plan=plan).values_list("key", "task")) == before_2024
    # only the current period is launched, with every run it has
    period = ReportingPeriod.objects.get(plan=plan, code="H1")
    runs = PeriodTask.objects.filter(period__plan=plan)
    assert set(runs.values_list("period_id", flat=True)) == {period.pk}
    assert runs.count() == len(services.tasks_for_period(plan=plan, period=period))
    stages = dict(runs.values_list("stage").annotate(n=Count("pk")))
    assert stages == {
        "lead": runs.count() - 9,
        "partner": 2,
        "review": 2,
        "sign_off": 2,
        "done": 2,
        "canceled": 1,
    }
    # lead open (unclaimed), lead drafted (claimed, a draft saved), returned with a reason
    lead_steps = Step.objects.filter(period_task__period=period, kind="lead", state="open")
    drafted = lead_steps.filter(draft_saved_at__isnull=False)
    assert drafted.count() == 2
    assert all(s.assignee.username == f"{s.unit.short_name.lower()}.cv" for s in drafted)
    untouched = runs.filter(stage="lead", round=1).exclude(steps__assignee__isnull=False)
    assert untouched.count() == runs.count() - 12
    returned = runs.get(round=2)
    assert returned.stage == "lead"
    decision = Step.objects.get(period_task=returned, kind="review")
    assert (decision.decision, decision.state, decision.submitted_by.username) == ("lead", "done", "vanphong")
    assert decision.reason.startswith("Chưa nêu số liệu cụ thể")
    again = Step.objects.get(period_task=returned, kind="lead", state="open")
    assert again.result.startswith("Đã triển khai nhiệm vụ")  # starts from the returned text
    # done runs were signed off by the director, on time
    for done in runs.filter(stage="done"):
        assert done.bucket(DEMO_DAY.date()) == "done_on_time"
        assert done.steps.get(kind="sign_off").submitted_by.username == "giamdoc"
    # every action was a real, audited service call by a demo user
    assert AuditEvent.objects.filter(action="launch").count() == runs.count()
    assert AuditEvent.objects.filter(action="return", reason__startswith="Chưa nêu").count() == 1
    assert AuditEvent.objects.filter(action="cancel").count() == 1
    assert AuditEvent.objects.filter(action="sign_off").count() == 2
    # no step of the demo is due in the past of the demo date
    assert Step.objects.filter(state="open", due_date__lt=DEMO_DAY.date()).count() == 0
    # the earliest: the lead steps, 6 working days before the 6 tháng deadline (Wed 10/06/2026)
    assert Step.objects.filter(state="open").order_by("due_date").first().due_date == datetime.date(
        2026, 6, 2
    )
    # the 2024 plan stays as imported: nothing of it is launched
    assert not PeriodTask.objects.filter(period__plan=plan_2024).exists()
    assert list(PlanTask.objects.filter(plan=plan_2024).values_list("key", "task")) == before_2024


@time_machine.travel(DEMO_DAY, tick=False)
def test_seed_demo_year_again_changes_nothing(demo_seeded: str, settings: Any) -> None:
    settings.DEBUG = True
    run("seed_demo_year")
    first = _demo_state()
    output = run("seed_demo_year")
    assert _demo_state() == first
    assert "Đã có (không thay đổi)" in output
    # and seed_demo with import_plan again (the rest of `make seed`) changes nothing either
    run("seed_demo", "--demo-accounts")
    run("import_plan", str(SEED_TXT))
    assert _demo_state() == first


@pytest.mark.parametrize(
    ("day", "code"),
    [
        (datetime.date(2026, 1, 5), "Q1"),
        (datetime.date(2026, 3, 10), "Q1"),
        (datetime.date(2026, 3, 11), "H1"),
        (datetime.date(2026, 9, 30), "Y"),
        (datetime.date(2026, 12, 20), "Y"),  # after the last deadline: the one most recently passed
    ],
)
def test_the_current_period_is_the_next_deadline_or_the_last_passed(
    units: dict[str, Unit], day: datetime.date, code: str
) -> None:
    plan = Plan.objects.create(title="Kế hoạch", year=2026)
    assert current_period(periods_ensure(plan=plan), day).code == code


def test_seed_demo_year_does_nothing_without_debug_or_next_to_a_real_plan(
    demo_seeded: str, settings: Any
) -> None:
    settings.DEBUG = False
    assert "DEBUG tắt" in run("seed_demo_year")
    assert _demo_state()["runs"] == 0
    # a real plan of the current year is never turned into a demo
    settings.DEBUG = True
    with time_machine.travel(datetime.datetime(2024, 5, 2, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))):
        assert "không phải dữ liệu mẫu" in run("seed_demo_year")
    assert _demo_state()["runs"] == 0
    assert Plan.objects.count() == 1


def test_seed_demo_year_needs_the_demo_accounts(units: dict[str, Unit], settings: Any) -> None:
    settings.DEBUG = True
    with pytest.raises(CommandError, match="Chưa có tài khoản mẫu"):
        run("seed_demo_year")
    assert Plan.objects.count() == 0  # nothing half-written
