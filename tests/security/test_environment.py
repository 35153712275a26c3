"""The environment the settings read: strict yes/no values, and every variable documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("False", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("CCHC_TEST_FLAG", raw)
    assert env_bool("CCHC_TEST_FLAG", default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_or_empty_is_the_default(monkeypatch: pytest.MonkeyPatch, default: bool) -> None:
    monkeypatch.delenv("CCHC_TEST_FLAG", raising=False)
    assert env_bool("CCHC_TEST_FLAG", default=default) is default
    monkeypatch.setenv("CCHC_TEST_FLAG", "")
    assert env_bool("CCHC_TEST_FLAG", default=default) is default


@pytest.mark.parametrize("typo", ["ture", "Flase", "2", "y", "enabled"])
def test_env_bool_refuses_a_typo_and_names_the_variable(monkeypatch: pytest.MonkeyPatch, typo: str) -> None:
    monkeypatch.setenv("SECURE_COOKIES", typo)
    with pytest.raises(ImproperlyConfigured, match=rf"SECURE_COOKIES='{typo}'"):
        env_bool("SECURE_COOKIES")


def test_env_example_lists_every_variable_the_settings_read() -> None:
    sources = [*sorted((ROOT / "config").glob("*.py")), ROOT / "documents" / "conf.py"]
    pattern = re.compile(
        r"""(?:os\.environ(?:\.get)?[\[(]|env_bool\(|env_list\()\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    read = {name for path in sources for name in pattern.findall(path.read_text())}
    read -= {"DJANGO_SETTINGS_MODULE"}
    listed = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert len(read) > 20
    assert sorted(read - listed) == []
