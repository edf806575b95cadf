"""The import contracts in pyproject.toml hold, and a wrong arrow breaks them (as in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages in `tree`, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the portal, sync and sandbox packages to break."""
    for package in ("portal", "sync", "sandbox"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_the_layers_hold_in_the_tree_as_it_is(tree: Path):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("sync/accounting.py", "import portal.payments.service", "sync (the accounting bridge)"),
        ("portal/billing/models.py", "import sync.service", "models, the outbox and the database"),
        ("portal/payments/service.py", "import portal.payments.views", "domain services never"),
        ("sandbox/qbo/pdf.py", "import portal.formatting", "the sandboxes stand in"),
    ],
)
def test_an_import_against_the_layers_fails_the_lint(
    tree: Path, module: str, wrong_import: str, contract: str
):
    with (tree / module).open("a") as source:
        source.write(f"\n{wrong_import}  # a wrong arrow\n")
    result = lint(tree)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
