"""The docs site builds with `mkdocs build --strict`, as `make docs` does, and strictness bites.

A broken link, a broken anchor or a page missing from the navigation fails the build; the
analyzer's codes table is generated from the code, so it lists every code and cannot drift.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from testkit.processes import REPO_ROOT, VENV_BIN

from localmesh.analyze.messages import CODES

BUILD_TIMEOUT = 180


def build(config_dir: Path, site_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [str(VENV_BIN / "mkdocs"), "build", "--strict", "--config-file", str(config_dir / "mkdocs.yml"),
         "--site-dir", str(site_dir)],
        cwd=config_dir, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
    )


def test_site_builds_strictly(tmp_path):
    result = build(REPO_ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    analyzer = (tmp_path / "site" / "reference" / "analyzer" / "index.html").read_text(encoding="utf-8")
    listed = re.findall(r"<td>((?:IST|LM)\d{4})</td>", analyzer)
    assert listed == list(CODES), f"the codes table lists {listed}, the analyzer has {list(CODES)}"
    for code in CODES.values():
        assert f"<td>{code.name}</td>" in analyzer, code.name


@pytest.fixture
def site_copy(tmp_path):
    """The site's sources in a folder of their own, to break on purpose."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPO_ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(REPO_ROOT / "docs", copy / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    for included in ("istio", "k8s", "README.md"):  # the pages include manifests and the README's table
        (copy / included).symlink_to(REPO_ROOT / included)
    return copy


BREAKAGES = {
    "a broken link": ("course/canary.md", "\nSee [the missing page](no-such-page.md).\n", "no-such-page.md"),
    "a broken anchor": ("course/canary.md", "\nSee [apply](../reference/localmesh.md#no-such-section).\n",
                        "no-such-section"),
    "the codes table's placeholder gone": ("reference/analyzer.md", None, "analyzer-codes"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_page_fails_the_build(site_copy, tmp_path, breakage):
    page, appended, named = BREAKAGES[breakage]
    path = site_copy / "docs" / page
    text = path.read_text()
    path.write_text(text + appended if appended else text.replace("<!-- analyzer-codes -->", ""))
    result = build(site_copy, tmp_path / "site")
    assert result.returncode != 0, f"the build passed with {breakage}"
    assert named in result.stdout + result.stderr
