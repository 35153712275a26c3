"""PDF rendering with WeasyPrint: bundled assets only, and a cache keyed on the document's content.

WeasyPrint fetches whatever a document points at (file://, http:// to internal
addresses, data:). ``AssetFetcher`` serves only the files we ship under ``static/``
(the fonts, stylesheets) and refuses everything else; a refused URL is a warning to
WeasyPrint, which renders on without it.

Rendering takes seconds for a large plan, so the bytes are cached under a hash of the
exact data the template renders (plus the template sources): an unchanged document
comes back from the cache, any change to its data makes a new key.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

ASSET_SUFFIXES = {".ttf": "font/ttf", ".css": "text/css"}
CACHE_TIMEOUT = 24 * 3600
STYLESHEET = "reports/document.css"
# The templates a document is made of: part of the cache key, so a new release re-renders.
TEMPLATES = ("reports/_document.html", STYLESHEET, "reports/_signature.html")


def asset_root() -> Path:
    return Path(settings.BASE_DIR) / "static"


class AssetRefused(ValueError):
    """A document pointed at something other than a bundled asset."""


class AssetFetcher(URLFetcher):
    """Serves ``file:`` URLs of fonts and stylesheets under ``static/``; refuses any other URL."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False, fail_on_errors=False)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        path = asset_path(url)
        return URLFetcherResponse(
            url, body=_asset_bytes(str(path)), headers={"Content-Type": ASSET_SUFFIXES[path.suffix]}
        )


def asset_path(url: str) -> Path:
    """The bundled file a URL names, or ``AssetRefused``."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise AssetRefused(f"refused: {url[:200]}")
    root = asset_root().resolve()
    path = Path(unquote(parts.path)).resolve()  # resolves "..", and symlinks pointing out
    if not path.is_relative_to(root) or path.suffix not in ASSET_SUFFIXES or not path.is_file():
        raise AssetRefused(f"refused: {url[:200]}")
    return path


@functools.lru_cache(maxsize=16)
def _asset_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def render_pdf(html: str, css: str | None = None) -> bytes:
    """HTML → PDF with the documents' stylesheet (``css`` replaces it); relative URLs resolve
    under ``static/`` and every fetch goes through ``AssetFetcher``."""
    base_url = asset_root().resolve().as_uri() + "/"
    fetcher = AssetFetcher()
    fonts = FontConfiguration()  # where the stylesheet's @font-face rules register the bundled fonts
    stylesheet = CSS(
        string=render_to_string(STYLESHEET) if css is None else css,
        base_url=base_url,
        url_fetcher=fetcher,
        font_config=fonts,
    )
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    return document.write_pdf(stylesheets=[stylesheet], font_config=fonts)


@functools.lru_cache(maxsize=16)
def _templates_fingerprint(names: tuple[str, ...]) -> str:
    from django.template.backends.django import Template
    from django.template.loader import get_template

    digest = hashlib.sha256()
    for name in names:
        template = get_template(name)
        assert isinstance(template, Template)  # the one engine (settings.TEMPLATES): Django's
        digest.update(Path(template.origin.name).read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: a dataclass as the dict of its fields (what
    ``dataclasses.asdict`` gives, without its deep copy), anything else as its text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    return str(value)


def canonical_json(data: Any) -> str:
    """The data as one canonical text: dataclasses as their fields, keys sorted."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, default=_plain)


def content_key(kind: str, data: Any, templates: tuple[str, ...] = ()) -> str:
    """A cache key naming exactly this content: the data, the templates, the kind."""
    digest = hashlib.sha256()
    digest.update(kind.encode())
    digest.update(_templates_fingerprint(TEMPLATES + templates).encode())
    digest.update(canonical_json(data).encode())
    return f"reports:{kind}:{digest.hexdigest()}"


def document_cached(
    kind: str, data: Any, build: Callable[[], bytes], templates: tuple[str, ...] = ()
) -> bytes:
    """The document's bytes from the cache, built (and kept) when this content was not seen."""
    key = content_key(kind, data, templates)
    found = cache.get(key)
    if found is not None:
        return found
    built = build()
    cache.set(key, built, CACHE_TIMEOUT)
    return built


def document_pdf(template: str, data: Any, *, kind: str) -> bytes:
    """Render ``template`` with ``doc`` (the selector's data) to PDF, through the cache."""
    return document_cached(
        kind, data, lambda: render_pdf(render_to_string(template, {"doc": data})), templates=(template,)
    )
