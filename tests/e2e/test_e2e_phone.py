"""Every page on a phone: at 390 px wide, no page of the app scrolls sideways, for any role.

Each demo account logs in at a 390 x 844 viewport (an ordinary phone) and opens every page its
menu offers plus the pages reached from them (a step page of each kind, the period task page, the
task history, the set-up pages); on each, the document is no wider than the screen. On the step page
of a step waiting to be taken, "Nhận việc" is on the first screen.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tests.e2e.browser import TIMEOUT_MS, orm_in_test_body

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
LEAD_DONE = {"result": "Đã ban hành kế hoạch", "self_assessment": "done", "explanation": "Không có tệp"}


@pytest.fixture
def runs(e2e_task: Any) -> dict[str, Any]:
    """Runs of Quý I/2024 at every stage: an open lead step (unclaimed), an open partner step, an open
    review and an open sign-off; the ids of the pages to visit. Asked for before ``story`` (so before
    Playwright starts: its queries use the fixtures' connection, see browser.orm_in_test_body)."""
    from django.contrib.auth import get_user_model

    from plans.models import PlanTask, ReportingPeriod, Unit
    from tests.factories import periods
    from workflow import services
    from workflow.models import Step

    users = {u.username: u for u in get_user_model().objects.all()}
    plan = e2e_task.plan
    if not ReportingPeriod.objects.filter(plan=plan).exists():
        periods(plan)
    q1 = ReportingPeriod.objects.get(plan=plan, code="Q1")
    qlcn = Unit.objects.get(short_name="QLCN")
    last = PlanTask.objects.filter(plan=plan).order_by("-position").first()
    solo = []
    for n in range(3):  # led by QLCN alone, no partner
        task = PlanTask.objects.create(
            plan=plan,
            criterion=e2e_task.criterion,
            key=f"{e2e_task.key.rsplit('/', 1)[0]}/{100 + n}",
            order=100 + n,
            position=last.position + 1 + n,
            task=f"Rà soát quy trình nội bộ số {n + 1} của Phòng Quản lý công nghiệp",
            lead_text=qlcn.name,
            timeline_text="Quý I/2024",
            timeline_kind=PlanTask.TimelineKind.OTHER,
        )
        task.lead_units.set([qlcn])
        solo.append(task)
    started = services.period_launch(period=q1, actor=users["vanphong"], plan_tasks=[e2e_task, *solo]).started
    by_task = {pt.plan_task_id: pt for pt in started}

    def open_step(period_task: Any, kind: str) -> Step:
        return period_task.steps.get(kind=kind, state=Step.State.OPEN)

    def lead_done(period_task: Any) -> None:
        lead = open_step(period_task, "lead")
        services.step_claim(step_id=lead.pk, user=users["qlcn.cv"])
        services.step_submit(step_id=lead.pk, user=users["qlcn.cv"], data=LEAD_DONE)

    partnered = by_task[e2e_task.pk]
    lead_done(partnered)  # -> the partner's step (QLTM)
    waiting, reviewed, signing = (by_task[t.pk] for t in solo)
    lead_done(reviewed)  # no partner -> the office's review
    lead_done(signing)
    review = open_step(signing, "review")
    services.step_claim(step_id=review.pk, user=users["vanphong"])
    services.step_submit(
        step_id=review.pk, user=users["vanphong"], data={"decision": "approve", "reason": ""}
    )
    return {
        "lead": open_step(waiting, "lead").pk,
        "partner": open_step(partnered, "partner").pk,
        "review": open_step(reviewed, "review").pk,
        "sign_off": open_step(signing, "sign_off").pk,
        "period_task": signing.pk,
        "partnered_task": partnered.pk,
        "unit": qlcn.pk,
        "person": users["qlcn.cv"].pk,
        "period": q1.pk,
    }


def _pages(ids: dict[str, Any]) -> dict[str, list[str]]:
    """Per account: the pages reached from the menu (visited from the menu itself) are added by the
    test; these are the ones reached through a list, a row or a button."""
    step = {
        kind: reverse("workflow:step", args=[ids[kind]]) for kind in ("lead", "partner", "review", "sign_off")
    }
    period_task = reverse("workflow:period_task", args=[ids["period_task"]])
    history = reverse("history:task", args=[ids["period_task"]])
    everyone = [period_task, history, reverse("workflow:notifications")]
    partner_pages = [
        reverse("workflow:period_task", args=[ids["partnered_task"]]),
        reverse("history:task", args=[ids["partnered_task"]]),
        reverse("workflow:notifications"),
    ]
    setup = [
        reverse("plans:setup"),
        reverse("plans:setup_units"),
        reverse("plans:setup_unit", args=[ids["unit"]]),
        reverse("plans:setup_unit_add"),
        reverse("plans:setup_people"),
        reverse("plans:setup_person", args=[ids["person"]]),
        reverse("plans:setup_person_add"),
        reverse("plans:setup_periods"),
        reverse("plans:setup_period", args=[ids["period"]]),
    ]
    lists_of_period = [
        f"{reverse('workflow:unit_queue')}?period={ids['period']}&q=ra+soat",
        f"{reverse('dashboard:tasks')}?period={ids['period']}",
    ]
    return {
        "qlcn.cv": [step["lead"], step["sign_off"], *everyone, lists_of_period[0]],
        "qlcn.tp": [step["lead"], *everyone, reverse("dashboard:index")],
        "qltm.cv": [step["partner"], *partner_pages],
        "vanphong": [step["review"], step["lead"], *everyone, *setup, lists_of_period[1]],
        "giamdoc": [step["sign_off"], *everyone, lists_of_period[1]],
        "phogiamdoc": [step["sign_off"], *everyone],
        "kiemtra": [step["lead"], step["partner"], step["review"], step["sign_off"], *everyone],
    }


WIDTH = """() => {
  const root = document.documentElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 1)
    .slice(0, 3)
    .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : ''));
  return [root.scrollWidth, wide];
}"""


def test_every_page_fits_a_390_px_phone_for_every_role(runs: dict[str, Any], story: Any) -> None:
    with orm_in_test_body():
        pages = _pages(runs)
    too_wide: list[str] = []
    seen = 0
    for username, extra in pages.items():
        with story.step(f"phone-{username}"):
            someone = story.person(username)
            someone.page.set_viewport_size(PHONE)
            someone.log_in()
            menu = someone.page.locator("nav.mainnav a")  # folded on a phone: read, not seen
            hrefs = [menu.nth(i).get_attribute("href") for i in range(menu.count())]
            assert len(hrefs) >= 4, (username, hrefs)
            for href in dict.fromkeys([*hrefs, *extra]):
                response = someone.page.goto(story.base_url + href)
                assert response is not None and response.status == 200, (username, href)
                width, wide = someone.page.evaluate(WIDTH)
                seen += 1
                if width > PHONE["width"]:
                    too_wide.append(f"{username} {href}: {width} px {wide}")
            assert not someone.problems, someone.problems
    assert seen >= 60
    assert not too_wide, "\n".join(too_wide)


def test_the_phone_menu_opens_and_the_take_button_is_on_the_first_screen(
    runs: dict[str, Any], story: Any
) -> None:
    staff = story.person("qlcn.cv")
    staff.page.set_viewport_size(PHONE)

    with story.step("the-header-is-compact-and-the-menu-opens"):
        staff.log_in()
        header = staff.page.locator("header.topbar").bounding_box()
        assert header is not None and header["height"] <= 120, header
        link = staff.nav_bar().get_by_role("link", name="Việc của đơn vị", exact=True)
        staff.expect(link).to_be_hidden()
        staff.page.get_by_role("button", name="Danh mục").click()
        staff.expect(link).to_be_visible()
        staff.follow(link)
        staff.sees_heading("Việc của đơn vị – Phòng Quản lý công nghiệp")

    with story.step("take-is-near-the-top-of-the-step-page"):
        staff.page.goto(story.base_url + reverse("workflow:step", args=[runs["lead"]]))
        take = staff.page.get_by_role("button", name="Nhận việc", exact=True)
        staff.expect(take).to_be_visible(timeout=TIMEOUT_MS)
        box = take.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
        take.click()
        staff.sees_message("Đã nhận việc.")
    assert not story.problems(), story.problems()
