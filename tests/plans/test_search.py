"""The plan table's filters and its diacritics-insensitive search; the page's fixed query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans.models import Plan, Unit
from plans.parsing import parse_upload
from plans.selectors import PlanFilters, plan_tasks_for_page
from plans.services import plan_import, unit_directory
from tests import helpers
from tests.factories import PlanFactory, periods

SEED_TXT = helpers.SEED_TXT.read_bytes()
SMALL_TXT = """Phụ lục 1.
MỤC TIÊU, NHIỆM VỤ VÀ GIẢI PHÁP NĂM 2025
\tTT
\tLĩnh vực/Tiêu chí/ Tiêu chí thành phần
\tMục tiêu năm 2025
\tNhiệm vụ, giải pháp
\tĐơn vị chủ trì thực hiện
\tCơ quan phối hợp thực hiện
\tThời gian thực hiện

\tI
\tCÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH

\t1
\tTC 1.1. Thực hiện kế hoạch CCHC
\t100% nhiệm vụ được hoàn thành
\tCải cách thủ tục hành chính tại bộ phận một cửa
\tPhòng Quản lý công nghiệp
\tVăn phòng Sở
\tThường xuyên

\t2
\tTC 1.2. Cung cấp điện
\tĐảm bảo cung cấp điện an toàn
\tKiểm tra an toàn lưới điện nông thôn
\tPhòng An toàn - Năng lượng
\tPhòng Quản lý công nghiệp
\tNăm 2025

