"""The department as seeded: its units, their kinds and the spellings the plan uses.

Plain data, no ORM: ``seed_demo`` writes it to the database, and the parser's tests
build a ``UnitDirectory`` from it without one.
"""

from __future__ import annotations

from typing import Final, TypedDict


class UnitSeed(TypedDict):
    name: str
    short_name: str
    kind: str
    aliases: list[str]


# Unit kinds (Unit.Kind values).
DIVISION: Final = "division"  # phòng chuyên môn
OFFICE: Final = "office"  # Văn phòng Sở
INSPECTORATE: Final = "inspectorate"  # Thanh tra Sở
CENTRE: Final = "centre"  # đơn vị sự nghiệp công lập (trung tâm)

DEFAULT_UNITS: Final[list[UnitSeed]] = [
    {"name": "Văn phòng Sở", "short_name": "VP", "kind": OFFICE, "aliases": ["Văn phòng"]},
    {"name": "Thanh tra Sở", "short_name": "TTr", "kind": INSPECTORATE, "aliases": ["Thanh tra"]},
    {
        "name": "Phòng Quản lý công nghiệp",
        "short_name": "QLCN",
        "kind": DIVISION,
        "aliases": ["Phòng QLCN"],
    },
    {
        "name": "Phòng Quản lý thương mại",
        "short_name": "QLTM",
        "kind": DIVISION,
        "aliases": ["Phòng QLTM"],
    },
    {
        "name": "Phòng An toàn - Năng lượng",
        "short_name": "ATNL",
        "kind": DIVISION,
        "aliases": ["Phòng ATNL", "Phòng An toàn – Năng lượng"],
    },
    {
        "name": "Phòng Kế hoạch - Tài chính",
        "short_name": "KHTC",
        "kind": DIVISION,
        "aliases": ["Phòng KHTC", "Phòng Kế hoạch – Tài chính"],
    },
    {
        "name": "Trung tâm Khuyến công và Xúc tiến Thương mại",
        "short_name": "TTKC",
        "kind": CENTRE,
        "aliases": ["Trung tâm Khuyến công và XTTM", "Trung tâm KC&XTTM"],
    },
]

# Collective names used in the plan's unit columns (compared after normalisation).
ALL_UNITS_PHRASES: Final = ("Các phòng, đơn vị thuộc sở", "Các phòng, đơn vị thuộc Sở")
DIVISIONS_PHRASES: Final = ("Các phòng thuộc sở", "Các phòng thuộc Sở")
