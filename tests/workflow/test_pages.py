"""The workflow's pages: fixed query counts, filters, pagination, bulk claim, launch, notifications."""

from __future__ import annotations

import datetime
import re
import unicodedata
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from plans.models import Appendix, Criterion, PlanTask, ReportingPeriod, Section
from tests.factories import periods, plan_task
from tests.helpers import LEAD_DONE, launch
from workflow import services
from workflow.models import Notification, PeriodTask, Step

# The most queries a page may take, whatever the number of processes.
QUERY_BUDGET = 15
# The step page: 16 for its assignee, 17 for a unit head (the member list of the assign form);
# one of them marks the person's notifications about the step read.
STEP_PAGE_BUDGET = 17
LIST_PAGES = ("my_steps", "unit_queue", "awaiting", "done_by_me")
STEP_LINK = re.compile(r'href="/quy-trinh/buoc/(\d+)/"')
ROW = re.compile(r'<tr class="([^"]*)">(.*?)</tr>', re.S)


def lead_of(period_task: PeriodTask) -> Step:
    return period_task.steps.get(kind="lead")


def count_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


# --- a fixed number of queries whatever the number of processes ----------------------------


def add_processes(
    criterion: Criterion, period: Any, units: dict[str, Any], personas: dict[str, Any], n: int
) -> None:
    """n processes of each sort QLCN's lists show.

    claimed: lead step claimed by the staff member (my_steps, unit_queue);
    waiting: lead step nobody claimed (unit_queue);
    reviewed: lead step submitted by the staff member, now in the office's review (awaiting, done_by_me).
    """
    claimed = [plan_task(criterion, lead=[units["QLCN"]], partners=[units["QLTM"]]) for _ in range(n)]
    waiting = [plan_task(criterion, lead=[units["QLCN"]], partners=[units["ATNL"]]) for _ in range(n)]
    reviewed = [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(n)]
    launch(period, personas, claimed + waiting + reviewed)
    staff = personas["staff"]
    for task in claimed:
        services.step_claim(step_id=lead_of(task.period_tasks.get()).pk, user=staff)
    for task in reviewed:
        step = lead_of(task.period_tasks.get())
        services.step_claim(step_id=step.pk, user=staff)
        services.step_submit(step_id=step.pk, user=staff, data=LEAD_DONE)


def test_every_page_takes_the_same_number_of_queries_for_2_and_12_processes(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given 2 processes of each sort, and one step and one period task to open
    add_processes(criterion, q1, units, personas, 2)
    first = PeriodTask.objects.order_by("pk").first()
    step_url = reverse("workflow:step", args=[lead_of(first).pk])
    pages = [
        ("staff", reverse("workflow:my_steps"), 2),
        ("staff", reverse("workflow:unit_queue"), 4),
        ("office_reviewer", reverse("workflow:awaiting"), 2),
        ("staff", reverse("workflow:done_by_me"), 2),
        ("staff", step_url, None),  # the assignee: report form and evidence form
        ("unit_head", step_url, None),  # the unit head: assign form
        ("auditor", step_url, None),
        ("auditor", reverse("workflow:period_task", args=[first.pk]), None),
        ("staff", reverse("workflow:notifications"), None),
    ]

    def measure() -> list[int]:
        counts = []
        for persona, url, _rows in pages:
            client.force_login(personas[persona])
            client.get(url)  # warm-up: the content-type cache and the like
            counts.append(count_queries(client, url))
        return counts

    with_2 = measure()

    # When 10 more processes of each sort are added (12 of each)
    add_processes(criterion, q1, units, personas, 10)
    with_12 = measure()

    # Then every page took exactly as many queries as before, and few
    report = {
        url + f" ({persona})": (a, b) for (persona, url, _), a, b in zip(pages, with_2, with_12, strict=True)
    }
    print("queries per page (2 processes, 12 processes):", report)
    assert with_12 == with_2, report
    budgets = [STEP_PAGE_BUDGET if url == step_url else QUERY_BUDGET for _, url, _ in pages]
    assert all(n <= budget for n, budget in zip(with_12, budgets, strict=True)), report
    # and the lists really showed 12 rows of each
    client.force_login(personas["staff"])
    assert client.get(reverse("workflow:my_steps")).content.decode().count('href="/quy-trinh/buoc/') == 12


# --- filters, overdue, pagination ------------------------------------------------------------


def listed(html: str) -> list[int]:
    """The step ids a list page shows, in order."""
    return [int(pk) for _cls, row in ROW.findall(html) for pk in STEP_LINK.findall(row)[:1]]


@pytest.fixture
def queue(criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]) -> dict[str, Step]:
    """QLCN's queue: appendix 1 and 2, periods Q1 and H1, a lead and a partner step.

    t1 (appendix 1, QLCN leads) runs in Q1 and H1; t2 (appendix 2, QLCN leads) in Q1;
    t3 (appendix 1, QLTM leads, QLCN helps) in Q1, QLTM already reported.
    """
    plan = criterion.section.appendix.plan
    appendix2 = Appendix.objects.create(plan=plan, number=2, index=Appendix.Index.PAR, title="Phụ lục 2")
    section2 = Section.objects.create(appendix=appendix2, code="I", title="CẢI CÁCH THỂ CHẾ")
    criterion2 = Criterion.objects.create(
        section=section2, ordinal="1", code="TC 2.1", name="Rà soát văn bản"
    )
    t1 = plan_task(criterion, lead=[units["QLCN"]], task="Nhiệm vụ một")
    t2 = plan_task(criterion2, lead=[units["QLCN"]], task="Nhiệm vụ hai")
    t3 = plan_task(criterion, lead=[units["QLTM"]], partners=[units["QLCN"]], task="Nhiệm vụ ba")
    h1 = periods(plan)["H1"]
    launch(q1, personas, [t1, t2, t3])
    launch(h1, personas, [t1])
    t3_lead = lead_of(t3.period_tasks.get())
    services.step_claim(step_id=t3_lead.pk, user=personas["other_staff"])
    services.step_submit(step_id=t3_lead.pk, user=personas["other_staff"], data=LEAD_DONE)
    steps = {
        "t1_q1": lead_of(t1.period_tasks.get(period=q1)),
        "t1_h1": lead_of(t1.period_tasks.get(period=h1)),
        "t2_q1": lead_of(t2.period_tasks.get()),
        "t3_partner": t3.period_tasks.get().steps.get(kind="partner", unit=units["QLCN"]),
    }
    # All in time (the 2024 plan's own due dates are long past), then t2's lead one day late.
    today = timezone.localdate()
    for offset, step in enumerate(steps.values(), start=10):
        Step.objects.filter(pk=step.pk).update(due_date=today + datetime.timedelta(days=offset))
    Step.objects.filter(pk=steps["t2_q1"].pk).update(due_date=today - datetime.timedelta(days=1))
    return steps


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["t2_q1", "t1_q1", "t1_h1", "t3_partner"]),
        ("appendix=1", ["t1_q1", "t1_h1", "t3_partner"]),
        ("appendix=2", ["t2_q1"]),
        ("appendix=3", []),
        ("period=H1", ["t1_h1"]),
        ("period=Q1", ["t2_q1", "t1_q1", "t3_partner"]),
        ("kind=partner", ["t3_partner"]),
        ("kind=lead&appendix=1&period=Q1", ["t1_q1"]),
        ("overdue=1", ["t2_q1"]),
        ("overdue=1&appendix=1", []),
    ],
)
def test_unit_queue_filters_return_exactly_the_matching_steps(
    client: Any, q1: Any, personas: dict[str, Any], queue: dict[str, Step], query: str, expected: list[str]
) -> None:
    # Given QLCN's queue of four open steps; periods named by code in the parameters
    period_ids = {p.code: p.pk for p in q1.plan.periods.all()}
    query = re.sub(r"period=(\w+)", lambda m: f"period={period_ids[m.group(1)]}", query)
    client.force_login(personas["staff"])

    # When the staff member filters the unit's queue
    response = client.get(f"{reverse('workflow:unit_queue')}?{query}")

    # Then exactly the matching steps are listed, the most urgent first
    assert response.status_code == 200
    assert listed(response.content.decode()) == [queue[name].pk for name in expected]


