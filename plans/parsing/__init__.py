"""Read a department's administrative-reform plan (its appendices) from an uploaded file.

One entry: ``parse_upload(name, data, units)`` for .txt, .docx, .xlsx, .doc and .odt
(``dispatch``); web requests and ``manage.py import_plan`` call
``parse_upload_bounded``, which runs it in a child process with memory, CPU and time
limits (``bounded`` → ``worker``). Every format becomes the same tree
(``tree``: ``ParsedPlan`` → ``ParsedAppendix`` → ``ParsedSection`` → (``ParsedGroup``)
``ParsedCriterion`` → ``ParsedTask``) through one table builder (``tables``):

* ``txt`` — the tab-separated text export of the Word tables (merges inferred);
* ``docx`` — ``word/document.xml`` streamed, merged cells real (``w:vMerge``, ``w:gridSpan``);
* ``xlsx`` — one appendix per sheet (the layout ``plans.xlsx`` writes), streamed;
* ``convert`` — .doc/.odt to .docx by LibreOffice headless, where it is installed;
* ``container`` — the zip checks every Office file passes first; ``rules`` — which
  names and sizes are accepted; ``units`` — unit names resolved to the directory.

The readers are pure Python (no Django, no database) so that they run in the worker.
Every problem with the input surfaces as ``PlanParseError`` whose ``message`` is a
Vietnamese sentence meant for the person who uploaded the file.
"""

from __future__ import annotations

from plans.parsing.bounded import Limits, parse_upload_bounded
from plans.parsing.dispatch import ReadUpload, parse_upload, read_upload
from plans.parsing.docx import parse_docx
from plans.parsing.errors import PlanParseError
from plans.parsing.rules import ACCEPT, SUFFIXES, check_name, check_size, upload_limit
from plans.parsing.tree import (
    ParsedAppendix,
    ParsedCriterion,
    ParsedGroup,
    ParsedPlan,
    ParsedSection,
    ParsedTask,
)
from plans.parsing.txt import parse_text
from plans.parsing.units import UnitDirectory, UnitRef
from plans.parsing.xlsx import parse_xlsx

__all__ = [
    "ACCEPT",
    "SUFFIXES",
    "Limits",
    "ParsedAppendix",
    "ParsedCriterion",
    "ParsedGroup",
    "ParsedPlan",
    "ParsedSection",
    "ParsedTask",
    "PlanParseError",
    "ReadUpload",
    "UnitDirectory",
    "UnitRef",
    "check_name",
    "check_size",
    "parse_docx",
    "parse_text",
    "parse_upload",
    "parse_upload_bounded",
    "parse_xlsx",
    "read_upload",
    "upload_limit",
]
