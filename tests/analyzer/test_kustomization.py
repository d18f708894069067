"""`-k DIR`: localmesh reads a kustomization's `resources:` as `kubectl apply -k` does, or refuses.

kubectl (a client only: no cluster exists here) renders kustomizations offline with `kubectl kustomize`,
so the shipped sets and the refused layouts are checked against real kustomize.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localmesh.loader import Kustomization, ManifestError, expand_paths, kustomization_files, load_paths

ROOT = Path(__file__).resolve().parents[2]
LOCALMESH = Path(sys.executable).parent / "localmesh"
UNSUPPORTED = ("is not supported: localmesh reads only 'resources' (render it with `kubectl kustomize` and"
               " give the output with -f)")
SHIPPED = sorted(p.parent for root in ("k8s", "istio") for p in (ROOT / root).rglob("kustomization.yaml"))


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("`kubectl` is not installed (a client is enough: kubectl kustomize works offline)")
    return path


def kustomize(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True, timeout=60)


def config_map(name: str, namespace: str = "ns3") -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"


def write(folder: Path, files: dict) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def refusal(folder: Path, files: dict) -> str:
    """The ManifestError that reading the kustomization of folder/set after writing files raises."""
    write(folder, files)
    with pytest.raises(ManifestError) as refused:
        kustomization_files(folder / "set")
    return str(refused.value)


def names(files: list) -> list:
    return [r.name for r in load_paths(files)]


def identity(doc: dict) -> tuple:
    metadata = doc["metadata"]
    return doc["apiVersion"], doc["kind"], metadata.get("namespace", "default"), metadata["name"]


# ---- the shipped kustomizations ---------------------------------------------------------------


def test_the_canary_and_the_shop_are_kustomizations():
    assert {ROOT / "istio" / "ecommerce-istio", ROOT / "istio" / "ads_v2"} <= set(SHIPPED)


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_kubectl_kustomize_renders_the_resources_localmesh_reads(folder):
    result = kustomize(folder)
    assert result.returncode == 0, result.stderr
    rendered = sorted((d for d in yaml.safe_load_all(result.stdout) if d), key=identity)
    read = sorted((r.body for r in load_paths([Kustomization(folder)])), key=identity)
    assert [identity(d) for d in rendered] == [identity(d) for d in read]
    assert rendered == read


# ---- reading -----------------------------------------------------------------------------------


def test_resources_are_read_in_their_listed_order_through_nested_kustomizations(tmp_path):
    write(tmp_path, {
        "base/kustomization.yaml": "resources:\n  - b.yaml\n  - a.yaml\n",
        "base/a.yaml": config_map("a"),
        "base/b.yaml": config_map("b"),
        "set/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                  "resources:\n  - z.yaml\n  - ../base\n  - sub/c.yaml\n",
        "set/z.yaml": config_map("z"),
        "set/sub/c.yaml": config_map("c"),
    })
    files = kustomization_files(tmp_path / "set")
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "set/z.yaml", "base/b.yaml", "base/a.yaml", "set/sub/c.yaml"]
    assert names([Kustomization(tmp_path / "set")]) == ["z", "b", "a", "c"]
    assert kustomize(tmp_path / "set").returncode == 0


def test_minus_k_and_files_keep_the_command_line_order(tmp_path):
    # A later resource with the same name replaces an earlier one, so the order is the meaning.
    write(tmp_path, {"set/kustomization.yaml": "resources:\n  - a.yaml\n", "set/a.yaml": config_map("a"),
                     "b.yaml": config_map("b")})
    sources = [tmp_path / "b.yaml", Kustomization(tmp_path / "set"), tmp_path / "b.yaml"]
    assert names(sources) == ["b", "a", "b"]


# ---- what kustomize refuses, localmesh refuses too ------------------------------------------------

REFUSED_BY_BOTH = {
    "file-outside-the-root": (
        {"set/kustomization.yaml": "resources:\n  - ../shared/a.yaml\n", "shared/a.yaml": config_map("a")},
        "set/kustomization.yaml:2: resources[0] '../shared/a.yaml': outside",
    ),
    "folder-without-kustomization": (
        {"set/kustomization.yaml": "resources:\n  - ../shared\n", "shared/a.yaml": config_map("a")},
        "set/kustomization.yaml:2: resources[0] '../shared': a folder without a kustomization.yaml",
    ),
    "one-id-twice": (
        {"set/kustomization.yaml": "resources:\n  - a.yaml\n  - again.yaml\n", "set/a.yaml": config_map("a"),
         "set/again.yaml": config_map("a")},
        "set/again.yaml:1: ConfigMap ns3/a is already in the kustomization",
    ),
    "missing-file": (
        {"set/kustomization.yaml": "resources:\n  - a.yaml\n  - gone.yaml\n", "set/a.yaml": config_map("a")},
        "set/kustomization.yaml:3: resources[1] 'gone.yaml': no such file or folder",
    ),
    "cycle": (
        {"set/kustomization.yaml": "resources:\n  - ../other\n",
         "other/kustomization.yaml": "resources:\n  - ../set\n"},
        "kustomization.yaml:0: resources: a cycle of kustomizations",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_BY_BOTH))
def test_a_layout_kustomize_refuses_is_refused_with_one_line(case, tmp_path):
    files, expected = REFUSED_BY_BOTH[case]
    message = refusal(tmp_path, files)
    assert kustomize(tmp_path / "set").returncode != 0, "kubectl kustomize accepted it"
    assert "\n" not in message and expected in message.replace(str(tmp_path) + "/", ""), message


@pytest.mark.parametrize("field, value", [
    ("patches", "\n  - path: patch.yaml"),
    ("namePrefix", " canary-"),
    ("namespace", " ns4"),
    ("components", "\n  - ../extra"),
])
def test_other_kustomize_features_are_refused_naming_the_field(field, value, tmp_path):
    # kustomize would change the resources; running them unchanged would differ from the cluster.
    message = refusal(tmp_path, {"set/kustomization.yaml": f"resources:\n  - a.yaml\n{field}:{value}\n",
                                 "set/a.yaml": config_map("a")})
    assert message.endswith(f"kustomization.yaml:3: field {field!r} {UNSUPPORTED}")


@pytest.mark.parametrize("entry", ["https://github.com/example/shop//istio?ref=v1", "github.com/example/x"])
def test_remote_resources_are_refused(entry, tmp_path):
    write(tmp_path, {"set/kustomization.yaml": f"resources:\n  - {entry}\n"})
    with pytest.raises(ManifestError, match="resources\\[0\\] .*: remote resources are not supported"):
        kustomization_files(tmp_path / "set")


# Like the table of refused features above, a table of inputs and the message each ends with:
# alike by shape on purpose.
@pytest.mark.parametrize("text, reason", [
    ("kind: Component\nresources:\n  - a.yaml\n", "kustomization.yaml:1: kind: expected Kustomization"),
    ("resources: a.yaml\n", "kustomization.yaml:1: resources: expected a list of files and folders"),
    ("resources: []\n", "kustomization.yaml:1: resources: expected a list of files and folders"),
    ("- a.yaml\n", "kustomization.yaml:1: a kustomization must be a mapping"),
])
def test_a_malformed_kustomization_is_one_line(text, reason, tmp_path):
    message = refusal(tmp_path, {"set/kustomization.yaml": text, "set/a.yaml": config_map("a")})
    assert message.endswith(reason), message


def test_minus_k_needs_a_folder_with_one_kustomization(tmp_path):
    write(tmp_path, {"plain/a.yaml": config_map("a")})
    with pytest.raises(ManifestError, match="none of kustomization.yaml, kustomization.yml, Kustomization"):
        kustomization_files(tmp_path / "plain")
    with pytest.raises(ManifestError, match="needs a folder"):
        kustomization_files(tmp_path / "plain" / "a.yaml")


def test_a_folder_holding_a_kustomization_is_read_with_minus_k_not_minus_f():
    # kubectl apply -f on such a folder fails on the Kustomization document; localmesh says what to do.
    with pytest.raises(ManifestError) as refused:
        expand_paths([ROOT / "istio" / "ads_v2"])
    assert str(refused.value).endswith("kustomization.yaml:0: a kustomization, not a resource: read "
                                       f"{ROOT / 'istio' / 'ads_v2'} with -k")


# ---- the commands --------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LOCALMESH), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_analyze_reads_minus_k_before_the_files_after_it():
    canary = [str(p.relative_to(ROOT)) for p in kustomization_files(ROOT / "istio" / "ads_v2")]
    shop = kustomization_files(ROOT / "istio" / "ecommerce-istio")
    result = run("analyze", "-k", "istio/ecommerce-istio", "-k", "istio/ads_v2",
                 "istio/scenarios/promote-v2.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].endswith(f"from {len(shop) + len(canary) + 1} files")


# `up` would start Envoy had it accepted the set (testkit.guard cannot tell in advance).
@pytest.mark.parametrize("command", ["analyze", "render", "apply", "delete",
                                     pytest.param("up", marks=pytest.mark.envoy)])
def test_every_manifest_command_takes_minus_k_and_refuses_a_bad_one_in_one_line(command, tmp_path):
    write(tmp_path, {"set/kustomization.yaml": "resources:\n  - a.yaml\nnameSuffix: -x\n",
                     "set/a.yaml": config_map("a")})
    result = run(command, "-k", str(tmp_path / "set"), *(["--state-dir", str(tmp_path)] if command in (
        "apply", "delete", "up") else []))
    assert result.returncode == 2, result.stdout + result.stderr
    where = tmp_path / "set" / "kustomization.yaml"
    assert result.stderr == f"localmesh: {where}:3: field 'nameSuffix' {UNSUPPORTED}\n"


@pytest.mark.parametrize("command", ["analyze", "render", "apply"])
def test_no_manifests_at_all_is_a_usage_error(command, tmp_path):
    result = run(command, *(["--state-dir", str(tmp_path)] if command == "apply" else []))
    assert result.returncode == 2
    assert result.stderr == f"localmesh {command}: no manifests given (files, folders or -k DIR)\n"
