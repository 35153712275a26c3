"""plan_import: the seed plan into the database, re-imports, changed files, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from plans.models import Appendix, Plan, PlanTask, ReportingPeriod, Unit
from plans.parsing import ParsedPlan, parse_upload
from plans.services import PlanImportError, plan_import, plan_year_from_titles, unit_directory
from tests import helpers
from tests.helpers import PLAN_TABLES

SEED_TXT = helpers.SEED_TXT.read_bytes()
SEED_DOCX = helpers.SEED_DOCX.read_bytes()

# Edits of the seed text for the "changed file" tests.
TC11_TASK = "Triển khai thực hiện có hiệu quả, đúng tiến độ các nhiệm vụ kế hoạch CCHC năm 2024 đề ra"
TC11_TASK_EDITED = "Triển khai thực hiện có hiệu quả các nhiệm vụ kế hoạch CCHC năm 2024 (sửa đổi)"
# The second task of TC 7.1 in appendix 2 (key 2/VII/-/1/2): its own row, no TT, no criterion.
APPX2_LAST_ROW_START = "\t\n\t\n\t\n\tTháo gỡ khó khăn"
# A second task for TC 1.1 of appendix 1, inserted before section II.
NEW_ROW = (
    "\t\n\t\n\t\n\tRà soát, cập nhật kế hoạch CCHC giữa năm\n\tThanh tra\n\tVăn phòng Sở\n\tNăm 2024\n\n"
)
SECTION_II_APPX1 = "\tII\n\tCẢI CÁCH THỂ CHẾ\n\n\t1\n\tTC 2.1."


def parse(data: bytes, name: str = "ke-hoach.txt") -> ParsedPlan:
    return parse_upload(name, data, unit_directory())


def import_seed(**kwargs: Any) -> Any:
    return plan_import(parsed=parse(SEED_TXT), source_name="ke-hoach.txt", source_sha256="a" * 64, **kwargs)


def edited_seed() -> bytes:
    """The seed with one task's text changed, one task removed and one added."""
    text = SEED_TXT.decode("utf-8")
    assert text.count(TC11_TASK) == 1
    text = text.replace(TC11_TASK, TC11_TASK_EDITED)
    start = text.index(APPX2_LAST_ROW_START)
    end = text.index("Phụ lục 3.")
    text = text[:start] + "\n\n\t" + text[end:]
    assert text.count(SECTION_II_APPX1) == 1
    text = text.replace(SECTION_II_APPX1, NEW_ROW + SECTION_II_APPX1)
    return text.encode("utf-8")


def table_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in PLAN_TABLES}


def snapshot() -> dict[str, Any]:
    """Every plan row as stored, primary keys and many-to-many links included."""
    rows: dict[str, Any] = {}
    for model in PLAN_TABLES:
        rows[model.__name__] = sorted(model.objects.values_list(), key=lambda r: r[0])
    rows["lead"] = sorted(PlanTask.lead_units.through.objects.values_list("plantask_id", "unit_id"))
    rows["partners"] = sorted(PlanTask.partner_units.through.objects.values_list("plantask_id", "unit_id"))
    return rows


def names(units: Any) -> set[str]:
    return {u.short_name for u in units.all()}


def test_seed_import_writes_77_tasks_in_four_appendices(units: dict[str, Unit]) -> None:
    # given the department's units
    # when the seed plan is imported
    report = import_seed()
    # then the plan of 2024 holds 77 tasks, 21/19/26/11 per appendix
    plan = Plan.objects.get()
    assert plan.year == 2024
    assert plan.title == "Kế hoạch cải cách hành chính năm 2024"
    assert plan.source_name == "ke-hoach.txt"
    assert plan.source_sha256 == "a" * 64
    assert plan.imported_at is not None
    assert PlanTask.objects.count() == 77
    assert [
        PlanTask.objects.filter(criterion__section__appendix__number=n).count() for n in (1, 2, 3, 4)
    ] == [21, 19, 26, 11]
    assert list(Appendix.objects.values_list("number", "index")) == [
        (1, "par"),
        (2, "par"),
        (3, "sipas"),
        (4, "papi"),
    ]
    assert report.counts() == {
        "appendices": 4,
        "tasks": 77,
        "inherited_cells": report.inherited_cells,
        "added": 77,
        "changed": 0,
        "removed": 0,
    }
    assert report.plan_created is True
    # positions run through the whole plan
    assert list(PlanTask.objects.values_list("position", flat=True)) == list(range(1, 78))
    # the reporting periods exist
    assert list(ReportingPeriod.objects.values_list("code", flat=True)) == ["Q1", "H1", "Q3", "Y"]


