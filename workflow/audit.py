"""Moved to the ``audit`` app; this re-export only bridges branches written before the move.

New code imports ``audit.services`` and ``audit.models``; delete this file once nothing does.
"""

from audit.models import AuditAction, action_label
from audit.services import audit_record, verify_chain, verify_chain_status

__all__ = ["AuditAction", "action_label", "audit_record", "verify_chain", "verify_chain_status"]
