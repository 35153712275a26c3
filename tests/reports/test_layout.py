"""The three official documents measured on paper (Nghị định 30/2020/NĐ-CP layout).

The seed plan (77 tasks) is run through Quý I, the plan, the period report and a dossier are
rendered once for this module, and every character and ruled line of every page is located
with pdfplumber: inside the margins, at the sizes the decree asks for, every landscape table
page opening with its header row, and the signature block naming its signer on a page that
also carries the closing lines before it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pdfplumber
import pytest
from django.core.exceptions import ValidationError

from plans import organisation, roles
from plans.models import Plan
from tests.reports.conftest import (
    DONE_ON_TIME,
    REPORT_DAY,
    at,
    department,
    import_seed,
    module_db,
    run_quarter,
)
from workflow.reports import pdf, selectors, signature

pytestmark = pytest.mark.django_db  # the test database must exist for the module fixture

MM = 72 / 25.4
LEFT, RIGHT, TOP, BOTTOM = 30 * MM, 15 * MM, 20 * MM, 20 * MM
SLACK = 0.75  # points: rounding of glyph boxes and the half-width of a 0.5 pt rule


@dataclass
class Rendered:
    plan: bytes
    period: bytes
    dossier: bytes
    deputy_dossier: bytes
    director_name: str
    deputy_name: str


@pytest.fixture(scope="module")
def rendered(django_db_setup: Any, django_db_blocker: Any) -> Rendered:
    with module_db(django_db_blocker):
        people = department()
        director = people["director"]
        director.last_name, director.first_name = "Nguyễn Văn", "Giám"
        director.save()
        from django.contrib.auth import get_user_model

        deputy = get_user_model().objects.create_user(
            username="deputy", last_name="Trần Thị", first_name="Phó"
        )
        organisation.global_role_add(user=deputy, role=roles.DEPUTY_DIRECTOR)
        plan = import_seed()
        Plan.objects.filter(pk=plan.pk).update(number="123", symbol="KH-SCT")
        plan.refresh_from_db()
        scenario = run_quarter(plan, people)
        run = scenario.runs[DONE_ON_TIME]
        with at(REPORT_DAY):
            chosen = signature.signer_chosen(None)  # the period report: the director by default
            signed_off = signature.signer_chosen(None, default=director)  # the dossier: who signed off
            by_deputy = signature.signer_chosen(str(deputy.pk), default=director)
            return Rendered(
                plan=pdf.document_pdf(
                    "reports/plan.html", selectors.plan_document(plan, signer=chosen), kind="plan"
                ),
                period=pdf.document_pdf(
                    "reports/period.html",
                    selectors.period_report(scenario.period, signer=chosen),
                    kind="period",
                ),
                dossier=pdf.document_pdf(
                    "reports/dossier.html", selectors.dossier(run.pk, signer=signed_off), kind="dossier"
                ),
                deputy_dossier=pdf.document_pdf(
                    "reports/dossier.html", selectors.dossier(run.pk, signer=by_deputy), kind="dossier"
                ),
                director_name=roles.display_name(director),
                deputy_name=roles.display_name(deputy),
            )


@dataclass
class Page:
    number: int
    width: float
    height: float
    chars: list[dict[str, Any]]
    edges: list[dict[str, Any]]  # ruled lines and rectangles (the tables' borders)
    lines: list[str]  # text lines of the body (below the top margin), top to bottom
    line_tops: list[float]


def pages_of(data: bytes) -> list[Page]:
    out = []
    with pdfplumber.open(io.BytesIO(data)) as document:
        for index, page in enumerate(document.pages, start=1):
            body = page.crop((0, TOP - 1, page.width, page.height))
            text_lines = body.extract_text_lines(keep_blank_chars=False)
            out.append(
                Page(
                    number=index,
                    width=float(page.width),
                    height=float(page.height),
                    chars=list(page.chars),
                    edges=list(page.lines) + list(page.rects),
                    lines=[" ".join(line["text"].split()) for line in text_lines],
                    line_tops=[float(line["top"]) for line in text_lines],
                )
            )
    return out


@pytest.fixture(scope="module")
def pages(rendered: Rendered) -> dict[str, list[Page]]:
    return {
        name: pages_of(getattr(rendered, name)) for name in ("plan", "period", "dossier", "deputy_dossier")
    }


DOCUMENTS = ["plan", "period", "dossier"]


def is_page_number(char: dict[str, Any], page: Page) -> bool:
    """The page number is the one thing in the top margin: digits centred over the text column."""
    centre = LEFT + (page.width - LEFT - RIGHT) / 2
    return char["text"].isdigit() and char["bottom"] <= TOP and abs(char["x0"] - centre) < 20


# --- inside the margins ----------------------------------------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_character_lies_inside_the_margins(pages: dict[str, list[Page]], name: str) -> None:
    outside = []
    for page in pages[name]:
        for char in page.chars:
            if not char["text"].strip() or is_page_number(char, page):
                continue
            if (
                char["x0"] < LEFT - SLACK
                or char["x1"] > page.width - RIGHT + SLACK
                or char["top"] < TOP - SLACK
                or char["bottom"] > page.height - BOTTOM + SLACK
            ):
                outside.append((page.number, char["text"], round(char["x0"]), round(char["top"])))
    assert outside == []


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_table_border_lies_inside_the_margins(pages: dict[str, list[Page]], name: str) -> None:
    outside = []
    for page in pages[name]:
        assert page.edges or page.number > 1  # the first page has its tables (header rules at least)
        for edge in page.edges:
            if (
                edge["x0"] < LEFT - SLACK
                or edge["x1"] > page.width - RIGHT + SLACK
                or edge["top"] < TOP - SLACK
                or edge["bottom"] > page.height - BOTTOM + SLACK
            ):
                outside.append((page.number, round(edge["x0"]), round(edge["x1"]), round(edge["top"])))
    assert outside == []


def test_the_period_reports_twelve_column_count_tables_fit_the_portrait_text_column(
    pages: dict[str, list[Page]],
) -> None:
    portrait = [p for p in pages["period"] if p.width < p.height]
    (page,) = [p for p in portrait if any(line.startswith("Đơn vị (1) (2) (3) (4) (5)") for line in p.lines)]
    # each unit's twelve cells on one line: the columns are wide enough for their numbers
    assert "Văn phòng Sở 1 1 0 0 0 2 2 2 57 0 63" in page.lines
    assert "Phụ lục 1 1 1 0 0 0 2 3 0 16 0 21" in "\n".join(p for q in portrait for p in q.lines)
    assert max(e["x1"] for e in page.edges) <= page.width - RIGHT + SLACK
    # the line that introduces the table is on the table's page
    assert any(line.startswith("2. Theo đơn vị chủ trì") for line in page.lines)


# --- sizes -----------------------------------------------------------------------------------


def recipients_top(page: Page) -> float | None:
    for line, top in zip(page.lines, page.line_tops, strict=True):
        if line.startswith("Nơi nhận:"):
            return top
    return None


@pytest.mark.parametrize("name", DOCUMENTS)
def test_body_and_table_text_is_12_to_14_points(pages: dict[str, list[Page]], name: str) -> None:
    """Body 13–14 pt, tables 12–13 pt; only the recipients list is smaller (11 pt, as the decree
    sets it), below "Nơi nhận:" in the left half of the signature's page."""
    sizes: set[float] = set()
    small = []
    for page in pages[name]:
        below = recipients_top(page)
        for char in page.chars:
            if not char["text"].strip() or is_page_number(char, page):
                continue
            size = round(float(char["size"]), 1)
            in_recipients = below is not None and char["top"] >= below - 1 and char["x1"] < page.width / 2
            if size < 11.9 and not in_recipients:
                small.append((page.number, char["text"], size))
            sizes.add(size)
    assert small == []
    assert max(sizes) <= 14.1
    assert 12.0 in sizes  # the tables
    assert 13.0 in sizes  # the body


