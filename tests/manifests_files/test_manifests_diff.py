"""`diff -u` of the two advertisements Deployments shows only the name, image and version lines."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess

import pytest

from manifests_files.manifests import REPO, one

V1 = "istio/ecommerce-istio/advertisements.yaml"
V2 = "istio/ads_v2/advertisements_v2.yaml"

# A changed line may only be one of these (the workshop text explains each of them).
ALLOWED = [
    ("name", re.compile(r"^  name: advertisements(-v2)?$")),  # metadata.name, 2 spaces deep only
    ("image", re.compile(r"^ +image: ecommerce/advertisements:[12]\.0$")),
    ("version", re.compile(r"^ +version: v[12]$")),
    ("version", re.compile(r'^ +app\.kubernetes\.io/version: "[12]\.0"$')),
    ("version", re.compile(r'^ +tags\.datadoghq\.com/version: "[12]\.0"$')),
    ("version", re.compile(r'^ +- name: DD_VERSION$|^ +value: "[12]\.0"$')),
]


def unified_diff(old, new):
    if shutil.which("diff") is None:
        pytest.skip("`diff` (diffutils) is not installed")
    result = subprocess.run(["diff", "-u", old, new], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def changed_lines(diff_text):
    """(sign, text) of every removed/added line, from real `diff -u` output."""
    lines = diff_text.splitlines()
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ "), "not unified diff output"
    changes, in_hunk = [], False
    for line in lines[2:]:
        if line.startswith("@@ "):
            assert re.match(r"^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", line), line
            in_hunk = True
            continue
        assert in_hunk, f"text outside a hunk: {line!r}"
        if line[:1] in "+-":
            changes.append((line[0], line[1:]))
        else:
            assert line[:1] in (" ", "\\"), f"unexpected diff line: {line!r}"
    return changes


def classify(text):
    for kind, pattern in ALLOWED:
        if pattern.match(text):
            return kind
    return None


def test_diff_changes_only_name_image_and_version_lines():
    changes = changed_lines(unified_diff(V1, V2))
    unexpected = [f"{sign}{text}" for sign, text in changes if classify(text) is None]
    assert not unexpected, "lines that are not about name, image or version:\n" + "\n".join(unexpected)
    kinds = {classify(text) for _, text in changes}
    assert kinds == {"name", "image", "version"}, f"the step must change all three; changed: {kinds}"
    removed = [text for sign, text in changes if sign == "-"]
    added = [text for sign, text in changes if sign == "+"]
    assert len(removed) == len(added), "every changed line is a one-for-one replacement"
    assert "  name: advertisements" in removed and "  name: advertisements-v2" in added
    assert any(t.endswith("ecommerce/advertisements:2.0") for t in added)
    for text in added:
        assert not re.search(r"v1|1\.0", text), f"an added line still says version 1: {text!r}"


def test_dd_version_follows_the_label_so_its_line_stays_the_same():
    # DD_VERSION is a fieldRef to tags.datadoghq.com/version: the label change carries it.
    deployments = [one(path, "Deployment") for path in (V1, V2)]
    refs = []
    for doc in deployments:
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        (item,) = [e for e in container["env"] if e["name"] == "DD_VERSION"]
        refs.append(item["valueFrom"]["fieldRef"]["fieldPath"])
    assert refs == ["metadata.labels['tags.datadoghq.com/version']"] * 2


def normalise(doc):
    """The Deployment with exactly the fields the step is about blanked out."""
    doc = copy.deepcopy(doc)
    doc["metadata"]["name"] = "NAME"
    for labels in (
        doc["metadata"]["labels"],
        doc["spec"]["selector"]["matchLabels"],
        doc["spec"]["template"]["metadata"]["labels"],
    ):
        for key in ("version", "app.kubernetes.io/version", "tags.datadoghq.com/version"):
            if key in labels:
                labels[key] = "VERSION"
    for container in doc["spec"]["template"]["spec"]["containers"]:
        container["image"] = container["image"].rsplit(":", 1)[0] + ":TAG"
    return doc


@pytest.mark.parametrize(
    "v1, v2", [(V1, V2), ("k8s/advertisements.yaml", "k8s/service-networking/advertisements-v2.yaml")]
)
def test_parsed_deployments_differ_only_in_name_image_and_version(v1, v2):
    first, second = one(v1, "Deployment"), one(v2, "Deployment")
    assert first["metadata"]["name"] == "advertisements" and second["metadata"]["name"] == "advertisements-v2"
    assert normalise(first) == normalise(second)


def test_the_diff_check_catches_an_extra_change(tmp_path):
    # Proves the diff test can fail: a v2 copy whose replica count also changed.
    text = (REPO / V2).read_text(encoding="utf-8").replace("replicas: 1", "replicas: 2")
    broken = tmp_path / "advertisements_v2.yaml"
    broken.write_text(text, encoding="utf-8")
    changes = changed_lines(unified_diff(str(REPO / V1), str(broken)))
    assert [text for _, text in changes if classify(text) is None] == ["  replicas: 1", "  replicas: 2"]
