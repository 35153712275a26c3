"""Plans kept as Word 97 (.doc) or OpenDocument (.odt): converted by LibreOffice headless in the
bounded worker where it is installed, refused with how to save them as .docx where it is not.

The round-trip tests need ``soffice`` (Debian: ``apt-get install libreoffice-writer-nogui``)
and are skipped, saying so, without it; the refusal is tested on every machine.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from plans.models import Plan
from plans.parsing import ParsedPlan, PlanParseError, UnitDirectory, parse_upload, parse_upload_bounded
from plans.parsing.convert import soffice_path
from tests.helpers import SEED_DOCX
from tests.jobs import run_queued_jobs

SOFFICE = soffice_path()
NO_SOFFICE = (
    "LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui to test .doc/.odt"
)
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The seed .docx saved by LibreOffice as .doc and as .odt (as a department would keep it)."""
    if SOFFICE is None:
        pytest.skip(NO_SOFFICE)
    work = tmp_path_factory.mktemp("libreoffice")
    source = work / "seed.docx"
    source.write_bytes(SEED_DOCX.read_bytes())
    for kind in ("doc", "odt"):
        subprocess.run(  # noqa: S603 - a fixed command line
            [
                SOFFICE,
                "--headless",
                f"-env:UserInstallation={(work / 'profile').as_uri()}",
                "--convert-to",
                kind,
                "--outdir",
                str(work),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return {".doc": (work / "seed.doc").read_bytes(), ".odt": (work / "seed.odt").read_bytes()}


def _tasks(plan: ParsedPlan) -> list[tuple[Any, ...]]:
    return [
        (t.target, t.task, t.lead_units, t.partner_units, t.timeline_text, t.due_date, t.inherited)
        for t in plan.tasks
    ]


@pytest.mark.parametrize("suffix", [".doc", ".odt"])
def test_a_libreoffice_round_trip_of_the_seed_reads_77_of_77_tasks(
    round_trips: dict[str, bytes], directory: UnitDirectory, suffix: str
) -> None:
    # when the seed, saved as .doc / .odt, is read in the bounded worker
    read = parse_upload_bounded(f"ke-hoach{suffix}", round_trips[suffix], directory)
    # then it is the same plan as the .docx: 77 tasks, same texts, units, deadlines, merged cells
    original = parse_upload("ke-hoach.docx", SEED_DOCX.read_bytes(), directory)
    assert len(read.plan.tasks) == 77
    assert _tasks(read.plan) == _tasks(original)
    assert [(a.number, a.index, a.title) for a in read.plan.appendices] == [
        (a.number, a.index, a.title) for a in original.appendices
    ]
    assert read.plan.unresolved == []
    # and the .docx LibreOffice made comes back with it, to be kept instead of converting again
    assert read.converted is not None and read.converted.startswith(b"PK\x03\x04")


@pytest.mark.django_db
def test_an_odt_plan_is_imported_through_the_upload_page(
    round_trips: dict[str, bytes], personas: dict[str, Any], settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    odt = round_trips[".odt"]
    client = Client()
    client.force_login(personas["office_reviewer"])
    # when the .odt is uploaded, previewed and confirmed
    response = client.post(reverse("plans:upload"), {"file": SimpleUploadedFile("ke-hoach.odt", odt)})
    assert response.status_code == 302
    assert run_queued_jobs() == 1  # the parse job converts it with LibreOffice, in the bounded child
    preview = client.get(reverse("plans:upload_preview"))
    assert [t.task_count for t in preview.context["tables"]] == [21, 19, 26, 11]
    assert client.post(reverse("plans:upload_confirm")).status_code == 302
    # then the plan has the 77 tasks and names the file the person uploaded
    plan = Plan.objects.get()
    assert plan.tasks.count() == 77
    assert (plan.source_name, plan.source_sha256) == ("ke-hoach.odt", hashlib.sha256(odt).hexdigest())


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("ke-hoach.doc", OLE2 + b"\0" * 512, "Word 97–2003 (.doc)"),
        ("ke-hoach.odt", b"PK\x03\x04" + b"\0" * 512, "OpenDocument (.odt)"),
    ],
)
def test_without_libreoffice_doc_and_odt_are_refused_with_how_to_save_them_as_docx(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    directory: UnitDirectory,
    name: str,
    data: bytes,
    kind: str,
) -> None:
    # given a server without LibreOffice on its PATH
    monkeypatch.setenv("PATH", str(tmp_path))
    assert soffice_path() is None
    # when a .doc / .odt is read, here or in the worker
    for parse in (parse_upload, lambda *args: parse_upload_bounded(*args).plan):
        with pytest.raises(PlanParseError) as caught:
            parse(name, data, directory)
        # then the person is told why and how to save it as .docx
        assert caught.value.message.startswith(f"Máy chủ chưa cài LibreOffice nên chưa đọc được tệp {kind}.")
        assert "Lưu thành" in caught.value.message
        assert "rồi tải tệp .docx lên." in caught.value.message