PERIOD_SELECT = re.compile(r'<select name="period">(.*?)</select>', re.S)
PERIOD_OPTION = re.compile(r'<option value="(\d*)" ?(selected)?>')


def test_period_filter_marks_only_the_chosen_period_selected(
    client: Any, q1: Any, personas: dict[str, Any], queue: dict[str, Step]
) -> None:
    # Given the queue's plan (older than last year: its periods are listed only when chosen)
    h1 = q1.plan.periods.get(code="H1")
    client.force_login(personas["staff"])

    # When the staff member opens the queue unfiltered, then filtered by H1
    for query, selected in (("", []), (f"period={h1.pk}", [str(h1.pk)])):
        html = client.get(f"{reverse('workflow:unit_queue')}?{query}").content.decode()

        # Then the period select marks the chosen period selected, and no other
        options = PERIOD_OPTION.findall(PERIOD_SELECT.search(html).group(1))
        assert options[0] == ("", "")  # "Tất cả"
        assert [pk for pk, sel in options if sel] == selected
    assert f'<option value="{h1.pk}" selected>6 tháng/{q1.plan.year}</option>' in html


@pytest.mark.parametrize("page", ["my_steps", "unit_queue"])
def test_overdue_row_is_flagged_and_only_that_one(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], page: str
) -> None:
    # Given the staff member holds all of QLCN's steps, one of them a day past due
    for step in queue.values():
        services.step_claim(step_id=step.pk, user=personas["staff"])
    client.force_login(personas["staff"])

    # When they open the list
    html = client.get(reverse(f"workflow:{page}")).content.decode()

    # Then only the overdue row carries the class and the words "quá hạn"
    rows = {int(STEP_LINK.search(row).group(1)): (cls, row) for cls, row in ROW.findall(html)}
    assert set(rows) == {s.pk for s in queue.values()}
    flagged = {pk for pk, (cls, row) in rows.items() if cls == "row-overdue"}
    worded = {pk for pk, (cls, row) in rows.items() if "quá hạn" in row}
    assert flagged == worded == {queue["t2_q1"].pk}


def test_awaiting_filters_by_kind_and_flags_overdue_reviews(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given two tasks in review, one of them due yesterday
    tasks = [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(2)]
    launch(q1, personas, tasks)
    reviews = []
    for task in tasks:
        lead = lead_of(task.period_tasks.get())
        services.step_claim(step_id=lead.pk, user=personas["staff"])
        services.step_submit(step_id=lead.pk, user=personas["staff"], data=LEAD_DONE)
        reviews.append(task.period_tasks.get().steps.get(kind="review"))
    today = timezone.localdate()
    Step.objects.filter(pk=reviews[0].pk).update(due_date=today + datetime.timedelta(days=3))
    Step.objects.filter(pk=reviews[1].pk).update(due_date=today - datetime.timedelta(days=1))
    client.force_login(personas["office_reviewer"])

    # When the office lists what awaits it, all of it, the reviews, the sign-offs, the overdue
    url = reverse("workflow:awaiting")
    every = listed(client.get(url).content.decode())
    review_only = listed(client.get(f"{url}?kind=review").content.decode())
    sign_off_only = listed(client.get(f"{url}?kind=sign_off").content.decode())
    overdue = client.get(f"{url}?overdue=1").content.decode()

    # Then
    assert every == review_only == [reviews[1].pk, reviews[0].pk]
    assert sign_off_only == []
    assert listed(overdue) == [reviews[1].pk]
    assert [cls for cls, _ in ROW.findall(overdue)] == ["row-overdue"]


# --- what a row shows (values computed in workflow.views._rows, escaped by the template) --------

NFD_TASK = unicodedata.normalize(
    "NFD", "Rà soát, đánh giá thủ tục hành chính thuộc thẩm quyền giải quyết " * 3
)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a" * 140,
        "a" * 141,
        "ư" * 200,
        NFD_TASK,  # combining marks: the filter counts them as no length, and composes them
        "a" * 139 + "\u0301" * 5 + "b",  # marks right at the limit
        "x" * 141 + "\u0301",
        "<b>" + "đ" * 150,
    ],
)
@pytest.mark.parametrize("length", [140, 60, 1])
def test_row_text_is_truncated_exactly_as_truncatechars_does(text: str, length: int) -> None:
    from django.template.defaultfilters import truncatechars
    from django.utils.translation import override, pgettext

    from workflow.views import _truncate

    for language in ("vi", "en"):
        with override(language):
            suffix = pgettext("String to return when truncating text", "%(truncated_text)s…")
            assert _truncate(text, length, suffix) == truncatechars(text, length), (language, text, length)


