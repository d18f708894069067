"""The README stays a short front page whose facts hold: its make targets are the Makefile's, and its
links into docs/ reach a page and a heading (relative links, so they work on GitHub too)."""

from __future__ import annotations

import re

from markdown.extensions.toc import slugify
from testkit.processes import REPO_ROOT

README = REPO_ROOT / "README.md"
MAX_LINES = 150
# The Makefile's own help: `make help` lists the targets whose line carries a "## " text.
HELP_TARGET = re.compile(r"^([a-z][a-z-]*):.*## ", re.MULTILINE)
TABLE_ROW = re.compile(r"^\| `make ([a-z][a-z-]*)[^`]*` \|", re.MULTILINE)
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+?)\s*$", re.MULTILINE)


def readme() -> str:
    return README.read_text(encoding="utf-8")


def make_targets_table(text: str) -> str:
    start, end = "<!-- --8<-- [start:make-targets] -->", "<!-- --8<-- [end:make-targets] -->"
    assert start in text and end in text, "the README's make targets table lost its snippet markers"
    return text[text.index(start):text.index(end)]


def test_the_readme_is_short():
    lines = readme().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; the rest belongs in docs/"


def test_the_make_targets_table_lists_every_target_make_help_lists():
    documented = TABLE_ROW.findall(make_targets_table(readme()))
    helped = HELP_TARGET.findall((REPO_ROOT / "Makefile").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), f"a target has two rows: {sorted(documented)}"
    assert sorted(set(helped) - set(documented)) == [], "targets with a ## help but no README row"
    assert sorted(set(documented) - set(helped)) == [], "README rows for targets without a ## help"


def test_the_table_check_sees_a_missing_or_extra_row():
    table = "| `make run` | x |\n| `make traffic DURATION=1` | y |\n| `make gone` | z |\n"
    assert TABLE_ROW.findall(table) == ["run", "traffic", "gone"]
    makefile = "run: $(STAMP) ## Run it\ntraffic: ## Customers\ninternal: $(STAMP)\n"
    assert HELP_TARGET.findall(makefile) == ["run", "traffic"]


def headings_slugs(markdown: str) -> set:
    without_code = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    return {slugify(re.sub(r"[`*]", "", title), "-") for title in HEADING.findall(without_code)}


def test_links_into_docs_reach_a_page_and_its_heading():
    links = [link for link in MARKDOWN_LINK.findall(readme()) if "://" not in link]
    assert any(link.startswith("docs/course/") for link in links), "the README links to no course page"
    assert any(link.startswith("docs/reference/") for link in links), "the README links to no reference page"
    for link in links:
        path, _, anchor = link.partition("#")
        target = REPO_ROOT / path
        assert target.is_file(), f"README.md links to {link}: no such file"
        if anchor:
            slugs = headings_slugs(target.read_text(encoding="utf-8"))
            assert anchor in slugs, f"README.md links to {link}: no such heading in {path}"


def test_every_reference_page_is_linked():
    linked = set(MARKDOWN_LINK.findall(readme()))
    for page in sorted((REPO_ROOT / "docs").glob("*/*.md")):
        relative = page.relative_to(REPO_ROOT).as_posix()
        assert relative in linked, f"README.md does not link to {relative}"