def test_seed_import_records_one_audit_event_with_counts(units: dict[str, Unit], make_user: Any) -> None:
    # given an office reviewer
    reviewer = make_user("vp", unit="VP")
    # when they import the seed
    import_seed(actor=reviewer)
    # then one plan_imported event carries the counts, the file name and its hash
    event = AuditEvent.objects.get(action="plan_imported")
    assert event.action == "plan_imported"
    assert event.actor == reviewer
    assert event.data["tasks"] == 77
    assert event.data["added"] == 77
    assert event.data["changed"] == 0
    assert event.data["removed"] == 0
    assert event.data["source_name"] == "ke-hoach.txt"
    assert event.data["sha256"] == "a" * 64
    assert event.data["year"] == 2024


def test_seed_import_links_lead_and_partner_units_by_canonical_name(units: dict[str, Unit]) -> None:
    import_seed()
    everyone = {"VP", "TTr", "QLCN", "QLTM", "ATNL", "KHTC", "TTKC"}

    # TC 1.1: "Văn phòng Sở" leads, "Các phòng, đơn vị thuộc sở" = every other unit
    task = PlanTask.objects.get(key="1/I/-/1/1")
    assert task.criterion.code == "TC 1.1"
    assert names(task.lead_units) == {"VP"}
    assert names(task.partner_units) == everyone - {"VP"}
    assert task.timeline_kind == "ongoing"

    # TC 2.1: "Thanh tra " is Thanh tra Sở; "Năm 2024" is due at the end of the year
    task = PlanTask.objects.get(key="1/II/-/1/1")
    assert names(task.lead_units) == {"TTr"}
    assert task.timeline_kind == "year"
    assert task.due_date is not None and task.due_date.isoformat() == "2024-12-31"

    # TCTP 6.4: the centre leads, "Các phòng thuộc sở" = the divisions, not the centre
    task = PlanTask.objects.get(key="1/VI/-/4/1")
    assert names(task.lead_units) == {"TTKC"}
    assert names(task.partner_units) == {"VP", "TTr", "QLCN", "QLTM", "ATNL", "KHTC"}

    # TC 4.2: every unit leads its own part; the office partners as a lead already
    task = PlanTask.objects.get(key="1/IV/-/2/1")
    assert names(task.lead_units) == everyone
    assert task.partner_text == "Văn phòng"

    # appendix 2, TC 7.1, second task: its own lead, the target inherited from the merged cell
    task = PlanTask.objects.get(key="2/VII/-/1/2")
    assert names(task.lead_units) == {"QLCN"}
    assert task.inherited == ["target"]
    assert task.target.startswith("Phấn đấu kết quả Chỉ số hài lòng đạt từ 80%")

    # TC 2.3: an empty row under TC 2.2 takes its task, units and timeline
    task = PlanTask.objects.get(key="1/II/-/3/1")
    assert task.inherited == ["task", "lead", "partners", "timeline"]
    assert names(task.lead_units) == {"TTr"}

    # appendix 3 has groups; appendix 4 has an implicit section
    task = PlanTask.objects.get(key="3/I/3/3.4/1")
    assert task.criterion.group is not None and task.criterion.group.code == "3"
    assert names(task.lead_units) == {"ATNL"}
    task = PlanTask.objects.get(key="4/-/3/3.1/1")
    assert task.criterion.section.code == ""
    assert task.criterion.name == "Hiệu quả tương tác với các cấp chính quyền"