# --- tables over several pages ---------------------------------------------------------------


def is_upright(char: dict[str, Any]) -> bool:
    name = char["fontname"]
    return "Bold" not in name and "Italic" not in name


@pytest.mark.parametrize("name", ["plan", "period"])
def test_every_landscape_table_page_opens_with_the_header_row(
    pages: dict[str, list[Page]], name: str
) -> None:
    """On every landscape page with a table, the table's header row (bold, "TT" in its first
    cell) comes before any row of the table: the cell text (upright) all lies below it. Only
    headings (bold) and the "Kèm theo" line (italic) may stand above it."""
    landscape = [p for p in pages[name] if p.width > p.height]
    assert len(landscape) >= 10
    checked, wrong = 0, []
    for page in landscape:
        heads = [
            c
            for c, nxt in zip(page.chars, page.chars[1:], strict=False)
            if c["text"] == "T"
            and nxt["text"] == "T"
            and "Bold" in c["fontname"]
            and "Bold" in nxt["fontname"]
        ]
        if not heads or page.number == 1:
            continue  # no table (closing lines after the last one) or the document's own header block
        header_top = min(c["top"] for c in heads)
        above = [
            c["text"]
            for c in page.chars
            if c["text"].strip()
            and is_upright(c)
            and c["top"] < header_top - 1
            and not is_page_number(c, page)
        ]
        checked += 1
        if above:
            wrong.append((page.number, "".join(above)[:60]))
    assert wrong == []
    assert checked >= len(landscape) - 2  # every page of the tables but the first and the closing


