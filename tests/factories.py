"""factory_boy factories for plan rows (the importer has its own tests on the seed)."""

from __future__ import annotations

import itertools
from typing import Any

import factory

from plans.models import Appendix, Criterion, Plan, PlanTask, Section, Unit
from plans.periods import periods_ensure

_keys = itertools.count(1)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    title = "Kế hoạch cải cách hành chính năm 2024"
    year = 2024


class AppendixFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appendix

    plan = factory.SubFactory(PlanFactory)
    number = 1
    index = Appendix.Index.PAR
    title = "Phụ lục 1"


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Section

    appendix = factory.SubFactory(AppendixFactory)
    code = "I"
    title = "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH"


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Criterion

    section = factory.SubFactory(SectionFactory)
    ordinal = "1"
    code = "TC 1.1"
    name = "Thực hiện kế hoạch CCHC"


def plan_task(
    criterion: Criterion,
    *,
    lead: list[Unit],
    partners: list[Unit] = (),  # type: ignore[assignment]
    timeline_kind: str = PlanTask.TimelineKind.ONGOING,
    task: str = "Triển khai thực hiện kế hoạch CCHC",
    **extra: Any,
) -> PlanTask:
    n = next(_keys)
    obj = PlanTask.objects.create(
        plan=criterion.section.appendix.plan,
        criterion=criterion,
        key=f"1/I//{criterion.ordinal}/{n}",
        order=n,
        position=n,
        task=task,
        lead_text="; ".join(u.name for u in lead),
        partner_text="; ".join(u.name for u in partners),
        timeline_text={"ongoing": "Thường xuyên", "year": "Năm 2024"}.get(timeline_kind, ""),
        timeline_kind=timeline_kind,
        **extra,
    )
    obj.lead_units.set(lead)
    obj.partner_units.set(partners)
    obj.partner_units_named.set(partners)  # the text names each one
    return obj


def periods(plan: Plan) -> dict[str, Any]:
    return {p.code: p for p in periods_ensure(plan=plan)}
