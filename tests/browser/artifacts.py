"""Where the browser suite leaves what a person looks at afterwards (screenshots, reports):
$PORTAL_ARTIFACTS, or test-artifacts/ at the top of the repository (git ignores it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]


def folder() -> Path:
    path = Path(os.environ.get("PORTAL_ARTIFACTS") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG named after `name` (lower case, dashes)."""
    path = folder() / (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + ".png")
    page.screenshot(path=str(path), full_page=True)
    return path
