"""WeasyPrint fetches nothing but the fonts and stylesheets we ship under static/."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.template.loader import render_to_string

from tests.factories import CriterionFactory, periods, plan_task
from tests.reports.conftest import flat, pdf_pages
from workflow import services
from workflow.models import PeriodTask
from workflow.reports import pdf, selectors
from workflow.reports.pdf import AssetFetcher, AssetRefused, asset_path, render_pdf

FONTS = Path(settings.BASE_DIR) / "static" / "fonts"


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets (it should get none)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(url, "served" | "refused") for every URL WeasyPrint asked the fetcher for."""
    calls: list[tuple[str, str]] = []
    original = AssetFetcher.fetch

    def spy(self: AssetFetcher, url: str, headers: Any = None) -> Any:
        try:
            response = original(self, url, headers)
        except AssetRefused:
            calls.append((url, "refused"))
            raise
        calls.append((url, "served"))
        return response

    monkeypatch.setattr(AssetFetcher, "fetch", spy)
    return calls


def test_fetcher_serves_the_bundled_fonts() -> None:
    url = (FONTS / "LiberationSerif-Regular.ttf").as_uri()
    response = AssetFetcher().fetch(url)
    assert response.read() == (FONTS / "LiberationSerif-Regular.ttf").read_bytes()
    assert response.content_type == "font/ttf"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://127.0.0.1/",
        "http://127.0.0.1:8000/quan-tri/",
        "https://example.org/style.css",
        "ftp://127.0.0.1/x.css",
        "data:text/css,body{color:red}",
        (FONTS / "OFL.txt").as_uri(),  # ours, but not a font or a stylesheet
        (FONTS / ".." / ".." / "config" / "settings.py").as_uri(),
        (FONTS / ".." / ".." / "var" / "secret_key").as_uri(),
        (FONTS / ".." / ".." / ".venv" / "lib").as_uri() + "/x.css",
        "file://intranet.local" + (FONTS / "LiberationSerif-Regular.ttf").as_posix(),
        (FONTS / "LiberationSerif-Regular.ttf").as_uri() + "?v=1",
        (FONTS / "missing.ttf").as_uri(),
    ],
)
def test_fetcher_refuses_everything_else(url: str) -> None:
    with pytest.raises(AssetRefused):
        AssetFetcher().fetch(url)
    with pytest.raises(AssetRefused):
        asset_path(url)


def test_document_pointing_at_local_files_and_addresses_renders_without_fetching_them(
    local_server: tuple[str, list[str]], fetched: list[tuple[str, str]]
) -> None:
    base, hits = local_server
    # given a document and a stylesheet that point at a local file and an internal address
    html = f"""<html><head>
      <link rel="stylesheet" href="{base}/style.css"><link rel="stylesheet" href="file:///etc/passwd">
    </head><body>
      <p>Xin chào Bắc Kạn</p>
      <img src="file:///etc/passwd"><img src="{base}/logo.png"><object data="{base}/object"></object>
      <iframe src="{base}/frame"></iframe><a rel="attachment" href="{base}/attachment.bin">tệp</a>
    </body></html>"""
    css = (
        f'@import url("{base}/import.css");\n'
        f'@font-face {{ font-family: "Remote"; src: url("{base}/font.ttf"); }}\n'
        'body { background: url("file:///etc/passwd"); }\n' + render_to_string(pdf.STYLESHEET)
    )
    # when it is rendered
    data = render_pdf(html, css=css)
    # then the PDF is made, the server was never asked, and only bundled fonts were served
    assert data.startswith(b"%PDF-")
    assert hits == []
    refused = {url for url, outcome in fetched if outcome == "refused"}
    assert refused == {
        "file:///etc/passwd",
        f"{base}/style.css",
        f"{base}/import.css",
        f"{base}/font.ttf",
        f"{base}/logo.png",
        f"{base}/object",
        f"{base}/attachment.bin",
    }
    served = {url for url, outcome in fetched if outcome == "served"}
    assert served == {
        (FONTS / f"LiberationSerif-{s}.ttf").as_uri() for s in ("Regular", "Bold", "Italic", "BoldItalic")
    }
    text = "\n".join(pdf_pages(data))
    assert "Xin chào Bắc Kạn" in text
    assert "root:" not in text


def test_markup_in_a_report_is_shown_as_text_and_fetches_nothing(
    units: dict[str, Any],
    personas: dict[str, Any],
    local_server: tuple[str, list[str]],
    fetched: list[tuple[str, str]],
) -> None:
    base, hits = local_server
    # given a lead report written with HTML in it
    criterion = CriterionFactory()
    task = plan_task(criterion, lead=[units["QLCN"]])
    period = periods(criterion.section.appendix.plan)["Q1"]
    services.period_launch(period=period, actor=personas["office_reviewer"], plan_tasks=[task])
    run = PeriodTask.objects.get(plan_task=task)
    lead = run.steps.get(kind="lead")
    written = (
        f'<script>alert(1)</script><img src="{base}/x.png"><link rel="stylesheet" href="file:///etc/passwd">'
    )
    services.step_claim(step_id=lead.pk, user=personas["staff"])
    services.step_submit(
        step_id=lead.pk,
        user=personas["staff"],
        data={"result": written, "self_assessment": "done", "explanation": "Chưa có tệp"},
    )
    # when the dossier is rendered
    data = pdf.document_pdf("reports/dossier.html", selectors.dossier(run.pk), kind="dossier")
    # then the markup is text, and nothing but the bundled fonts was fetched
    assert f"Kết quả: {written}" in flat("\n".join(pdf_pages(data)))
    assert hits == []
    assert {outcome for _, outcome in fetched} == {"served"}