def test_list_row_shows_each_value_escaped_and_truncated_as_the_template_filters_did(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    from django.template.defaultfilters import date, truncatechars
    from django.utils.html import escape

    # Given a step whose task, criterion (no code: its name is shown), unit and assignee hold markup
    Criterion.objects.filter(pk=criterion.pk).update(code="", name='Tiêu chí <b>"đậm"</b> & ' + "dài " * 20)
    criterion.refresh_from_db()
    task = "<script>alert(1)</script> " + NFD_TASK
    (period_task,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task=task)])
    step = lead_of(period_task)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    type(personas["staff"]).objects.filter(pk=personas["staff"].pk).update(last_name="<i>Trần</i> &")
    type(units["QLCN"]).objects.filter(pk=units["QLCN"].pk).update(short_name="Q<CN>")
    Step.objects.filter(pk=step.pk).update(due_date=timezone.localdate() + datetime.timedelta(days=3))
    step.refresh_from_db()
    client.force_login(personas["staff"])

    # When the staff member opens their list and the unit's queue
    for name in ("my_steps", "unit_queue"):
        html = client.get(reverse(f"workflow:{name}")).content.decode()

        # Then the row shows every value escaped, the long texts cut as truncatechars cuts them
        ((cls, row),) = ROW.findall(html)
        assert cls == ""
        assert f'<a href="/quy-trinh/buoc/{step.pk}/">{escape(truncatechars(task, 140))}</a>' in row
        assert f"Phụ lục 1 · {escape(truncatechars(criterion.name, 60))}</div>" in row
        assert '<td data-label="Bước">Chủ trì thực hiện</td>' in row
        assert '<td data-label="Đơn vị">Q&lt;CN&gt;</td>' in row
        assert f'<td data-label="Kỳ">Quý I/{q1.plan.year}</td>' in row
        assert '<td data-label="Người xử lý">&lt;i&gt;Trần&lt;/i&gt; &amp; qlcn_cv</td>' in row
        assert f'<td data-label="Hạn xử lý"><span class="">{date(step.due_date, "d/m/Y")}</span>' in row
        assert f"Hạn nộp của kỳ: {date(q1.deadline, 'd/m/Y')} (tính là 08/03/{q1.deadline.year})</div>" in row
        assert "<script>" not in row and "<b>" not in row and "<i>" not in row
        # (escaped once by the template's autoescape: not left raw, not escaped twice)
        assert "&lt;script&gt;alert(1)&lt;/script&gt; " in row
        assert "Tiêu chí &lt;b&gt;&quot;đậm&quot;&lt;/b&gt; &amp; dài" in row
        assert "&amp;lt;" not in row and "&amp;amp;" not in row
    # (a claimed step has no checkbox in the queue)
    assert 'name="steps"' not in html


def test_next_page_link_appears_only_beyond_50_rows(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given 50 open lead steps in QLCN's queue
    tasks = [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(51)]
    launch(q1, personas, tasks[:50])
    client.force_login(personas["staff"])
    url = reverse("workflow:unit_queue")

    # When the staff member opens the queue, then there is a single page of 50
    fifty = client.get(url).content.decode()
    assert len(listed(fifty)) == 50
    assert "Trang sau" not in fifty
    assert "Trang trước" not in fifty

    # Given one more (51)
    launch(q1, personas, tasks[50:])

    # Then page 1 shows 50 and links to page 2, keeping the filters
    first = client.get(f"{url}?kind=lead").content.decode()
    assert len(listed(first)) == 50
    assert "Trang sau" in first
    assert 'href="?kind=lead&amp;page=2"' in first
    # and page 2 shows the last one, with a link back and none forward
    second = client.get(f"{url}?kind=lead&page=2").content.decode()
    all_ids = sorted(Step.objects.filter(unit=units["QLCN"]).values_list("pk", flat=True))
    assert sorted(listed(first) + listed(second)) == all_ids
    assert len(listed(second)) == 1
    assert "Trang sau" not in second
    assert 'href="?kind=lead&amp;page=1"' in second


# --- bulk claim ---------------------------------------------------------------------------------


def test_bulk_claim_takes_the_unclaimed_selected_steps_and_reports_the_skipped(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given QLCN has four open lead steps, one already taken by the unit head; QLTM has one
    qlcn = [
        lead_of(pt)
        for pt in launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]]) for _ in range(4)])
    ]
    (qltm,) = [lead_of(pt) for pt in launch(q1, personas, [plan_task(criterion, lead=[units["QLTM"]])])]
    services.step_claim(step_id=qlcn[3].pk, user=personas["unit_head"])
    client.force_login(personas["staff"])
    url = reverse("workflow:unit_queue")
    page = client.get(url).content.decode()
    # (only unclaimed rows have a checkbox)
    assert re.findall(r'name="steps" value="(\d+)"', page) == [str(s.pk) for s in qlcn[:3]]

    # When the staff member selects two free ones, the taken one, QLTM's one and a bogus id
    response = client.post(
        url, {"steps": [qlcn[0].pk, qlcn[2].pk, qlcn[3].pk, qltm.pk, "999999", "x"]}, follow=True
    )

    # Then the two free ones are theirs, the others untouched, and the page says 2 taken, 3 skipped
    assert response.redirect_chain == [(url, 302)]
    assert "Đã nhận 2 việc. 3 việc không nhận được (đã có người nhận hoặc không thuộc đơn vị)." in (
        response.content.decode()
    )
    assignees = dict(Step.objects.filter(kind="lead").values_list("pk", "assignee_id"))
    assert assignees == {
        qlcn[0].pk: personas["staff"].pk,
        qlcn[1].pk: None,
        qlcn[2].pk: personas["staff"].pk,
        qlcn[3].pk: personas["unit_head"].pk,
        qltm.pk: None,
    }


