"""The README and docs/ stay readable and linked: every relative link points at a file of the repository (no
anchors, which rot silently), the README links nowhere outside the repository, and it stays short enough to read
in five minutes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_BYTES = 8 * 1024

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
# [text](target "title") and ![alt](target), then reference definitions [label]: target
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'(][^)]*)?\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
HTML_LINK = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]*)>", re.IGNORECASE)
BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s)>\]]+", re.IGNORECASE)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(text: str) -> str:
    """The text a reader sees as prose: code blocks and inline code removed (URLs there are shown, not linked)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def link_targets(text: str) -> list[str]:
    body = prose(text)
    targets = INLINE_LINK.findall(body) + REFERENCE.findall(body) + HTML_LINK.findall(body)
    return [*targets, *AUTOLINK.findall(body)]


def relative(target: str) -> bool:
    return not SCHEME.match(target) and not target.startswith("//")


def test_the_pages_and_their_links_are_found():
    assert README.exists() and (ROOT / "docs" / "README.md") in PAGES
    assert "docs/README.md" in link_targets(README.read_text())
    assert link_targets("see [the docs](docs/api.md) and ![x](a.png), not `[code](x.md)`") == ["docs/api.md", "a.png"]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_of_the_repository_without_an_anchor(page):
    problems = []
    for target in link_targets(page.read_text()):
        if not relative(target):
            continue
        if not target or "#" in target or "?" in target:
            problems.append(f"{target!r}: link a file, without an anchor or a query")
            continue
        resolved = (ROOT / target.lstrip("/")) if target.startswith("/") else (page.parent / target)
        resolved = resolved.resolve()
        if resolved != ROOT and ROOT not in resolved.parents:
            problems.append(f"{target!r}: outside the repository")
        elif not resolved.is_file():
            problems.append(f"{target!r}: no such file")
    assert problems == [], f"{page.relative_to(ROOT)}: {problems}"


def test_the_readme_links_nowhere_outside_the_repository():
    text = README.read_text()
    outside = [target for target in link_targets(text) if not relative(target)]
    outside += BARE_URL.findall(prose(text))
    assert outside == [], f"README.md links outside the repository (show local URLs as code): {outside}"


def test_the_readme_is_read_in_five_minutes():
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes; move the details into docs/"
