"""Custom viewflow nodes for what the open-source edition lacks.

- ``UnitSplit``: one branch per unit (the paid edition's per-item fan-out). The stock
  ``create_next`` hands each ``(node, data)`` pair's data to the new task, and the Join
  counts the split's tokens, so it waits for all of them.
- ``Join``: the stock join, asking the database once per arrival whether every branch is in
  (the stock activation asks in ``can_proceed``, again in the transition, and again in
  ``complete``: six statements where two do).
- ``StepView``: a human step whose permission object is the unit kept in the task's own
  data (stock ``View`` recomputes it from the process), and which records our ``Step``
  row in the same transaction as viewflow's task row.
"""

from __future__ import annotations

from typing import Any

from viewflow import this
from viewflow.workflow.activation import Activation
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.join import Join as StockJoin
from viewflow.workflow.nodes.join import JoinActivation
from viewflow.workflow.nodes.split import Split, SplitActivation
from viewflow.workflow.nodes.view import View, ViewActivation


class UnitSplitActivation(SplitActivation):
    @Activation.status.super()
    def activate(self) -> None:
        unit_ids = self.flow_task.unit_ids(self)
        if not unit_ids:
            raise FlowRuntimeError(f"{self.flow_task.name}: không có đơn vị nào để giao việc")
        from workflow.services import branches_prepare

        branches_prepare(process=self.process, unit_ids=unit_ids)
        node = self.flow_task._branches[0][0]
        self.next_tasks = [(node, {"unit_id": unit_id}) for unit_id in unit_ids]


class UnitSplit(Split):
    """Tách theo đơn vị: a parallel branch of the next node for each unit ``units`` returns."""

    activation_class = UnitSplitActivation

    def __init__(self, units: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._units = units

    def _resolve(self, instance: Any) -> None:
        super()._resolve(instance)
        self._units = this.resolve(instance, self._units)

    def unit_ids(self, activation: Activation) -> list[int]:
        return list(self._units(activation.process))


class OnceJoinActivation(JoinActivation):
    """One arrival at the join: the incoming tokens and "is every branch in?" read once.

    Safe because an activation lives for one arrival, inside the process lock: between the
    checks nothing else of this process can change."""

    def _join_token_prefixes(self) -> set[Any]:
        if not hasattr(self, "_prefixes_once"):
            self._prefixes_once = super()._join_token_prefixes()
        return self._prefixes_once

    def is_done(self) -> bool:
        if not hasattr(self, "_is_done_once"):
            self._is_done_once = super().is_done()
        return self._is_done_once


class Join(StockJoin):
    """Đợi đủ các nhánh: the stock join with ``OnceJoinActivation``."""

    activation_class = OnceJoinActivation


class StepActivation(ViewActivation):
    @classmethod
    def create(
        cls, flow_task: Any, prev_activation: Any, token: Any, data: Any = None, seed: Any = None
    ) -> Any:
        activation = super().create(flow_task, prev_activation, token, data=data, seed=seed)
        from workflow.services import step_record_create

        step_record_create(activation=activation)
        return activation


class StepView(View):
    """Bước xử lý của con người, gắn với một đơn vị (nếu có) và một bản ghi Step."""

    activation_class = StepActivation

    def __init__(self, view: Any, *, kind: str, **kwargs: Any) -> None:
        super().__init__(view, **kwargs)
        self.step_kind = kind

    def calc_owner_permission_obj(self, activation: Any) -> Any:
        unit_id = activation.task.data.get("unit_id")
        if unit_id is not None:
            from workflow.services import branch_unit

            return branch_unit(activation.process, unit_id)
        return super().calc_owner_permission_obj(activation)

    def can_assign(self, user: Any, task: Any) -> bool:
        from workflow.access import may_claim

        return may_claim(user, task.step)

    def can_execute(self, user: Any, task: Any) -> bool:
        from workflow.access import may_execute

        return may_execute(user, task.step)