def test_bulk_claim_with_nothing_selected_warns_and_claims_nothing(
    client: Any, q1: Any, criterion: Criterion, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    client.force_login(personas["staff"])

    response = client.post(reverse("workflow:unit_queue"), {}, follow=True)

    assert "Chưa chọn bước nào để nhận." in response.content.decode()
    assert not Step.objects.filter(assignee__isnull=False).exists()


# --- bad query values ---------------------------------------------------------------------------

JUNK = "appendix=abc&period=x&kind=zzz&overdue=yes&page=-1"


# Who opens each list in these tests, so that it has rows to show.
LIST_READER = {
    "my_steps": "staff",
    "unit_queue": "staff",
    "awaiting": "office_reviewer",
    "done_by_me": "other_staff",
}


@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize(
    ("query", "shows"),
    [
        (JUNK, "all"),
        ("page=0", "all"),
        ("page=abc", "all"),
        ("page=100000", "all"),
        ("page=1.5", "all"),
        ("appendix=-1&period=-2&kind=", "all"),
        ("appendix=99999999999999999999", "all"),  # not a usable id: ignored
        ("page=99999", "all"),  # past the last page: the last page (here the only one)
    ],
)
def test_list_pages_ignore_values_that_are_not_usable_numbers(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], page: str, query: str, shows: str
) -> None:
    # Given each list has rows for its reader: staff holds t1's Q1 step; the office has a review
    services.step_claim(step_id=queue["t1_q1"].pk, user=personas["staff"])
    t3_lead = queue["t3_partner"].period_task.steps.get(kind="lead")
    assert t3_lead.submitted_by == personas["other_staff"]
    services.step_claim(step_id=queue["t3_partner"].pk, user=personas["staff"])
    services.step_submit(step_id=queue["t3_partner"].pk, user=personas["staff"], data={"no_opinion": True})
    client.force_login(personas[LIST_READER[page]])
    url = reverse(f"workflow:{page}")
    unfiltered = listed(client.get(url).content.decode())
    assert unfiltered

    # When the list is asked for with values that are not usable numbers
    response = client.get(f"{url}?{query}")

    # Then the page is shown, never a server error: unusable values ignored (page 1), or no rows
    assert response.status_code == 200
    assert listed(response.content.decode()) == (unfiltered if shows == "all" else [])


@pytest.mark.parametrize("page", LIST_PAGES)
def test_list_page_asked_for_an_unknown_period_says_so_with_404(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], page: str
) -> None:
    # Given a list with rows, and a period id that names no period
    client.force_login(personas[LIST_READER[page]])
    missing = ReportingPeriod.objects.order_by("-pk").values_list("pk", flat=True).first() + 1

    # When the list is asked for that period
    response = client.get(reverse(f"workflow:{page}"), {"period": missing})

    # Then the page says so in Vietnamese, with a 404, lists nothing, and offers the picker
    html = response.content.decode()
    assert response.status_code == 404
    assert "Không tìm thấy kỳ báo cáo đã chọn. Hãy chọn một kỳ trong danh sách." in html
    assert listed(html) == []
    assert '<optgroup label="Năm ' in PERIOD_SELECT.search(html).group(1)


SQLITE = connection.vendor == "sqlite"


@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("appendix=²", id="superscript-appendix"),
        pytest.param("period=²", id="superscript-period"),
        pytest.param("page=²", id="superscript-page"),
        pytest.param("appendix=" + "9" * 5000, id="5000-digit-appendix"),
        pytest.param(
            "period=9999999999999999999",
            id="period-beyond-int64",
            marks=pytest.mark.skipif(not SQLITE, reason="PostgreSQL answers an out-of-range id with no rows"),
        ),
    ],
)
def test_list_pages_survive_digit_like_values(
    client: Any, personas: dict[str, Any], page: str, query: str
) -> None:
    client.raise_request_exception = False
    client.force_login(personas["office_reviewer"])

    response = client.get(f"{reverse(f'workflow:{page}')}?{query}")

    assert response.status_code == 200


