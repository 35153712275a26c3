"""Lịch sử xử lý, shaped like ``workflow.reports``: ``selectors`` (audit events as people read them,
the flow chart, the audit search's page), ``exports`` (PDF and .xlsx), ``views`` (the task history
page, its downloads and the audit search), ``urls`` (namespace "history")."""