def test_search_text_is_folded_criterion_target_task_and_units(units: dict[str, Unit]) -> None:
    import_seed()
    task = PlanTask.objects.get(key="1/I/-/1/1")
    assert task.search_text == (
        "tc 1.1 thuc hien ke hoach cchc 100% nhiem vu ke hoach duoc hoan thanh dung tien do "
        "trien khai thuc hien co hieu qua, dung tien do cac nhiem vu ke hoach cchc nam 2024 de ra "
        "van phong so cac phong, don vi thuoc so"
    )


def test_docx_import_gives_the_same_tasks_as_the_text_export(units: dict[str, Unit]) -> None:
    # given the plan imported from the text export
    import_seed()
    keys = set(PlanTask.objects.values_list("key", flat=True))
    # when the Word file of the same tables is imported
    report = plan_import(parsed=parse(SEED_DOCX, "ke-hoach.docx"))
    # then the same 77 tasks are there under the same keys (the two parsers still differ
    # on one cell's line breaks, appendix 2 TCTP 2.1, so wording is not compared here)
    assert (report.added, report.removed) == ([], [])
    assert set(PlanTask.objects.values_list("key", flat=True)) == keys
    assert PlanTask.objects.count() == 77


def test_reimport_of_the_same_file_changes_and_writes_nothing(units: dict[str, Unit]) -> None:
    # given the seed imported once
    import_seed()
    before = snapshot()
    # when it is imported again
    report = import_seed()
    # then the report says 0 / 0 / 0 and no row (not even a timestamp) changed
    assert (len(report.added), len(report.changed), len(report.removed)) == (0, 0, 0)
    assert report.structure_changes == 0
    assert report.has_changes is False
    assert snapshot() == before
    assert AuditEvent.objects.count() == 1


def test_changed_file_reports_added_changed_removed_and_keeps_pks(units: dict[str, Unit]) -> None:
    # given the seed imported once
    import_seed()
    pks = dict(PlanTask.objects.values_list("key", "pk"))
    # when a file with one task edited, one removed and one added is imported
    report = plan_import(parsed=parse(edited_seed()), source_name="v2.txt", source_sha256="b" * 64)
    # then exactly those are reported
    assert report.added == ["1/I/-/1/2"]
    assert report.changed == ["1/I/-/1/1"]
    assert report.removed == ["2/VII/-/1/2"]
    assert PlanTask.objects.count() == 77
    assert PlanTask.objects.get(key="1/I/-/1/1").task == TC11_TASK_EDITED
    added = PlanTask.objects.get(key="1/I/-/1/2")
    assert added.task == "Rà soát, cập nhật kế hoạch CCHC giữa năm"
    assert names(added.lead_units) == {"TTr"}
    assert names(added.partner_units) == {"VP"}
    assert added.inherited == ["target"]
    # unchanged tasks keep their primary keys; positions follow the new order
    kept = dict(PlanTask.objects.exclude(key="1/I/-/1/2").values_list("key", "pk"))
    assert kept == {k: v for k, v in pks.items() if k != "2/VII/-/1/2"}
    assert PlanTask.objects.get(key="1/II/-/1/1").position == 3
    assert list(PlanTask.objects.values_list("position", flat=True)) == list(range(1, 78))
    # the plan remembers the new source, the audit trail the import
    plan = Plan.objects.get()
    assert (plan.source_name, plan.source_sha256) == ("v2.txt", "b" * 64)
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    assert (event.data["added"], event.data["changed"], event.data["removed"]) == (1, 1, 1)


def test_dry_run_reports_the_changes_and_writes_nothing(units: dict[str, Unit]) -> None:
    import_seed()
    before = snapshot()
    report = plan_import(parsed=parse(edited_seed()), dry_run=True)
    assert (report.added, report.changed, report.removed) == (["1/I/-/1/2"], ["1/I/-/1/1"], ["2/VII/-/1/2"])
    assert report.dry_run is True
    assert snapshot() == before


def test_dry_run_of_a_new_plan_creates_nothing(units: dict[str, Unit]) -> None:
    report = plan_import(parsed=parse(SEED_TXT), dry_run=True)
    assert report.plan is None
    assert report.year == 2024
    assert len(report.added) == 77
    assert table_counts() == dict.fromkeys(table_counts(), 0)


