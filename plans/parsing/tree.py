"""The result of every reader: ``ParsedPlan`` → ``ParsedAppendix`` → ``ParsedSection`` →
(``ParsedGroup``) ``ParsedCriterion`` → ``ParsedTask``."""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TASK_FIELDS",
    "ParsedAppendix",
    "ParsedCriterion",
    "ParsedGroup",
    "ParsedPlan",
    "ParsedSection",
    "ParsedTask",
    "plan_from_json",
    "plan_to_json",
]

TASK_FIELDS = ("target", "task", "lead", "partners", "timeline")


@dataclass
class ParsedTask:
    """One task (nhiệm vụ, giải pháp) of a criterion."""

    order: int  # 1-based within its criterion
    target: str
    task: str
    lead_text: str
    lead_units: list[str]  # canonical names
    partner_text: str
    partner_units: list[str]  # canonical names, lead(s) removed
    timeline_text: str
    timeline_kind: str  # "ongoing" | "year" | "policy" | "other" | "none"
    due_date: datetime.date | None
    inherited: list[str]  # subset of TASK_FIELDS taken from a merged cell
    unresolved: list[str]  # unit fragments that matched nothing (lead or partners)
    row: int  # source line (txt) / table row (docx), 1-based


@dataclass
class ParsedCriterion:
    """A criterion (tiêu chí / tiêu chí thành phần / nội dung) and its tasks."""

    ordinal: str  # "1", "2", "1.1", "3.1" as written in the TT column
    code: str  # "TC 1.1" / "TCTP 3.3" / "" when absent
    name: str
    group_code: str  # code of the ParsedGroup it belongs to, "" if none
    tasks: list[ParsedTask]


@dataclass
class ParsedGroup:
    """A middle level (appendix 3: "1 Mức độ hài lòng…", appendix 4: "1 Chỉ số nội dung…")."""

    code: str
    title: str


@dataclass
class ParsedSection:
    """A field of reform ("I CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"), or an implicit one (code "")."""

    code: str  # "I", "II", ... or "" (implicit)
    title: str
    groups: list[ParsedGroup]
    criteria: list[ParsedCriterion]


@dataclass
class ParsedAppendix:
    """One appendix (Phụ lục) and its table."""

    number: int  # 1..4
    index: str  # "par" | "sipas" | "papi" | "other"
    title: str
    columns: list[str]  # header cells as written
    sections: list[ParsedSection]

    @property
    def tasks(self) -> list[ParsedTask]:
        """Every task of the appendix, in table order."""
        return [t for s in self.sections for c in s.criteria for t in c.tasks]


@dataclass
class ParsedPlan:
    """The whole upload."""

    appendices: list[ParsedAppendix]

    @property
    def tasks(self) -> list[ParsedTask]:
        """Every task of every appendix, in document order."""
        return [t for a in self.appendices for t in a.tasks]

    @property
    def unresolved(self) -> list[tuple[int, str]]:
        """(row, fragment) for every unit name that matched no unit."""
        return [(t.row, fragment) for t in self.tasks for fragment in t.unresolved]


# ---------------------------------------------------------------------------
# As JSON, to come back from the parse worker (never pickle: the worker read a hostile file)


def plan_to_json(plan: ParsedPlan) -> dict[str, Any]:
    """The tree as JSON-ready data (dates as ISO strings)."""
    data = dataclasses.asdict(plan)
    for appendix in data["appendices"]:
        for section in appendix["sections"]:
            for criterion in section["criteria"]:
                for task in criterion["tasks"]:
                    due = task["due_date"]
                    task["due_date"] = due.isoformat() if due else None
    return data


def plan_from_json(data: dict[str, Any]) -> ParsedPlan:
    """The tree back from ``plan_to_json``; ``ValueError`` when the data is not one."""
    try:
        return ParsedPlan(
            appendices=[
                ParsedAppendix(
                    number=int(a["number"]),
                    index=str(a["index"]),
                    title=str(a["title"]),
                    columns=[str(c) for c in a["columns"]],
                    sections=[
                        ParsedSection(
                            code=str(s["code"]),
                            title=str(s["title"]),
                            groups=[
                                ParsedGroup(code=str(g["code"]), title=str(g["title"])) for g in s["groups"]
                            ],
                            criteria=[
                                ParsedCriterion(
                                    ordinal=str(c["ordinal"]),
                                    code=str(c["code"]),
                                    name=str(c["name"]),
                                    group_code=str(c["group_code"]),
                                    tasks=[_task_from_json(t) for t in c["tasks"]],
                                )
                                for c in s["criteria"]
                            ],
                        )
                        for s in a["sections"]
                    ],
                )
                for a in data["appendices"]
            ]
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError("not a parsed plan") from exc


def _task_from_json(t: dict[str, Any]) -> ParsedTask:
    fields = {f.name for f in dataclasses.fields(ParsedTask)}
    if set(t) != fields:
        raise ValueError("unexpected task fields")
    values = dict(t)
    values["due_date"] = datetime.date.fromisoformat(t["due_date"]) if t["due_date"] else None
    return ParsedTask(**values)
