"""Writes of the workflow, split along their seams:

- ``commands``: what a person does (launch, claim, assign, save, submit, decide, evidence,
  cancel); each runs in one transaction, inside the flow's process lock when it moves a run;
- ``hooks``: what the engine calls (the start handle, the splits, every new human step);
- ``notifications``: who hears of what an action did (batched per action);
- ``reminders``: the due-date reminders of the ``send_reminders`` command;
- ``context``: the ``ActionContext`` an action hands the hooks.

The public names are re-exported here: ``from workflow import services; services.step_submit``.
"""

from django.core.exceptions import PermissionDenied, ValidationError

from workflow.services.commands import (
    REPORT_FIELDS,
    BulkResult,
    LaunchResult,
    StepConflict,
    evidence_attach,
    evidence_remove,
    launch_kinds,
    launch_preview,
    period_launch,
    period_task_cancel,
    step_assign,
    step_claim,
    step_save_draft,
    step_submit,
    steps_approve,
    steps_claim,
    tasks_for_period,
)
from workflow.services.context import ActionContext
from workflow.services.hooks import (
    CARRIED_FIELDS,
    branch_unit,
    branches_prepare,
    process_start,
    step_due_date,
    step_record_create,
    steps_redate_for_period,
)
from workflow.services.reminders import reminders_send

__all__ = [
    "steps_redate_for_period",
    "CARRIED_FIELDS",
    "REPORT_FIELDS",
    "ActionContext",
    "BulkResult",
    "LaunchResult",
    "PermissionDenied",
    "StepConflict",
    "ValidationError",
    "branch_unit",
    "branches_prepare",
    "evidence_attach",
    "evidence_remove",
    "launch_preview",
    "period_launch",
    "period_task_cancel",
    "process_start",
    "reminders_send",
    "step_assign",
    "step_claim",
    "step_due_date",
    "step_record_create",
    "step_save_draft",
    "step_submit",
    "steps_approve",
    "steps_claim",
    "launch_kinds",
    "tasks_for_period",
]
