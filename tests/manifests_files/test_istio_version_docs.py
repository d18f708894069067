"""Every "Istio 1.NN" / "istioctl 1.NN" in the documentation names the release the project targets."""

from __future__ import annotations

import re
from pathlib import Path

from localmesh.versions import ISTIO_MINOR, ISTIO_VERSION
from manifests_files.manifests import REPO

# "Istio 1.29", "**Istio 1.29.6**", "`istioctl` 1.29", across a line break.
ISTIO_VERSION_MENTION = re.compile(r"\bistio(?:ctl)?[`*]*\s+[`*]*v?(\d+\.\d+)(\.\d+)?", re.IGNORECASE)


def documents() -> list[Path]:
    docs = REPO / "docs"
    return [REPO / "README.md", *(sorted(docs.rglob("*.md")) if docs.is_dir() else [])]


def wrong_mentions(text: str) -> list[str]:
    """Each mention whose minor release (or full version, when it has a patch) is not the project's."""
    wrong = []
    for match in ISTIO_VERSION_MENTION.finditer(text):
        minor, patch = match.group(1), match.group(2)
        if minor != ISTIO_MINOR or (patch and minor + patch != ISTIO_VERSION):
            line = text.count("\n", 0, match.start()) + 1
            wrong.append(f"line {line}: {' '.join(match.group(0).split())}")
    return wrong


def test_the_docs_name_only_the_projects_istio_release():
    for path in documents():
        text = path.read_text(encoding="utf-8")
        assert wrong_mentions(text) == [], path.relative_to(REPO).as_posix()


def test_the_readme_states_the_istioctl_release_to_install():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ISTIO_VERSION_MENTION.search(readme) is not None
    assert re.search(rf"`istioctl` {re.escape(ISTIO_MINOR)} ", readme)


def test_a_stale_mention_is_found():
    # Proves the check above can fail: the forms the docs use, with other releases.
    major, minor = ISTIO_MINOR.split(".")
    older = f"{major}.{int(minor) - 7}"
    text = (
        f"`istioctl` (Istio {older} or\nnewer), **Istio {ISTIO_MINOR}.0**, `istioctl` {older}, "
        f"istioctl {ISTIO_VERSION}, Istio {ISTIO_MINOR}"
    )
    assert wrong_mentions(text) == [
        f"line 1: Istio {older}",
        f"line 2: Istio {ISTIO_MINOR}.0",
        f"line 2: istioctl` {older}",
    ]