\t3
\tTC 1.3. Thanh tra, kiểm tra
\tKhông để xảy ra vi phạm
\tThanh tra việc chấp hành pháp luật
\tThanh tra Sở
\tPhòng Kế hoạch - Tài chính
\tKhi tham mưu xây dựng chính sách
""".encode()


def import_file(data: bytes) -> Plan:
    report = plan_import(parsed=parse_upload("ke-hoach.txt", data, unit_directory()))
    assert report.plan is not None
    return report.plan


@pytest.fixture
def seed_plan(units: dict[str, Unit]) -> Plan:
    return import_file(SEED_TXT)


@pytest.fixture
def small_plan(units: dict[str, Unit]) -> Plan:
    return import_file(SMALL_TXT)


def keys(plan: Plan, **filters: Any) -> list[str]:
    tables = plan_tasks_for_page(plan, PlanFilters(**filters))
    return [r.key for t in tables for r in t.rows if r.kind == "task"]


def test_small_plan_is_three_tasks(small_plan: Plan) -> None:
    assert keys(small_plan) == ["1/I/-/1/1", "1/I/-/2/1", "1/I/-/3/1"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("cai cach", ["1/I/-/1/1"]),
        ("Cải cách", ["1/I/-/1/1"]),
        ("CAI CACH", ["1/I/-/1/1"]),
        ("dien", ["1/I/-/2/1"]),
        ("điện", ["1/I/-/2/1"]),
        ("ĐIỆN", ["1/I/-/2/1"]),
        ("Đien", ["1/I/-/2/1"]),
        ("  luoi   dien  ", ["1/I/-/2/1"]),
        ("thanh tra", ["1/I/-/3/1"]),
        ("tc 1.3", ["1/I/-/3/1"]),  # the criterion code
        ("100%", ["1/I/-/1/1"]),  # the target
        ("quan ly cong nghiep", ["1/I/-/1/1", "1/I/-/2/1"]),  # lead and partner text
        ("xyz khong co", []),
    ],
)
def test_search_ignores_diacritics_case_and_d_stroke(small_plan: Plan, q: str, expected: list[str]) -> None:
    assert keys(small_plan, q=q) == expected


@pytest.mark.parametrize(
    ("q", "count"),
    [
        ("cai cach", 2),
        ("CẢI CÁCH", 2),
        ("dien", 8),
        ("ĐIỆN", 8),
        ("đien", 8),
        ("dien tu", 5),
        ("sinh hoat", 3),
    ],
)
def test_search_in_the_seed_plan(seed_plan: Plan, q: str, count: int) -> None:
    assert len(keys(seed_plan, q=q)) == count


def test_search_in_the_seed_plan_finds_the_exact_tasks(seed_plan: Plan) -> None:
    assert keys(seed_plan, q="cai cach") == ["2/I/-/1/1", "3/I/3/3.6/1"]
    assert keys(seed_plan, q="sinh hoạt") == ["3/I/3/3.4/1", "3/I/4/4.3/1", "4/-/5/5.1/1"]


def test_unit_filter_matches_lead_or_partner(small_plan: Plan, units: dict[str, Unit]) -> None:
    assert keys(small_plan, unit=units["QLCN"]) == ["1/I/-/1/1", "1/I/-/2/1"]
    assert keys(small_plan, unit=units["KHTC"]) == ["1/I/-/3/1"]
    assert keys(small_plan, unit=units["TTKC"]) == []


def test_appendix_and_timeline_filters(seed_plan: Plan, small_plan: Plan) -> None:
    assert len(keys(seed_plan, appendix=3)) == 26
    assert keys(seed_plan, kind="policy") == ["3/I/4/4.1/1", "3/I/4/4.2/1"]
    assert keys(seed_plan, kind="year") == [
        "1/II/-/1/1",
        "1/IV/-/2/1",
        "1/VI/-/4/1",
        "2/V/-/1/1",
        "2/V/-/2/1",
    ]
    assert keys(seed_plan, appendix=2, kind="year", q="giai ngan") == ["2/V/-/1/1"]
    assert keys(small_plan, kind="year") == ["1/I/-/2/1"]
    assert keys(small_plan, appendix=2) == []


def test_filtered_tables_keep_headings_and_criterion_spans(seed_plan: Plan) -> None:
    tables = plan_tasks_for_page(seed_plan, PlanFilters(appendix=2, q="cong nghiep"))
    assert [t.number for t in tables] == [2]
    rows = tables[0].rows
    assert [(r.kind, getattr(r, "code", None)) for r in rows] == [("section", "VII"), ("task", None)]
    task = rows[1]
    assert (task.first, task.span, task.ordinal, task.key) == (True, 1, "1", "2/VII/-/1/2")


def test_selector_costs_three_queries_whatever_the_size(
    seed_plan: Plan, small_plan: Plan, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(3):
        plan_tasks_for_page(seed_plan, PlanFilters())
    with django_assert_num_queries(3):
        plan_tasks_for_page(small_plan, PlanFilters())


# --- Through the page -------------------------------------------------------------------------


@pytest.fixture
def staff_client(client: Client, make_user: Any) -> Client:
    client.force_login(make_user("cv", unit="QLCN"))
    return client


def page(client: Client, **params: Any) -> Any:
    response = client.get(reverse("plans:plan"), params)
    assert response.status_code == 200
    return response


def page_keys(response: Any) -> list[str]:
    return [r.key for t in response.context["tables"] for r in t.rows if r.kind == "task"]


def count_queries(client: Client, **params: Any) -> int:
    with CaptureQueriesContext(connection) as queries:
        page(client, **params)
    return len(queries)


def test_page_query_count_is_the_same_for_77_and_3_tasks(
    staff_client: Client, seed_plan: Plan, small_plan: Plan, units: dict[str, Unit]
) -> None:
    page(staff_client)  # warm up (session, content types)
    # ... and the year's working-day calendar, read once per process and cached (plans.calendar)
    page(staff_client, plan=seed_plan.pk)
    big = count_queries(staff_client, plan=seed_plan.pk)
    small = count_queries(staff_client, plan=small_plan.pk)
    assert big == small
    # (with filters that match at least one task in both: Django skips the prefetch
    # queries when there is nothing to prefetch for)
    filtered = {"appendix": "1", "unit": str(units["QLCN"].pk), "kind": "ongoing", "q": "nhiem vu"}
    assert count_queries(staff_client, plan=seed_plan.pk, **filtered) == count_queries(
        staff_client, plan=small_plan.pk, **filtered
    )


def test_page_search_and_filters(staff_client: Client, small_plan: Plan, units: dict[str, Unit]) -> None:
    response = page(staff_client, q="ĐIỆN")
    assert page_keys(response) == ["1/I/-/2/1"]
    content = response.content.decode()
    assert "Tìm thấy <strong>1</strong> trên 3 nhiệm vụ." in content
    assert page_keys(page(staff_client, unit=units["KHTC"].pk)) == ["1/I/-/3/1"]
    assert page_keys(page(staff_client, kind="policy")) == ["1/I/-/3/1"]
    assert "Không có nhiệm vụ nào khớp bộ lọc." in page(staff_client, q="khong co gi").content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"appendix": "abc"}, "Phụ lục không hợp lệ."),
        ({"appendix": "9"}, "Phụ lục không hợp lệ."),
        ({"unit": "abc"}, "Đơn vị không tồn tại."),
        ({"unit": "99999"}, "Đơn vị không tồn tại."),
        ({"kind": "bogus"}, "Loại thời hạn không hợp lệ."),
        ({"q": "x" * 201}, "Từ khóa dài quá 200 ký tự."),
    ],
)
def test_bad_filter_values_are_ignored_with_a_message(
    staff_client: Client, small_plan: Plan, params: dict[str, str], message: str
) -> None:
    response = page(staff_client, **params)
    assert page_keys(response) == ["1/I/-/1/1", "1/I/-/2/1", "1/I/-/3/1"]
    assert f"Đã bỏ qua bộ lọc không hợp lệ: {message}" in response.content.decode()


def test_bad_values_are_dropped_but_good_ones_kept(staff_client: Client, small_plan: Plan) -> None:
    response = page(staff_client, appendix="x", kind="year", plan="abc")
    assert page_keys(response) == ["1/I/-/2/1"]


def test_the_plan_page_costs_the_same_queries_whatever_the_number_of_plans_and_periods(
    staff_client: Client, small_plan: Plan
) -> None:
    periods(small_plan)
    page(staff_client, plan=small_plan.pk)  # the first request of a session writes it
    with CaptureQueriesContext(connection) as few:
        page(staff_client, plan=small_plan.pk)
    for year in range(2010, 2016):  # more plans in the picker, each with its periods
        periods(PlanFactory(year=year))
    page(staff_client, plan=small_plan.pk)  # the working calendar, cleared by the new periods, is read again
    with CaptureQueriesContext(connection) as many:
        response = page(staff_client, plan=small_plan.pk)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert response.content.decode().count("<option value=") >= 7 + 4  # 7 plans, the plan's periods


def test_the_plan_picker_escapes_every_title_and_marks_only_the_chosen_plan() -> None:
    from plans.selectors import plan_options_html

    html = str(
        plan_options_html(
            [
                {"pk": "7", "label": '2025 – Kế hoạch <script>alert("x")</script> & co', "selected": False},
                {"pk": "3", "label": "2024 – Kế hoạch CCHC", "selected": True},
            ]
        )
    )
    assert "<script>" not in html
    assert (
        '<option value="7">2025 – Kế hoạch &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</option>'
        in html
    )
    assert '<option value="3" selected>2024 – Kế hoạch CCHC</option>' in html
    assert html.count("selected") == 1
