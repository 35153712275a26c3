"""Who may see what in the plans app.

Kept here rather than in workflow/access.py: plans does not import workflow.
"""

from __future__ import annotations

from typing import Any

from plans.models import PlanUpload
from plans.roles import roles_of


def upload_visible(user: Any, upload: PlanUpload) -> bool:
    """A plan upload's status and preview: the person who sent it, and the office."""
    if not user.is_authenticated:
        return False
    return upload.uploaded_by_id == user.pk or user.is_superuser or roles_of(user).is_office