def test_the_plans_appendices_flow_on_without_half_empty_pages(pages: dict[str, list[Page]]) -> None:
    """Each appendix follows the last on the same page; no page but the last is half empty (a row
    is never split over two pages, so a page ends where the next row does not fit)."""
    plan = pages["plan"]
    short = []
    for page in plan[1:-1]:  # the first page: the header block, then as much as fits of a criterion
        lowest = max(page.line_tops)
        if lowest < page.height * 0.6:
            short.append((page.number, round(lowest)))
    assert short == []
    # appendices 2, 3 and 4 start on a page the one before them already uses
    starts = [p for p in plan if any(line.startswith("Phụ lục ") for line in p.lines)]
    assert len(starts) == 4
    assert all(
        p.line_tops[0] < p.line_tops[[line.startswith("Phụ lục ") for line in p.lines].index(True)]
        for p in starts
    )


# --- the number line and the signature block --------------------------------------------------


def test_the_plans_number_line_carries_its_number_and_symbol(pages: dict[str, list[Page]]) -> None:
    assert any(line.startswith("Số: 123/KH-SCT") for line in pages["plan"][0].lines)


def test_a_plan_without_a_number_leaves_the_number_blank_before_its_symbol() -> None:
    plan = Plan(title="Kế hoạch CCHC năm 2025", year=2025, number="", symbol="KH-SCT")
    header = selectors.document_header(plan, day=None, number="", symbol=plan.symbol)
    assert header.number == "Số: …/KH-SCT"
    plan.number = "45/KH-UBND"
    assert selectors.document_header(plan, day=None, number="45/KH-UBND").number == "Số: 45/KH-UBND"


def signature_page(page_list: list[Page]) -> Page:
    (found,) = [p for p in page_list if any(line.startswith("Nơi nhận:") for line in p.lines)]
    return found


@pytest.mark.parametrize(
    ("name", "closing"),
    [
        ("plan", "Trên đây là"),
        ("period", "Kết quả thực hiện, đơn vị chủ trì và phối hợp"),
        ("dossier", "Hồ sơ gồm"),
    ],
)
def test_the_director_signs_in_his_own_right_with_his_name_under_the_closing_lines(
    rendered: Rendered, pages: dict[str, list[Page]], name: str, closing: str
) -> None:
    page = signature_page(pages[name])
    lines = page.lines
    at_recipients = next(i for i, line in enumerate(lines) if line.startswith("Nơi nhận:"))
    # the block's right-hand column: the authority form, then (after the space) the full name
    assert lines[at_recipients].endswith("GIÁM ĐỐC")
    assert "KT." not in "\n".join(lines) and "PHÓ GIÁM ĐỐC" not in "\n".join(lines)
    assert any(line.endswith(rendered.director_name) for line in lines[at_recipients + 1 :])
    # never alone: the closing paragraph stands on the same page, above the block
    assert any(closing in line for line in lines[:at_recipients])


def test_a_deputy_signs_on_the_directors_behalf_with_his_name(
    rendered: Rendered, pages: dict[str, list[Page]]
) -> None:
    page = signature_page(pages["deputy_dossier"])
    text = "\n".join(page.lines)
    at_recipients = next(i for i, line in enumerate(page.lines) if line.startswith("Nơi nhận:"))
    assert page.lines[at_recipients].endswith("KT. GIÁM ĐỐC")
    assert "PHÓ GIÁM ĐỐC" in text
    assert text.rstrip().endswith(rendered.deputy_name) or rendered.deputy_name in text
    assert "Hồ sơ gồm" in text


def test_only_an_active_leader_may_be_named_as_signer() -> None:
    for raw in ("abc", "-1", "999999", "1" * 20):
        with pytest.raises(ValidationError):
            signature.signer_chosen(raw)
