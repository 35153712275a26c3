"""`manage.py check --deploy` passes with no warning under the deployment environment.

docs/security.md lists the same variables; a change to either should change both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

# The environment of a deployment behind a TLS-terminating proxy (docs/security.md).
DEPLOY_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3v9-Vq2xZr8Lw5pT0yH7nB4mC1sD6fG9jK2lQ5wE8rT1yU4iO7pA0sD3fG6hJ9kL",
    "ALLOWED_HOSTS": "cchc.sct.example.vn",
    "CSRF_TRUSTED_ORIGINS": "https://cchc.sct.example.vn",
    "SECURE_COOKIES": "1",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "BEHIND_TLS_PROXY": "1",
    "AUDIT_HMAC_KEY": "5f0c8e2a9b7d4c1e6a3f8b2d7e4c9a1f0b5d8e3c6a9f2b7d4e1c8a5f3b0d6e9c",
}


def run_check(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The settings on their own (SQLite in tmp_path): the database role the app runs as is
    # checked too (workflow/checks.py), and the test databases' role is a superuser.
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in DEPLOY_ENV and not k.startswith("SECURE_") and k != "DATABASE_URL"
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={**base, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_has_no_warning_with_the_deployment_env(tmp_path: Any) -> None:
    result = run_check(DEPLOY_ENV, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""


def test_check_deploy_warns_without_it(tmp_path: Any) -> None:
    # The same with only DEBUG off and a strong key: the TLS settings are reported missing
    result = run_check({"DEBUG": "0", "SECRET_KEY": DEPLOY_ENV["SECRET_KEY"]}, tmp_path)
    assert result.returncode == 1
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in result.stderr, code


def test_deploy_check_runs_gunicorn_with_exactly_the_documented_environment() -> None:
    # make deploy-check reads docs/security.md's block; it must be the environment checked here
    from scripts.deploy_check import deployment_env

    documented = deployment_env()
    assert set(documented) == set(DEPLOY_ENV)
    secrets_made_fresh = {"SECRET_KEY", "AUDIT_HMAC_KEY"}  # placeholders in the document
    assert {k: v for k, v in documented.items() if k not in secrets_made_fresh} == {
        k: v for k, v in DEPLOY_ENV.items() if k not in secrets_made_fresh
    }
    assert len(documented["SECRET_KEY"]) >= 50
    assert len(documented["AUDIT_HMAC_KEY"]) == 64
