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


def _rect(box: Any) -> tuple[float, float, float, float]:
    """(left, top, width, height) of a box's border area, in CSS px from the page's top left."""
    left = box.position_x + box.margin_left
    top = box.position_y + box.margin_top
    return left, top, box.border_width(), box.border_height()


def signature_place(document: Any) -> Place:
    """Where the visible signature goes: in the blank space (``.space``) of the signature block
    (``.signer``) between the title and the name, else just under the block, in PDF points; the
    bottom right corner of the last page when the template has no signature block."""
    for index, page in enumerate(document.pages):
        for box in _walk(page._page_box):
            if "signer" not in _classes(box):
                continue
            space = next((b for b in _walk(box) if "space" in _classes(b)), None)
            left, top, width, height = _rect(box)
            if space is not None:
                _, top, _, _ = _rect(space)  # the stamp starts where the blank space starts
            else:
                top += height
            centre = (left + width / 2) * PX_TO_PT
            x = int(max(centre - STAMP_WIDTH / 2, 10))
            y = int(max((page.height - top) * PX_TO_PT - STAMP_HEIGHT, 10))
            return Place(index, (x, y, x + STAMP_WIDTH, y + STAMP_HEIGHT))
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
