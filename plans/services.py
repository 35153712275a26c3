"""Writes of the plan as data: a parsed plan file -> the plan's tables.

``plan_import`` upserts by natural keys (appendix number, section code, group code,
criterion ordinal, task key) so that the primary keys of unchanged rows stay as they
are: workflow runs reference ``PlanTask`` with PROTECT, and a re-import of the same file
must not disturb them (it writes nothing at all).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from plans.models import Appendix, Criterion, CriterionGroup, Plan, PlanTask, Section, Unit
from plans.parsing import ParsedPlan, PlanParseError, UnitDirectory, UnitRef
from plans.partner_scope import named_partners, partner_scope_set
from plans.periods import periods_ensure
from plans.text import fold

# Fields of a task compared to decide whether a re-import "changed" it. ``position``
# (the order in the whole plan) is kept up to date but not counted: adding one task
# early in the plan would otherwise report every later task as changed.
_TASK_FIELDS = (
    "order",
    "target",
    "task",
    "lead_text",
    "partner_text",
    "timeline_text",
    "timeline_kind",
    "due_date",
    "inherited",
    "search_text",
)
_YEAR_IN_TITLE = re.compile(r"\bnam\s+((?:19|20)\d\d)\b")


class PlanImportError(PlanParseError):
    """The parsed plan cannot be written; nothing was. ``message`` is Vietnamese.

    A PlanParseError, so callers handle bad files and unimportable plans alike; ``row``
    and ``text`` point at the first offending line of the file when there is one and
    ``problems`` lists every (row, text) found.
    """

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        text: str = "",
        problems: list[tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message, row=row, text=text)
        self.problems = problems or []


@dataclass
class AppendixSummary:
    number: int
    index: str
    title: str
    tasks: int
    inherited_cells: int


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    plan: Plan | None
    year: int
    dry_run: bool
    plan_created: bool = False
    appendices: list[AppendixSummary] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # task keys
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    structure_changes: int = 0  # appendices, sections, groups, criteria created/edited/deleted

    @property
    def tasks(self) -> int:
        return sum(a.tasks for a in self.appendices)

    @property
    def inherited_cells(self) -> int:
        return sum(a.inherited_cells for a in self.appendices)

    @property
    def has_changes(self) -> bool:
        return bool(self.plan_created or self.added or self.changed or self.removed or self.structure_changes)

    def counts(self) -> dict[str, int]:
        return {
            "appendices": len(self.appendices),
            "tasks": self.tasks,
            "inherited_cells": self.inherited_cells,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
        }


def unit_directory() -> UnitDirectory:
    """The parser's view of the department's units, read from the database."""
    return UnitDirectory(
        units=tuple(
            UnitRef(
                name=unit.name,
                short_name=unit.short_name,
                kind=unit.kind,
                aliases=tuple(str(a) for a in (unit.aliases or [])),
            )
            for unit in Unit.objects.order_by("order", "name")
        )
    )


def plan_year_from_titles(parsed: ParsedPlan) -> int | None:
    """The plan year as the appendix titles state it ("... NĂM 2024"): the latest year named.

    Titles such as "CHỈ SỐ CCHC NĂM 2023, NÂNG CAO CHỈ SỐ NĂM 2024" name last year's
    index too; the plan is for the later one.
    """
    years = [int(y) for a in parsed.appendices for y in _YEAR_IN_TITLE.findall(fold(a.title))]
    return max(years) if years else None


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "")


def _part(code: str) -> str:
    return code or "-"


# --- The desired state, computed from the parsed plan (no database) ----------------------------


@dataclass
class _WantCriterion:
    key: str  # unique in its section
    ordinal: str
    code: str
    name: str
    group_code: str | None
    order: int


@dataclass
class _WantSection:
    key: str  # unique in its appendix
    code: str
    title: str
    order: int
    groups: dict[str, tuple[str, int]] = field(default_factory=dict)  # code -> (title, order)
    criteria: dict[str, _WantCriterion] = field(default_factory=dict)


@dataclass
class _WantAppendix:
    number: int
    index: str
    title: str
    columns: list[str]
    sections: dict[str, _WantSection] = field(default_factory=dict)


@dataclass
class _WantTask:
    key: str
    appendix: int
    section_key: str
    criterion_key: str
    position: int
    values: dict[str, Any]
    lead_units: frozenset[str]
    partner_units: frozenset[str]


def _desired(parsed: ParsedPlan) -> tuple[list[_WantAppendix], list[_WantTask], list[AppendixSummary]]:
    appendices: list[_WantAppendix] = []
    tasks: list[_WantTask] = []
    summaries: list[AppendixSummary] = []
    seen_keys: dict[str, int] = {}
    position = 0
    for parsed_appendix in parsed.appendices:
        appendix = _WantAppendix(
            number=parsed_appendix.number,
            index=parsed_appendix.index,
            title=_nfc(parsed_appendix.title),
            columns=[_nfc(c) for c in parsed_appendix.columns],
        )
        if any(a.number == appendix.number for a in appendices):
            raise PlanImportError(f"Tệp có hai Phụ lục số {appendix.number}.")
        appendices.append(appendix)
        n_tasks = n_inherited = 0
        for s_order, parsed_section in enumerate(parsed_appendix.sections, start=1):
            s_key = parsed_section.code or f"#{s_order}"
            section = _WantSection(
                key=s_key, code=parsed_section.code or "", title=_nfc(parsed_section.title), order=s_order
            )
            appendix.sections[s_key] = section
            for g_order, group in enumerate(parsed_section.groups, start=1):
                section.groups[group.code] = (_nfc(group.title), g_order)
            for c_order, parsed_criterion in enumerate(parsed_section.criteria, start=1):
                group_code = parsed_criterion.group_code or None
                c_key = f"{group_code or ''}/{parsed_criterion.ordinal or f'#{c_order}'}"
                criterion = _WantCriterion(
                    key=c_key,
                    ordinal=parsed_criterion.ordinal or "",
                    code=_nfc(parsed_criterion.code or ""),
                    name=_nfc(parsed_criterion.name),
                    group_code=group_code,
                    order=c_order,
                )
                section.criteria[c_key] = criterion
                if group_code is not None and group_code not in section.groups:
                    section.groups[group_code] = ("", len(section.groups) + 1)
                for parsed_task in parsed_criterion.tasks:
                    position += 1
                    n_tasks += 1
                    n_inherited += len(parsed_task.inherited)
                    key = "/".join(
                        [
                            str(appendix.number),
                            _part(section.code),
                            _part(group_code or ""),
                            parsed_criterion.ordinal or f"#{c_order}",
                            str(parsed_task.order),
                        ]
                    )
                    if key in seen_keys:
                        raise PlanImportError(
                            f"Dòng {parsed_task.row}: nhiệm vụ trùng số thứ tự với dòng {seen_keys[key]} "
                            f"(Phụ lục {appendix.number}, mục {section.code or '-'}, TT {parsed_criterion.ordinal}).",
                            row=parsed_task.row,
                            text=parsed_task.task[:200],
                        )
                    seen_keys[key] = parsed_task.row
                    values: dict[str, Any] = {
                        "order": parsed_task.order,
                        "target": _nfc(parsed_task.target),
                        "task": _nfc(parsed_task.task),
                        "lead_text": _nfc(parsed_task.lead_text),
                        "partner_text": _nfc(parsed_task.partner_text),
                        "timeline_text": _nfc(parsed_task.timeline_text),
                        "timeline_kind": parsed_task.timeline_kind,
                        "due_date": parsed_task.due_date,
                        "inherited": list(parsed_task.inherited),
                    }
                    values["search_text"] = fold(
                        " ".join(
                            [
                                criterion.code,
                                criterion.name,
                                values["target"],
                                values["task"],
                                values["lead_text"],
                                values["partner_text"],
                            ]
                        )
                    )
                    tasks.append(
                        _WantTask(
                            key=key,
                            appendix=appendix.number,
                            section_key=s_key,
                            criterion_key=c_key,
                            position=position,
                            values=values,
                            lead_units=frozenset(parsed_task.lead_units),
                            partner_units=frozenset(parsed_task.partner_units),
                        )
                    )
        summaries.append(
            AppendixSummary(
                number=appendix.number,
                index=appendix.index,
                title=appendix.title,
                tasks=n_tasks,
                inherited_cells=n_inherited,
            )
        )
    return appendices, tasks, summaries


def _check_units(parsed: ParsedPlan, tasks: list[_WantTask], units_by_name: dict[str, Unit]) -> None:
    problems = [(row, text) for row, text in parsed.unresolved]
    if problems:
        first_row, first_text = problems[0]
        lines = "; ".join(f"dòng {row}: “{text}”" for row, text in problems[:10])
        more = f" và {len(problems) - 10} chỗ khác" if len(problems) > 10 else ""
        raise PlanImportError(
            f"Không nhận ra {len(problems)} tên đơn vị ({lines}{more}). "
            "Sửa tên trong tệp hoặc thêm tên gọi khác cho đơn vị trong trang Quản trị, rồi nhập lại.",
            row=first_row,
            text=first_text,
            problems=problems,
        )
    for task in tasks:
        for name in task.lead_units | task.partner_units:
            if name not in units_by_name:
                raise PlanImportError(f"Không có đơn vị “{name}” trong danh mục đơn vị.", text=name)


def _get_values(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _save_changed(obj: Any, wanted: dict[str, Any]) -> bool:
    """Set and save only the fields that differ; True when something was written."""
    dirty = [name for name, value in wanted.items() if getattr(obj, name) != value]
    if dirty:
        for name in dirty:
            setattr(obj, name, wanted[name])
        obj.save(update_fields=dirty)
    return bool(dirty)


def _resolve_plan(*, parsed: ParsedPlan, plan: Plan | None, year: int | None) -> tuple[Plan | None, int]:
    if plan is not None:
        return plan, plan.year
    year = year or plan_year_from_titles(parsed)
    if year is None:
        raise PlanImportError(
            "Không xác định được năm của kế hoạch: tiêu đề các phụ lục không ghi “NĂM ...”. Hãy chọn năm."
        )
    return Plan.objects.filter(year=year).order_by("-pk").first(), year


def _tasks_add(
    added: list[tuple[PlanTask, _WantTask]], units_by_name: dict[str, Unit], directory: UnitDirectory
) -> None:
    """Write the new tasks and their lead, partner and named-partner units in one INSERT per
    table (a plan's 77 tasks one by one cost about 7 queries each)."""
    if not added:
        return
    PlanTask.objects.bulk_create([plan_task for plan_task, _task in added])
    leads, partners, named = (
        PlanTask.lead_units.through,
        PlanTask.partner_units.through,
        PlanTask.partner_units_named.through,
    )
    lead_rows, partner_rows, named_rows = [], [], []
    for plan_task, task in added:
        lead_rows += [
            leads(plantask_id=plan_task.pk, unit_id=units_by_name[n].pk) for n in sorted(task.lead_units)
        ]
        partner_rows += [
            partners(plantask_id=plan_task.pk, unit_id=units_by_name[n].pk)
            for n in sorted(task.partner_units)
        ]
        named_rows += [
            named(plantask_id=plan_task.pk, unit_id=units_by_name[n].pk)
            for n in sorted(named_partners(plan_task.partner_text, task.partner_units, directory))
        ]
    leads.objects.bulk_create(lead_rows)
    partners.objects.bulk_create(partner_rows)
    named.objects.bulk_create(named_rows)


@transaction.atomic
def plan_import(
    *,
    parsed: ParsedPlan,
    plan: Plan | None = None,
    year: int | None = None,
    source_name: str = "",
    source_sha256: str = "",
    actor: Any = None,
    dry_run: bool = False,
) -> ImportReport:
    """Write a parsed plan into a plan (new, or the one of its year) in one transaction.

    Upserts by natural key; a task that disappeared from the file is deleted, unless it has
    already been run in a reporting period, in which case the whole import is refused. Any
    unit name the directory did not recognise refuses the import too. An import that would
    change nothing writes nothing (no timestamps, no audit event). ``dry_run`` computes the
    same report and writes nothing.
    """
    if not parsed.tasks:
        raise PlanImportError("Tệp không có nhiệm vụ nào để nhập.")
    plan, year = _resolve_plan(parsed=parsed, plan=plan, year=year)
    want_appendices, want_tasks, summaries = _desired(parsed)
    units_by_name = {u.name: u for u in Unit.objects.all()}
    _check_units(parsed, want_tasks, units_by_name)

    report = ImportReport(plan=plan, year=year, dry_run=dry_run, appendices=summaries)
    existing_tasks: dict[str, PlanTask] = {}
    if plan is not None:
        if not dry_run:
            # Serialise concurrent imports of the same plan (no-op on SQLite, whose
            # IMMEDIATE transactions already hold the write lock).
            Plan.objects.select_for_update().filter(pk=plan.pk).first()
        existing_tasks = {
            t.key: t
            for t in PlanTask.objects.filter(plan=plan).prefetch_related("lead_units", "partner_units")
        }
    else:
        report.plan_created = True

    wanted_keys = {t.key for t in want_tasks}
    for task in want_tasks:
        old = existing_tasks.get(task.key)
        if old is None:
            report.added.append(task.key)
        elif (
            _get_values(old, _TASK_FIELDS) != task.values
            or {u.name for u in old.lead_units.all()} != task.lead_units
            or {u.name for u in old.partner_units.all()} != task.partner_units
        ):
            report.changed.append(task.key)
    report.removed = [key for key in existing_tasks if key not in wanted_keys]
    if report.removed:
        _refuse_removing_run_tasks([existing_tasks[k] for k in report.removed])

    if dry_run:
        report.structure_changes = _apply_structure(plan, want_appendices, write=False) if plan else 0
        return report

    if plan is None:
        plan = Plan.objects.create(
            title=f"Kế hoạch cải cách hành chính năm {year}",
            year=year,
            source_name=source_name,
            source_sha256=source_sha256,
            imported_at=timezone.now(),
        )
        report.plan = plan
    report.structure_changes = _apply_structure(plan, want_appendices, write=True)
    if not report.has_changes:
        # Nothing differs: leave every row (and its timestamps) exactly as it was.
        return report

    criteria = {
        _criterion_full_key(c): c
        for c in _criteria(plan)  # after _apply_structure: every wanted criterion exists
    }
    if report.removed:
        PlanTask.objects.filter(plan=plan, key__in=report.removed).delete()
    directory = unit_directory()  # for the partners each row names one by one
    added: list[tuple[PlanTask, _WantTask]] = []
    for task in want_tasks:
        criterion = criteria[(task.appendix, task.section_key, task.criterion_key)]
        wanted = {**task.values, "criterion_id": criterion.pk, "position": task.position}
        old = existing_tasks.get(task.key)
        if old is None:
            added.append((PlanTask(plan=plan, key=task.key, **wanted), task))
            continue
        text_before = old.partner_text
        _save_changed(old, wanted)
        if {u.name for u in old.lead_units.all()} != task.lead_units:
            old.lead_units.set([units_by_name[n] for n in sorted(task.lead_units)])
        if {u.name for u in old.partner_units.all()} != task.partner_units:
            old.partner_units.set([units_by_name[n] for n in sorted(task.partner_units)])
            partner_scope_set(old, directory)
        elif old.partner_text != text_before:
            partner_scope_set(old, directory)
    _tasks_add(added, units_by_name, directory)
    _delete_orphans(plan, want_appendices)

    _save_changed(
        plan, {"source_name": source_name, "source_sha256": source_sha256, "imported_at": timezone.now()}
    )
    periods_ensure(plan=plan)
    audit_record(
        actor=actor,
        action="plan_imported",
        data={
            "plan": plan.pk,
            "year": plan.year,
            "source_name": source_name,
            "sha256": source_sha256,
            **report.counts(),
            "structure_changes": report.structure_changes,
        },
    )
    return report


def _refuse_removing_run_tasks(removed: list[PlanTask]) -> None:
    run = list(
        PlanTask.objects.filter(pk__in=[t.pk for t in removed], period_tasks__isnull=False)
        .distinct()
        .order_by("position")
    )
    if run:
        names = "; ".join(f"“{t.task[:80]}” ({t.key})" for t in run[:5])
        more = f" và {len(run) - 5} nhiệm vụ khác" if len(run) > 5 else ""
        raise PlanImportError(
            f"Không thể nhập: tệp mới bỏ {len(run)} nhiệm vụ đã được triển khai trong kỳ báo cáo "
            f"({names}{more}). Nhiệm vụ đã có quy trình không được xóa; hãy giữ các nhiệm vụ này trong tệp.",
            text=run[0].task[:200],
        )


# --- The hierarchy: appendices, sections, groups, criteria --------------------------------------


def _section_key(section: Section) -> str:
    return section.code or f"#{section.order}"


def _criterion_key(criterion: Criterion) -> str:
    group_code = criterion.group.code if criterion.group is not None else ""
    return f"{group_code}/{criterion.ordinal or f'#{criterion.order}'}"


def _criterion_full_key(criterion: Criterion) -> tuple[int, str, str]:
    """Appendix number, section key, criterion key: what the file's criteria are matched by."""
    return (criterion.section.appendix.number, _section_key(criterion.section), _criterion_key(criterion))


def _criteria(plan: Plan) -> list[Criterion]:
    """The plan's criteria, with the rows their keys are read from."""
    return list(
        Criterion.objects.filter(section__appendix__plan=plan).select_related("section__appendix", "group")
    )


_StructureModel = type[Appendix] | type[Section] | type[CriterionGroup] | type[Criterion]


def _apply_structure(plan: Plan, want: list[_WantAppendix], *, write: bool) -> int:
    """Create or update the hierarchy rows; the number of rows created or edited.

    With ``write=False`` only counts. Rows no longer wanted are counted here and deleted
    by ``_delete_orphans`` once the tasks under them are gone.
    """
    changes = 0
    appendices = {a.number: a for a in Appendix.objects.filter(plan=plan)}
    sections = {(s.appendix_id, _section_key(s)): s for s in Section.objects.filter(appendix__plan=plan)}
    groups = {(g.section_id, g.code): g for g in CriterionGroup.objects.filter(section__appendix__plan=plan)}
    criteria = {(c.section_id, _criterion_key(c)): c for c in _criteria(plan)}
    kept_appendices: set[int] = set()
    kept_sections: set[int] = set()
    kept_groups: set[int] = set()
    kept_criteria: set[int] = set()

    def upsert(existing: Any, model: _StructureModel, create: dict[str, Any], values: dict[str, Any]) -> Any:
        nonlocal changes
        if existing is None:
            changes += 1
            return model.objects.create(**create, **values) if write else None
        if any(getattr(existing, k) != v for k, v in values.items()):
            changes += 1
            if write:
                _save_changed(existing, values)
        return existing

    for wa in want:
        appendix = upsert(
            appendices.get(wa.number),
            Appendix,
            {"plan": plan, "number": wa.number},
            {"index": wa.index, "title": wa.title, "columns": wa.columns},
        )
        if appendix is None:  # dry run: everything below is new
            changes += sum(1 + len(s.groups) + len(s.criteria) for s in wa.sections.values())
            continue
        kept_appendices.add(appendix.pk)
        for ws in wa.sections.values():
            section = upsert(
                sections.get((appendix.pk, ws.key)),
                Section,
                {"appendix": appendix},
                {"code": ws.code, "title": ws.title, "order": ws.order},
            )
            if section is None:
                changes += len(ws.groups) + len(ws.criteria)
                continue
            kept_sections.add(section.pk)
            group_by_code: dict[str, CriterionGroup | None] = {}
            for code, (title, order) in ws.groups.items():
                group = upsert(
                    groups.get((section.pk, code)),
                    CriterionGroup,
                    {"section": section, "code": code},
                    {"title": title, "order": order},
                )
                group_by_code[code] = group
                if group is not None:
                    kept_groups.add(group.pk)
            for wc in ws.criteria.values():
                group = group_by_code.get(wc.group_code) if wc.group_code else None
                if wc.group_code and group is None:  # dry run, new group: the criterion is new too
                    changes += 1
                    continue
                criterion = upsert(
                    criteria.get((section.pk, wc.key)),
                    Criterion,
                    {"section": section},
                    {
                        "group_id": group.pk if group else None,
                        "ordinal": wc.ordinal,
                        "code": wc.code,
                        "name": wc.name,
                        "order": wc.order,
                    },
                )
                if criterion is not None:
                    kept_criteria.add(criterion.pk)
    changes += sum(1 for pk in {a.pk for a in appendices.values()} if pk not in kept_appendices)
    changes += sum(
        1 for s in sections.values() if s.pk not in kept_sections and s.appendix_id in kept_appendices
    )
    changes += sum(1 for g in groups.values() if g.pk not in kept_groups and g.section_id in kept_sections)
    changes += sum(
        1 for c in criteria.values() if c.pk not in kept_criteria and c.section_id in kept_sections
    )
    return changes


def _delete_orphans(plan: Plan, want: list[_WantAppendix]) -> None:
    """Delete hierarchy rows the file no longer has (their tasks were deleted before)."""
    wanted_criteria = {
        (a.number, s.key, c.key) for a in want for s in a.sections.values() for c in s.criteria.values()
    }
    wanted_groups = {(a.number, s.key, g) for a in want for s in a.sections.values() for g in s.groups}
    wanted_sections = {(a.number, s.key) for a in want for s in a.sections.values()}
    wanted_appendices = {a.number for a in want}
    for c in _criteria(plan):
        if _criterion_full_key(c) not in wanted_criteria:
            c.delete()
    for g in CriterionGroup.objects.filter(section__appendix__plan=plan).select_related("section__appendix"):
        if (g.section.appendix.number, _section_key(g.section), g.code) not in wanted_groups:
            g.delete()
    for s in Section.objects.filter(appendix__plan=plan).select_related("appendix"):
        if (s.appendix.number, _section_key(s)) not in wanted_sections:
            s.delete()
    Appendix.objects.filter(plan=plan).exclude(number__in=wanted_appendices).delete()
