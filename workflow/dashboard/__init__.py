"""Tổng quan tiến độ, shaped like ``workflow.reports``: ``selectors`` (scope, counts, lists by the
one counting rule), ``views`` (presentation and the two pages), ``urls`` (namespace "dashboard")."""
