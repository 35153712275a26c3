"""The Nghị định 30 date line, numbers and the download file names (no database)."""

from __future__ import annotations

import datetime

import pytest

from workflow.reports.formatting import attachment_header, date_line, number_line, percent


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2024, 3, 5), "Bắc Kạn, ngày 05 tháng 3 năm 2024"),
        (datetime.date(2024, 1, 9), "Bắc Kạn, ngày 09 tháng 01 năm 2024"),
        (datetime.date(2024, 2, 28), "Bắc Kạn, ngày 28 tháng 02 năm 2024"),
        (datetime.date(2024, 9, 10), "Bắc Kạn, ngày 10 tháng 9 năm 2024"),
        (datetime.date(2024, 11, 1), "Bắc Kạn, ngày 01 tháng 11 năm 2024"),
        (datetime.date(2024, 12, 31), "Bắc Kạn, ngày 31 tháng 12 năm 2024"),
    ],
)
def test_date_line_pads_days_below_10_and_months_1_and_2(day: datetime.date, expected: str) -> None:
    assert date_line("Bắc Kạn", day) == expected


def test_date_line_without_a_day_leaves_dots_to_fill_in_by_hand() -> None:
    assert date_line("Thái Nguyên", None, year=2025) == "Thái Nguyên, ngày … tháng … năm 2025"


def test_number_line_is_the_symbol_with_dots_until_numbered() -> None:
    assert number_line("BC-SCT") == "Số: …/BC-SCT"
    assert number_line("BC-SCT", "45/KH-SCT") == "Số: 45/KH-SCT"


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 77, "1,3%"), (73, 77, "94,8%"), (77, 77, "100%"), (0, 77, "0%"), (0, 0, "0%"), (1, 2, "50%")],
)
def test_percent_uses_a_decimal_comma(part: int, whole: int, expected: str) -> None:
    assert percent(part, whole) == expected


def test_attachment_header_carries_the_vietnamese_name_and_an_ascii_fallback() -> None:
    assert attachment_header("Báo cáo kết quả CCHC Quý I 2024.pdf") == (
        'attachment; filename="bao-cao-ket-qua-cchc-quy-i-2024.pdf"; '
        "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20k%E1%BA%BFt%20qu%E1%BA%A3%20CCHC%20Qu%C3%BD%20I%202024.pdf"
    )


def test_attachment_header_drops_separators_quotes_and_control_characters() -> None:
    header = attachment_header('Hồ sơ nhiệm vụ 5 Quý I/2024 "a"\r\nX: y.pdf')
    assert header == (
        'attachment; filename="ho-so-nhiem-vu-5-quy-i-2024-a-x-y.pdf"; '
        "filename*=UTF-8''H%E1%BB%93%20s%C6%A1%20nhi%E1%BB%87m%20v%E1%BB%A5%205%20Qu%C3%BD%20I-2024%20-a-X-%20y.pdf"
    )
    assert "/" not in header and "\r" not in header and "\n" not in header
