"""Rendering an issued document: the reports' own templates and assets, plus where to sign.

The templates, stylesheet and asset rules are those of ``workflow.reports.pdf`` (one home);
this module only keeps WeasyPrint's layout to find the signature block (the ``td.signer``
of ``reports/_signature.html``) so that the visible digital signature lands there, and it
never caches: an issued document is rendered once and frozen.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from documents.signing import Place
from workflow.reports import pdf

PX_TO_PT = 0.75  # CSS px are 1/96 in, PDF points 1/72 in
STAMP_WIDTH, STAMP_HEIGHT = 190, 54  # points


def _classes(box: Any) -> set[str]:
    element = getattr(box, "element", None)
    if element is None or getattr(box, "element_tag", None) is None:
        return set()
    return set((element.get("class") or "").split())


def _walk(box: Any) -> Any:
    yield box
    for child in getattr(box, "children", ()):
        yield from _walk(child)


def signature_place(document: Any) -> Place:
    """The box under the signer's title (``.signer``), in PDF points; the bottom right corner of
    the last page when the template has no signature block."""
    for index, page in enumerate(document.pages):
        height = page.height
        for box in _walk(page._page_box):
            if "signer" in _classes(box):
                x = box.position_x + box.margin_left + box.border_left_width
                width = box.border_width()
                bottom_px = box.position_y + box.margin_top + box.border_height()
                centre = (x + width / 2) * PX_TO_PT
                y_bottom = (height - bottom_px) * PX_TO_PT
                left = int(max(centre - STAMP_WIDTH / 2, 10))
                low = int(max(y_bottom - STAMP_HEIGHT, 10))
                return Place(index, (left, low, left + STAMP_WIDTH, low + STAMP_HEIGHT))
    last = document.pages[-1]
    right = int(last.width * PX_TO_PT) - 40
    return Place(len(document.pages) - 1, (right - STAMP_WIDTH, 40, right, 40 + STAMP_HEIGHT))


def render_issued(template: str, data: Any, issue: dict[str, Any]) -> tuple[bytes, Place]:
    """``template`` with ``doc`` (the selector's data, its header numbered and dated) and ``issue``
    (number, date, signer) → the PDF's bytes and where its signature goes."""
    html = render_to_string(template, {"doc": data, "issue": issue})
    base_url = pdf.asset_root().resolve().as_uri() + "/"
    fetcher = pdf.AssetFetcher()
    fonts = FontConfiguration()
    stylesheet = CSS(
        string=render_to_string(pdf.STYLESHEET), base_url=base_url, url_fetcher=fetcher, font_config=fonts
    )
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
        stylesheets=[stylesheet], font_config=fonts
    )
    return document.write_pdf(), signature_place(document)
