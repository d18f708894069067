"""Debian's headless Chromium driven by Playwright: the one way the suite opens a real browser.

Playwright is told where Debian's /usr/bin/chromium is; it never downloads a browser of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from testkit.processes import REPO_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Screenshots a person can look at after a run (git-ignored).
ARTIFACTS = REPO_ROOT / "test-artifacts"


@contextmanager
def launch_chromium() -> Iterator:
    """A running headless Chromium (a playwright Browser) until the block ends.

    Skips when Debian's package is missing; under REQUIRE_ALL_TOOLS=1 (CI) that skip fails the run.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip("headless Chromium is missing: install the Debian package chromium "
                    "(apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