def test_unknown_unit_stops_the_import_and_writes_nothing(units: dict[str, Unit]) -> None:
    # given a file where one lead unit is not a unit of the department
    text = SEED_TXT.decode("utf-8").replace(
        "\tPhòng Quản lý công nghiệp\n\tCác phòng, đơn vị thuộc sở",
        "\tSở Tài chính\n\tCác phòng, đơn vị thuộc sở",
    )
    parsed = parse(text.encode("utf-8"))
    # when it is imported
    with pytest.raises(PlanImportError) as caught:
        plan_import(parsed=parsed)
    # then the error names the line and the text, and no plan table has a row
    assert caught.value.row == 441
    assert caught.value.text == "Sở Tài chính"
    assert caught.value.problems == [(441, "Sở Tài chính")]
    assert "dòng 441: “Sở Tài chính”" in caught.value.message
    assert table_counts() == dict.fromkeys(table_counts(), 0)


def test_unknown_unit_on_reimport_leaves_the_plan_as_it_was(units: dict[str, Unit]) -> None:
    import_seed()
    before = snapshot()
    text = (
        edited_seed()
        .decode("utf-8")
        .replace("\tThanh tra\n\tVăn phòng Sở\n\tNăm 2024", "\tBan X\n\tVăn phòng Sở\n\tNăm 2024")
    )
    with pytest.raises(PlanImportError):
        plan_import(parsed=parse(text.encode("utf-8")))
    assert snapshot() == before


def test_removing_a_task_that_has_run_refuses_the_import(units: dict[str, Unit]) -> None:
    # given the seed imported and the task 2/VII/-/1/2 launched in a period
    from viewflow.workflow.models import Process

    from workflow.models import PeriodTask

    import_seed()
    task = PlanTask.objects.get(key="2/VII/-/1/2")
    process = Process.objects.create(flow_class="workflow/flows.PlanTaskFlow")
    PeriodTask.objects.create(plan_task=task, period=ReportingPeriod.objects.get(code="Q1"), process=process)
    before = snapshot()
    # when a file without that task is imported
    with pytest.raises(PlanImportError) as caught:
        plan_import(parsed=parse(edited_seed()))
    # then the import is refused with the task named, and nothing changed
    assert "đã được triển khai trong kỳ báo cáo" in caught.value.message
    assert "(2/VII/-/1/2)" in caught.value.message
    assert snapshot() == before


def test_year_comes_from_the_parameter_before_the_titles(units: dict[str, Unit]) -> None:
    parsed = parse(SEED_TXT)
    assert plan_year_from_titles(parsed) == 2024
    report = plan_import(parsed=parsed, year=2025)
    assert report.plan is not None and report.plan.year == 2025
    assert report.plan.title == "Kế hoạch cải cách hành chính năm 2025"


def test_plan_without_a_year_in_its_titles_needs_one(units: dict[str, Unit]) -> None:
    text = SEED_TXT.decode("utf-8").replace("NĂM 2024", "").replace("NĂM 2023", "")
    parsed = parse(text.encode("utf-8"))
    with pytest.raises(PlanImportError, match="Không xác định được năm"):
        plan_import(parsed=parsed)
    assert Plan.objects.count() == 0


def test_import_goes_into_the_existing_plan_of_its_year(units: dict[str, Unit]) -> None:
    existing = Plan.objects.create(title="Kế hoạch số 88/KH-SCT", year=2024)
    report = import_seed()
    assert report.plan == existing
    assert Plan.objects.count() == 1
    assert Plan.objects.get().title == "Kế hoạch số 88/KH-SCT"
    assert existing.tasks.count() == 77


def test_unit_directory_reads_aliases_from_the_database(units: dict[str, Unit]) -> None:
    unit = units["QLCN"]
    unit.aliases = ["Phòng QLCN", "P. Công nghiệp"]
    unit.save()
    names_found, unresolved = unit_directory().resolve("P. Công nghiệp; Thanh tra")
    assert names_found == ("Phòng Quản lý công nghiệp", "Thanh tra Sở")
    assert unresolved == ()
