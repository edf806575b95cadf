"""Whether the fonts the PDFs name are installed: CI fails without them, elsewhere tests skip."""

from __future__ import annotations

import os
import subprocess

import pytest

from portal.invoices.pdf import FONT_FAMILIES


def missing_fonts() -> list[str]:
    """The print CSS's font families that fontconfig does not know."""
    try:
        listed = subprocess.run(
            ["fc-list", ":", "family"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return list(FONT_FAMILIES)
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    return [family for family in FONT_FAMILIES if family not in families]


def require_fonts() -> None:
    """Fail in CI, skip elsewhere, when a PDF font is missing (as the browser tests do)."""
    missing = missing_fonts()
    if not missing:
        return
    reason = (
        f"fonts missing: {', '.join(missing)} (`make fonts`, run by `make test`, installs "
        "Debian's fonts-dejavu-core and fonts-droid-fallback)"
    )
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)
