"""Every theme's colour pairs meet WCAG AA: 4.5:1 for text, 3:1 for the focus ring."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.branding import DEFAULT_COLOUR, contrast

STATIC = Path(__file__).resolve().parents[2] / "portal" / "static"
NAMES = ("bg", "surface", "ink", "muted", "line", "brand", "brand-ink", "bad", "ok", "focus")

# (foreground, background, minimum): text on the page, on cards and on badges; white or
# dark text on brand buttons; the focus ring against what it surrounds.
PAIRS = [
    *(
        (text, ground, 4.5)
        for text in ("ink", "muted", "brand", "bad", "ok")
        for ground in ("bg", "surface")
    ),
    ("ink", "badge-bg", 4.5),
    ("brand-ink", "brand", 4.5),
    ("focus", "bg", 3.0),
    ("focus", "surface", 3.0),
]


def palette(css: str, selector: str) -> dict[str, str]:
    """The custom properties declared in the first rule for `selector`."""
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert match, f"no rule for {selector}"
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\b", match.group(1)))


def themes() -> dict[str, dict[str, str]]:
    css = (STATIC / "themes.css").read_text()
    auto = css.split("@media (prefers-color-scheme: dark)", 1)[1]
    return {
        "dark": palette(css, "html[data-theme=dark]"),
        "auto-dark": palette(auto, "html[data-theme=auto]"),
        "contrast": palette(css, "html[data-theme=contrast]"),
    }


def light() -> dict[str, str]:
    """portal.css's own palette (with what it has not declared as it draws today)."""
    declared = palette((STATIC / "portal.css").read_text(), ":root")
    defaults = {"surface": "#ffffff", "brand-ink": "#ffffff", "badge-bg": "#eef4fb"}
    defaults["brand"] = DEFAULT_COLOUR
    return {**defaults, **{k: v for k, v in declared.items() if k != "brand"}}


def test_dark_follows_the_device_the_same_way_it_is_chosen():
    found = themes()
    assert found["dark"] == found["auto-dark"]


@pytest.mark.parametrize("theme", ["dark", "contrast"])
def test_the_dark_themes_declare_every_colour(theme):
    assert set(NAMES) | {"badge-bg"} <= set(themes()[theme])


@pytest.mark.parametrize("theme", ["light", "dark", "contrast"])
def test_every_text_pair_of_a_theme_meets_wcag_aa(theme):
    colours = light() if theme == "light" else themes()[theme]
    failing = [
        f"{fg} on {bg}: {contrast(colours[fg], colours[bg]):.2f}:1 < {least}"
        for fg, bg, least in PAIRS
        if fg in colours and bg in colours and contrast(colours[fg], colours[bg]) < least
    ]
    assert not failing, failing


def test_text_sizes_grow_from_the_root():
    css = (STATIC / "themes.css").read_text()
    sizes = dict(re.findall(r"html\[data-text=(\w+)\] \{ font-size: ([\d.]+%); \}", css))
    assert sizes == {"normal": "100%", "large": "118.75%", "larger": "137.5%"}
