"""MkDocs hook: the analyzer's table of codes, generated from the code at build time.

A page asks for it with the line ``<!-- analyzer-codes -->``; the table comes from
``localmesh.analyze.messages.CODES``, so the site can never list a code the analyzer lacks.
"""

from __future__ import annotations

from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

from localmesh.analyze.messages import codes_table

PLACEHOLDER = "<!-- analyzer-codes -->"
PAGE = "reference/analyzer.md"


def on_page_markdown(markdown: str, page: Page, **_: object) -> str:
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, codes_table())
    if page.file.src_uri == PAGE:
        raise PluginError(f"{PAGE} lost its {PLACEHOLDER} line: the codes table has nowhere to go")
    return markdown
