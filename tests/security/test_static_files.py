"""Static files as in production: `collectstatic` with DEBUG=0, pages naming hashed files.

The other tests use plain names (tests/conftest.py); these use WhiteNoise's manifest storage
on a real `collectstatic` (the one the fault tests' child processes use too).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.faults.helpers import collected_static_root

MANIFEST_STORAGE = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}


@pytest.fixture
def production_static(settings: Any) -> dict[str, str]:
    """The production storage on a real collectstatic; returns the manifest's paths."""
    root = Path(collected_static_root())
    settings.STATIC_ROOT = root
    settings.STORAGES = {**settings.STORAGES, "staticfiles": MANIFEST_STORAGE}
    return json.loads((root / "staticfiles.json").read_text(encoding="utf-8"))["paths"]


def test_collectstatic_with_debug_off_writes_a_manifest_of_ours_and_the_admins_files(
    production_static: dict[str, str],
) -> None:
    # Then our files and the admin's are there under hashed names, compressed beside them
    root = Path(collected_static_root())
    for name in ("css/app.css", "js/app.js", "admin/css/base.css"):
        hashed = production_static[name]
        assert hashed != name and (root / hashed).is_file() and (root / f"{hashed}.gz").is_file()
    # And viewflow's 51 MB front end, which no page serves, is left out (config/staticfiles.py)
    assert not [name for name in production_static if name.startswith("viewflow/")]


def test_login_page_names_hashed_files_that_whitenoise_serves_for_a_year(
    production_static: dict[str, str], db: Any
) -> None:
    client = Client()  # a new handler: WhiteNoise reads the STATIC_ROOT set above
    page = client.get(reverse("login"))
    assert page.status_code == 200
    css = f"/static/{production_static['css/app.css']}"
    assert f'href="{css}"' in page.content.decode()

    served = client.get(css, HTTP_ACCEPT_ENCODING="gzip")
    assert served.status_code == 200
    assert served["Content-Encoding"] == "gzip"
    assert "max-age=315360000" in served["Cache-Control"]


def test_a_page_naming_a_file_missing_from_the_manifest_fails_loudly(
    production_static: dict[str, str], settings: Any
) -> None:
    # The production storage never falls back to a plain name: a missing entry is an error
    from django.contrib.staticfiles.storage import staticfiles_storage

    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        staticfiles_storage.url("viewflow/css/viewflow.min.css")
