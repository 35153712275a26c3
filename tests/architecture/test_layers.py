"""The shape the code keeps (issue 10): rules in one place, layers that import downwards only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ACCESS_MODULES = {"plans/access.py", "workflow/access.py", "plans/roles.py"}


def sources(*apps: str) -> list[Path]:
    return [
        path
        for app in apps
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and "bench" not in path.parts
    ]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_plans_imports_nothing_from_workflow_or_documents() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in {"workflow", "documents"}
        )
        for path in sources("plans")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_audit_imports_neither_workflow_nor_documents() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in {"workflow", "documents"}
        )
        for path in sources("audit")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_permission_and_role_tests_live_only_in_the_access_modules() -> None:
    pattern = re.compile(
        r"has_perm\(|is_superuser|groups__name|\.is_office\b|\.is_director\b|\.is_deputy\b"
        r"|\.is_leadership\b|\.is_auditor\b|\.sees_everything\b|\bOFFICE_REVIEWER\b|\bAUDITOR\b"
    )
    # documents/services.signer_block picks the signature block's title (director or deputy);
    # the organisation's own writes (plans/organisation.py) assign the roles.
    allowed = ACCESS_MODULES | {"plans/organisation.py", "documents/services.py", "plans/forms_setup.py"}
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources("workflow", "plans", "documents", "config", "audit")
        if str(path.relative_to(ROOT)) not in allowed and "management" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_templates_read_capabilities_not_roles_or_permissions() -> None:
    pattern = re.compile(r"roles\.(?!label\b)\w+|user\.is_superuser|perms\.")
    found = [
        f"{path.relative_to(ROOT)}: {match}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in pattern.findall(path.read_text())
    ]
    assert found == []


def test_every_url_that_takes_an_id_takes_an_int() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {match}"
        for path in [*sources("workflow", "plans", "documents", "config")]
        if path.name.endswith("urls.py")
        for match in re.findall(r"<(?!int:)[^>]*>", path.read_text())
    ]
    assert found == []