@pytest.mark.parametrize("where", ["bulk_claim", "launch", "remove_evidence"])
def test_posted_digit_like_values_never_give_a_server_error(
    client: Any, q1: Any, criterion: Criterion, units: dict[str, Any], personas: dict[str, Any], where: str
) -> None:
    client.raise_request_exception = False
    if where == "bulk_claim":
        client.force_login(personas["staff"])
        response = client.post(reverse("workflow:unit_queue"), {"steps": ["²"]})
        assert response.status_code == 302
    elif where == "launch":
        client.force_login(personas["office_reviewer"])
        response = client.post(reverse("workflow:launch"), {"plan": "²", "period": "Q1"})
        assert response.status_code == 400
    else:
        (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
        services.step_claim(step_id=lead_of(pt).pk, user=personas["staff"])
        client.force_login(personas["staff"])
        response = client.post(
            reverse("workflow:step", args=[lead_of(pt).pk]), {"action": "remove_evidence", "evidence": "²"}
        )
        assert response.status_code == 404


# --- launching ---------------------------------------------------------------------------------


def test_launch_previews_confirms_and_is_idempotent(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given a plan with three ongoing tasks and one "year" task (not reported in Q1)
    for n in range(3):
        plan_task(criterion, lead=[units["QLCN"]], task=f"Nhiệm vụ thường xuyên {n}")
    plan_task(criterion, lead=[units["QLCN"]], timeline_kind=PlanTask.TimelineKind.YEAR)
    plan = criterion.section.appendix.plan
    client.force_login(personas["office_reviewer"])
    url = reverse("workflow:launch")

    # When the office opens the page, then it shows the form
    form = client.get(url).content.decode()
    assert 'name="plan"' in form and 'name="period"' in form
    assert "Xem trước" in form

    # When it previews Q1, then it is told how many processes would start, and none started yet
    preview = client.post(url, {"plan": plan.pk, "period": "Q1"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Sẽ khởi tạo <strong>3</strong> quy trình cho kỳ Quý I/2024" in html
    assert "Xác nhận khởi tạo 3 quy trình" in html
    assert 'name="confirm" value="1"' in html
    assert PeriodTask.objects.count() == 0

    # When it confirms, then three processes start and the page says so
    done = client.post(url, {"plan": plan.pk, "period": "Q1", "confirm": "1"}, follow=True)
    assert done.redirect_chain == [(reverse("workflow:awaiting"), 302)]
    assert "Đã khởi tạo 3 quy trình cho kỳ Quý I/2024." in done.content.decode()
    assert PeriodTask.objects.filter(period__code="Q1").count() == 3

    # When it previews and confirms again, then nothing more starts, and it is told why
    again_preview = client.post(url, {"plan": plan.pk, "period": "Q1"}).content.decode()
    assert "Sẽ khởi tạo <strong>0</strong> quy trình" in again_preview
    assert "3 nhiệm vụ đã có quy trình trong kỳ này sẽ được bỏ qua." in again_preview
    again = client.post(url, {"plan": plan.pk, "period": "Q1", "confirm": "1"}, follow=True)
    assert (
        "Đã khởi tạo 0 quy trình cho kỳ Quý I/2024; 3 nhiệm vụ đã có quy trình trong kỳ nên được bỏ qua."
        in again.content.decode()
    )
    assert PeriodTask.objects.count() == 3


def test_launch_with_an_unknown_period_is_400_and_starts_nothing(
    client: Any, criterion: Criterion, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    plan_task(criterion, lead=[units["QLCN"]])
    client.force_login(personas["office_reviewer"])

    response = client.post(
        reverse("workflow:launch"),
        {"plan": criterion.section.appendix.plan.pk, "period": "Q9", "confirm": "1"},
    )

    assert response.status_code == 400
    assert "Hãy chọn một lựa chọn hợp lệ" in response.content.decode()
    assert PeriodTask.objects.count() == 0


# --- notifications -----------------------------------------------------------------------------


def test_notifications_page_lists_the_step_that_arrived_in_the_unit(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given a task led by QLCN was launched
    task = plan_task(criterion, lead=[units["QLCN"]], task="Rà soát thủ tục hành chính")
    (pt,) = launch(q1, personas, [task])
    step = lead_of(pt)
    message = (
        "Việc mới – Chủ trì thực hiện (Phòng Quản lý công nghiệp): Rà soát thủ tục hành chính – kỳ Quý I/2024"
    )
    notes = Notification.objects.filter(step=step).order_by("user__username")
    assert list(notes.values_list("user__username", "message", "url")) == [
        ("qlcn_cv", message, reverse("workflow:step", args=[step.pk])),
        ("qlcn_tp", message, reverse("workflow:step", args=[step.pk])),
    ]

    # When the staff member opens their notifications
    client.force_login(personas["staff"])
    html = client.get(reverse("workflow:notifications")).content.decode()

    # Then the message is listed, unread, with the count in the bar
    assert f"<strong>{message}</strong>" in html
    assert '<span class="badge">1</span>' in html
    # and ATNL's staff member has none
    client.force_login(personas["atnl_staff"])
    assert "Chưa có thông báo." in client.get(reverse("workflow:notifications")).content.decode()


def test_opening_a_notification_marks_it_read_and_goes_to_the_step(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    note = Notification.objects.get(user=personas["staff"])
    client.force_login(personas["staff"])

    response = client.post(reverse("workflow:notification_open", args=[note.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:step", args=[lead_of(pt).pk])
    note.refresh_from_db()
    assert note.read_at is not None
    # and someone else cannot open it
    client.force_login(personas["unit_head"])
    assert client.post(reverse("workflow:notification_open", args=[note.pk])).status_code == 404


# --- returned work, typed text, deciders' page ---------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def claim_submit(step: Step, user: Any, **data: Any) -> None:
    services.step_claim(step_id=step.pk, user=user)
    services.step_submit(step_id=step.pk, user=user, data=data)


def returned_lead(criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]) -> Step:
    """A task QLCN's staff member reported on, returned by the office: the round-2 lead step."""
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task="Nhiệm vụ bị trả lại")])
    claim_submit(lead_of(pt), personas["staff"], **LEAD_DONE)
    claim_submit(
        pt.steps.get(kind="review"), personas["office_reviewer"], decision="lead", reason="Thiếu số liệu"
    )
    return pt.steps.get(kind="lead", round=2)


def test_my_steps_lists_returned_work_first_with_the_reason(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given the staff member holds a step due soon, and a returned one due later
    (other,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task="Nhiệm vụ khác")])
    services.step_claim(step_id=lead_of(other).pk, user=personas["staff"])
    returned = returned_lead(criterion, q1, units, personas)
    today = timezone.localdate()
    Step.objects.filter(pk=lead_of(other).pk).update(due_date=today + datetime.timedelta(days=1))
    Step.objects.filter(pk=returned.pk).update(due_date=today + datetime.timedelta(days=9))
    client.force_login(personas["staff"])

    # When they open "Việc của tôi"
    html = client.get(reverse("workflow:my_steps")).content.decode()

    # Then the returned step comes first, saying so, with the reason; the other one says nothing of it
    assert listed(html) == [returned.pk, lead_of(other).pk]
    first, second = (row for _cls, row in ROW.findall(html))
    assert "<strong>Bị trả lại</strong> – lý do: Thiếu số liệu" in first
    assert "(vòng 2, bị trả lại)" in first
    assert "Bị trả lại" not in second


def test_returned_step_page_shows_the_return_banner_and_the_previous_text(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    step = returned_lead(criterion, q1, units, personas)
    client.force_login(personas["staff"])

    html = client.get(reverse("workflow:step", args=[step.pk])).content.decode()

    assert "<strong>Đã bị trả lại</strong> (vòng 1, Văn phòng Sở thẩm định" in html
    assert "Lý do: Thiếu số liệu" in html
    assert f">\n{LEAD_DONE['result']}</textarea>" in html


def test_sign_off_after_a_return_has_no_return_banner_and_shows_the_report_above_the_form(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    # Given a returned task reported again, approved by the office, claimed by the director
    step = returned_lead(criterion, q1, units, personas)
    services.step_submit(step_id=step.pk, user=personas["staff"], data={**LEAD_DONE, "result": "Đã bổ sung"})
    claim_submit(
        step.period_task.steps.get(kind="review", round=2), personas["office_reviewer"], decision="approve"
    )
    sign_off = step.period_task.steps.get(kind="sign_off")
    services.step_claim(step_id=sign_off.pk, user=personas["director"])
    client.force_login(personas["director"])

    # When the director opens the sign-off step
    html = client.get(reverse("workflow:step", args=[sign_off.pk])).content.decode()

    # Then no "returned" banner (this step never was), and the latest report comes before the form
    assert "Đã bị trả lại" not in html
    summary = html.index("Báo cáo của đơn vị chủ trì")
    assert summary < html.index("Đã bổ sung") < html.index("<h2>Phê duyệt</h2>") < html.index("Lịch sử xử lý")
    assert html.index("Gửi quyết định") > summary


def test_attaching_a_file_keeps_the_text_typed_in_the_same_form(
    client: Any,
    criterion: Criterion,
    q1: Any,
    units: dict[str, Any],
    personas: dict[str, Any],
    evidence_root: Any,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from audit.models import AuditEvent
    from workflow.models import Evidence

    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    client.force_login(personas["staff"])
    url = reverse("workflow:step", args=[step.pk])

    # When the staff member, having typed the report, presses "Đính kèm"
    response = client.post(
        url,
        {
            "action": "upload",
            "report-result": "Đã rà soát 12 thủ tục",
            "report-self_assessment": "in_progress",
            "report-explanation": "",
            "file": SimpleUploadedFile("Tờ trình.pdf", PDF, "application/pdf"),
        },
        follow=True,
    )

    # Then the file is attached and the text kept (saved as a draft, in the same transaction)
    html = response.content.decode()
    assert response.redirect_chain == [(url, 302)]
    assert "Đã đính kèm “Tờ trình.pdf”." in html
    assert ">\nĐã rà soát 12 thủ tục</textarea>" in html
    step.refresh_from_db()
    assert (step.result, step.self_assessment) == ("Đã rà soát 12 thủ tục", "in_progress")
    assert Evidence.objects.get(step=step).original_name == "Tờ trình.pdf"
    assert list(AuditEvent.objects.filter(step=step).values_list("action", flat=True)) == [
        "claim",
        "save_draft",
        "evidence_added",
    ]

    # and pressing it with no file chosen keeps the text on the page, saving nothing
    again = client.post(url, {"action": "upload", "report-result": "Sửa tiếp", "report-self_assessment": ""})
    assert again.status_code == 400
    assert "Hãy chọn tệp." in again.content.decode()
    assert ">\nSửa tiếp</textarea>" in again.content.decode()


def test_over_long_text_shows_no_maxlength_a_counter_limit_and_is_refused(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    client.force_login(personas["staff"])
    url = reverse("workflow:step", args=[step.pk])

    page = client.get(url).content.decode()
    assert "maxlength" not in page
    assert 'data-limit="20000"' in page
    assert "js/report.js" in page

    text = "đ" * 50_000
    response = client.post(url, {"action": "submit", "report-result": text, "report-self_assessment": "done"})
    assert response.status_code == 400
    assert "Nội dung dài 50.000 ký tự, vượt giới hạn 20.000 ký tự" in response.content.decode()
    assert text in response.content.decode()  # given back whole, never cut
    step.refresh_from_db()
    assert (step.state, step.result) == ("open", "")
    # a text of exactly the limit, with Windows newlines counted as one, is accepted
    exact = "a\r\n" * 9_999 + "aa"
    assert client.post(url, {"action": "save", "report-result": exact}).status_code == 302
    step.refresh_from_db()
    assert len(step.result) == 20_000


def test_autosave_saves_the_draft_as_json_once_per_change(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    from audit.models import AuditEvent

    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    url = reverse("workflow:step", args=[step.pk])
    draft = {"action": "autosave", "report-result": "Đang viết", "report-self_assessment": ""}
    client.force_login(personas["staff"])

    # Not claimed yet: refused, nothing saved
    assert client.post(url, draft).status_code == 403
    services.step_claim(step_id=step.pk, user=personas["staff"])

    # Saved, with the time; the same text again writes nothing more
    first = client.post(url, draft)
    assert first.status_code == 200
    assert first.json()["message"].startswith("Đã tự động lưu nháp lúc ")
    assert client.post(url, draft).status_code == 200
    step.refresh_from_db()
    assert step.result == "Đang viết"
    assert AuditEvent.objects.filter(step=step, action="save_draft").count() == 1

    # Too long: 400 with the reason, nothing saved
    too_long = client.post(url, {**draft, "report-result": "x" * 20_001})
    assert too_long.status_code == 400
    assert "vượt giới hạn" in too_long.json()["error"]
    step.refresh_from_db()
    assert step.result == "Đang viết"

    # After the report was sent from another tab: 409 saying so
    services.step_submit(step_id=step.pk, user=personas["staff"], data=LEAD_DONE)
    late = client.post(url, draft)
    assert (late.status_code, late.json()) == (409, {"error": "Bạn đã gửi bước này ở một tab khác."})


def test_autosave_needs_the_csrf_token(
    criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    from django.test import Client

    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(personas["staff"])

    response = strict.post(
        reverse("workflow:step", args=[step.pk]), {"action": "autosave", "report-result": "x"}
    )

    assert response.status_code == 403
    step.refresh_from_db()
    assert step.result == ""


def test_a_second_tab_keeps_the_typed_text_and_says_what_happened(
    client: Any,
    criterion: Criterion,
    q1: Any,
    units: dict[str, Any],
    personas: dict[str, Any],
    make_user: Any,
) -> None:
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    url = reverse("workflow:step", args=[step.pk])
    client.force_login(personas["staff"])

    # Given the report was sent from one tab
    assert (
        client.post(url, {"action": "submit", **{f"report-{k}": v for k, v in LEAD_DONE.items()}}).status_code
        == 302
    )

    # When the second tab sends its own text
    response = client.post(
        url, {"action": "submit", "report-result": "Bản ở tab thứ hai", "report-self_assessment": "done"}
    )

    # Then 409 saying it was them, in another tab, and the text they typed is still on the page
    html = response.content.decode()
    assert response.status_code == 409
    assert "Bạn đã gửi bước này ở một tab khác." in html
    assert "Nội dung bạn vừa nhập (chưa được lưu)" in html
    assert ">\nBản ở tab thứ hai</textarea>" in html
    step.refresh_from_db()
    assert step.result == LEAD_DONE["result"]

    # and for a colleague of the unit the message names who sent it
    colleague = make_user("qlcn_cv3", unit="QLCN")
    client.force_login(colleague)
    other = client.post(url, {"action": "save", "report-result": "Của đồng nghiệp"})
    assert other.status_code == 409
    assert "Bước này vừa được người khác xử lý: qlcn_cv đã gửi lúc" in other.content.decode()


def test_removing_a_file_from_the_report_form_keeps_the_text(
    client: Any,
    criterion: Criterion,
    q1: Any,
    units: dict[str, Any],
    personas: dict[str, Any],
    evidence_root: Any,
) -> None:
    import io

    from workflow.evidence import store
    from workflow.models import Evidence

    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]])])
    step = lead_of(pt)
    services.step_claim(step_id=step.pk, user=personas["staff"])
    stored = store(io.BytesIO(PDF), name="Nhầm.pdf", size=len(PDF))
    evidence = services.evidence_attach(step_id=step.pk, user=personas["staff"], stored=stored)
    client.force_login(personas["staff"])
    url = reverse("workflow:step", args=[step.pk])
    assert f'name="remove" value="{evidence.pk}"' in client.get(url).content.decode()

    # When the staff member presses the file's "Gỡ" button, the report typed above it
    response = client.post(
        url, {"remove": evidence.pk, "report-result": "Viết dở", "report-self_assessment": ""}
    )

    # Then the file is removed and the text saved
    assert response.status_code == 302
    evidence.refresh_from_db()
    step.refresh_from_db()
    assert (evidence.removed_by, step.result) == (personas["staff"], "Viết dở")
    assert Evidence.objects.filter(step=step, removed_at__isnull=True).count() == 0


def test_unit_queue_says_why_a_returned_step_waits_there(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    from plans import organisation

    # Given the author left QLCN before the office returned the step: it waits in QLCN's queue
    (pt,) = launch(q1, personas, [plan_task(criterion, lead=[units["QLCN"]], task="Nhiệm vụ bị trả lại")])
    claim_submit(lead_of(pt), personas["staff"], **LEAD_DONE)
    organisation.membership_set(user=personas["staff"], unit=units["ATNL"], role="staff")
    claim_submit(
        pt.steps.get(kind="review"), personas["office_reviewer"], decision="lead", reason="Thiếu số liệu"
    )
    client.force_login(personas["unit_head"])

    html = client.get(reverse("workflow:unit_queue")).content.decode()

    ((_cls, row),) = ROW.findall(html)
    assert "Chưa nhận" in row
    assert "<strong>Bị trả lại</strong> – lý do: Thiếu số liệu" in row


# --- lists that find things: search, order, totals -------------------------------------------------


def _index_task_texts(queue: dict[str, Step]) -> None:
    """search_text as the importer stores it for these tasks (folded task text); the step's unit is
    left out on purpose, so that a match on the unit comes from the unit itself."""
    from plans.text import fold

    for step in queue.values():
        plan_task = step.period_task.plan_task
        PlanTask.objects.filter(pk=plan_task.pk).update(search_text=fold(plan_task.task))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nhiem vu hai", ["t2_q1"]),  # typed without diacritics
        ("NHIỆM VỤ MỘT", ["t1_q1", "t1_h1"]),  # with them, in capitals
        ("Nhiệm vụ ba", ["t3_partner"]),  # NFD would be the same letters: fold decomposes
        ("quan ly cong nghiep", ["t2_q1", "t1_q1", "t1_h1", "t3_partner"]),  # the step's unit, by name
        ("qlcn", ["t2_q1", "t1_q1", "t1_h1", "t3_partner"]),  # and by short name
        ("thuong mai", []),  # another unit: none of this queue's steps
        ("nhiệm vụ hai   ", ["t2_q1"]),
        ("", ["t2_q1", "t1_q1", "t1_h1", "t3_partner"]),
    ],
)
def test_unit_queue_search_ignores_diacritics_and_matches_task_text_or_unit(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], q: str, expected: list[str]
) -> None:
    # Given QLCN's queue of four steps whose tasks are indexed as the importer indexes them
    _index_task_texts(queue)
    client.force_login(personas["staff"])

    # When the staff member searches the queue
    response = client.get(reverse("workflow:unit_queue"), {"q": q})

    # Then exactly the matching steps are listed, the most urgent first, with their total
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(html) == [queue[name].pk for name in expected]
    if expected:
        assert f"Trang 1/1 – {len(expected)} việc" in html
    else:
        assert "Không có việc nào khớp “thuong mai”." in html


def test_search_combines_with_the_other_filters_and_is_kept_in_the_page_links(
    client: Any, q1: Any, personas: dict[str, Any], queue: dict[str, Step], monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflow import views

    # Given the queue indexed, and pages of one row
    _index_task_texts(queue)
    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    client.force_login(personas["staff"])
    url = reverse("workflow:unit_queue")

    # When the staff member searches "nhiem vu mot" in Q1 only, then in every period
    only_q1 = client.get(url, {"q": "nhiem vu mot", "period": q1.pk}).content.decode()
    both = client.get(url, {"q": "nhiem vu mot"}).content.decode()

    # Then Q1 holds one of t1's steps; every period holds two, on two pages linked with the search
    assert listed(only_q1) == [queue["t1_q1"].pk]
    assert "Trang 1/1 – 1 việc" in only_q1
    assert listed(both) == [queue["t1_q1"].pk]
    assert "Trang 1/2 – 2 việc" in both
    assert 'href="?q=nhiem+vu+mot&amp;page=2"' in both
    assert 'value="nhiem vu mot"' in both
    second = client.get(url, {"q": "nhiem vu mot", "page": 2}).content.decode()
    assert listed(second) == [queue["t1_h1"].pk]
    assert "Trang 2/2 – 2 việc" in second


@pytest.mark.parametrize("page", ["my_steps", "unit_queue"])
def test_lists_show_the_total_and_the_page_count(
    client: Any,
    personas: dict[str, Any],
    queue: dict[str, Step],
    monkeypatch: pytest.MonkeyPatch,
    page: str,
) -> None:
    from workflow import views

    # Given the staff member holds all four of QLCN's steps, and pages of three rows
    for step in queue.values():
        services.step_claim(step_id=step.pk, user=personas["staff"])
    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    client.force_login(personas["staff"])
    url = reverse(f"workflow:{page}")

    # When they open page 1, page 2, and a page past the last
    first, second, past = (client.get(url, {"page": n}).content.decode() for n in (1, 2, 9))

    # Then each says where it stands among the four
    assert len(listed(first)) == 3 and "Trang 1/2 – 4 việc" in first
    assert len(listed(second)) == 1 and "Trang 2/2 – 4 việc" in second
    assert listed(past) == listed(second) and "Trang 2/2 – 4 việc" in past
    assert sorted(listed(first) + listed(second)) == sorted(s.pk for s in queue.values())


@pytest.mark.parametrize("page", ["my_steps", "unit_queue"])
def test_lists_order_by_due_date_then_arrival_not_plan_order(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], page: str
) -> None:
    # Given four steps due the same day that arrived in the reverse of their plan (id) order,
    # and t2's step due a day earlier than the others
    for step in queue.values():
        services.step_claim(step_id=step.pk, user=personas["staff"])
    due = timezone.localdate() + datetime.timedelta(days=5)
    arrived = timezone.now()
    ordered = sorted(queue.values(), key=lambda s: s.pk)
    for n, step in enumerate(ordered):
        Step.objects.filter(pk=step.pk).update(due_date=due, created_at=arrived - datetime.timedelta(hours=n))
    Step.objects.filter(pk=queue["t2_q1"].pk).update(due_date=due - datetime.timedelta(days=1))
    client.force_login(personas["staff"])

    # When they open the list
    html = client.get(reverse(f"workflow:{page}")).content.decode()

    # Then the earliest due comes first, then the steps by arrival (earliest first)
    rest = [s.pk for s in reversed(ordered) if s.pk != queue["t2_q1"].pk]
    assert listed(html) == [queue["t2_q1"].pk, *rest]


@pytest.mark.parametrize("page", LIST_PAGES)
@pytest.mark.parametrize(
    ("q", "matches"),
    [
        ("\x00", "all"),  # nothing printable: no search
        ("\x00\x1f ", "all"),
        ("nhiem\x00vu", "none"),
        ("a" * 20_000, "none"),
        ("%", "none"),
        ("_", "none"),
        ("' OR 1=1 --", "none"),
        ("<script>alert(1)</script>", "none"),
    ],
)
def test_list_search_takes_hostile_text_without_error(
    client: Any, personas: dict[str, Any], queue: dict[str, Step], page: str, q: str, matches: str
) -> None:
    # Given each list has rows for its reader (as in the test of unusable numbers)
    services.step_claim(step_id=queue["t1_q1"].pk, user=personas["staff"])
    services.step_claim(step_id=queue["t3_partner"].pk, user=personas["staff"])
    services.step_submit(step_id=queue["t3_partner"].pk, user=personas["staff"], data={"no_opinion": True})
    client.force_login(personas[LIST_READER[page]])
    url = reverse(f"workflow:{page}")
    unfiltered = listed(client.get(url).content.decode())
    assert unfiltered

    # When a list is searched with text made to break it
    response = client.get(url, {"q": q})

    # Then the page answers (no search left, or no row matches), the text cut and escaped, never raw
    assert response.status_code == 200
    html = response.content.decode()
    assert listed(html) == (unfiltered if matches == "all" else [])
    assert "<script>alert(1)</script>" not in html
    assert "a" * 201 not in html


def test_search_costs_the_same_queries_whatever_the_number_of_units_and_rows(
    client: Any, criterion: Criterion, q1: Any, units: dict[str, Any], personas: dict[str, Any]
) -> None:
    from plans.models import Unit

    # Given 2 processes of each sort
    add_processes(criterion, q1, units, personas, 2)
    client.force_login(personas["staff"])
    url = f"{reverse('workflow:unit_queue')}?q=cong+nghiep"
    client.get(url)
    before = count_queries(client, url)

    # When 10 more processes and 20 more units are added
    add_processes(criterion, q1, units, personas, 10)
    for n in range(20):
        Unit.objects.create(name=f"Phòng số {n}", short_name=f"P{n}")

    # Then the searched queue costs the same
    assert count_queries(client, url) == before
    assert listed(client.get(url).content.decode())
