"""Read manifest files into resources that remember where each field was written."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from localmesh.fields import as_dict

PathLike = Union[str, Path]

ResourceKey = tuple[str, str, str]  # (kind, namespace, name)

MANIFEST_SUFFIXES = (".yaml", ".yml")


class ManifestError(Exception):
    """A problem in a manifest, reported as one line: file:line: reason."""

    def __init__(self, path: PathLike, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = str(path)
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Source:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Resource:
    """One YAML document with a kind, plus the line of every field in it."""

    api_version: str
    kind: str
    name: str
    namespace: str
    body: dict
    source: Source
    lines: dict = field(default_factory=dict, repr=False)
    duplicate_keys: list = field(default_factory=list, repr=False)

    @property
    def key(self) -> ResourceKey:
        return (self.kind, self.namespace, self.name)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def spec(self) -> dict:
        return as_dict(self.body.get("spec"))

    def line_of(self, *path: Any) -> int:
        """Line of the deepest written part of path (a missing field points at its parent)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.source.line

    def source_of(self, *path: Any) -> Source:
        return Source(self.source.path, self.line_of(*path))

    def describe(self) -> str:
        """Resource and place as istioctl prints them: 'VirtualService ns3/name file:line'."""
        return f"{self.kind} {self.namespace}/{self.name} {self.source}"


def latest_by_key(resources: Iterable[Resource]) -> dict[ResourceKey, Resource]:
    """The resources as a cluster holds them after `kubectl apply` of each in turn: a later
    resource with the same kind/namespace/name replaces the earlier one and takes its place, as
    an update keeps its creationTimestamp. The order is creation order, which istiod uses to
    merge DestinationRules and to pick among VirtualServices."""
    latest: dict[ResourceKey, Resource] = {}
    for resource in resources:
        latest[resource.key] = resource
    return latest


@dataclass(frozen=True)
class Kustomization:
    """A folder given with -k: the files its kustomization.yaml lists under `resources:`."""

    folder: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))


# What a command names to read: a file, a folder of files, or (-k) a kustomization's folder.
ManifestSource = Union[PathLike, Kustomization]


def expand_paths(paths: Iterable[ManifestSource]) -> list[Path]:
    """Files as given, every *.yaml/*.yml below a folder in sorted order, a Kustomization's resources."""
    files: list[Path] = []
    for raw in paths:
        if isinstance(raw, Kustomization):
            files.extend(kustomization_files(raw.folder))
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
            if not found:
                raise ManifestError(path, 0, "folder holds no .yaml or .yml files")
            for file in found:
                if file.name in KUSTOMIZATION_FILES:
                    reason = f"a kustomization, not a resource: read {file.parent} with -k"
                    raise ManifestError(file, 0, reason)
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(path, 0, "no such file or folder")
    return files


# The names kustomize looks for in a folder, in its order.
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_KUSTOMIZATION_TYPE = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


def kustomization_files(folder: PathLike) -> list[Path]:
    """The files of `kubectl apply -k folder`, in the order its `resources:` lists them.

    Only `resources:` is read: local files, and folders that have their own kustomization. As in
    kustomize, a file must be in or below the kustomization's folder, and one resource id (apiVersion,
    kind, namespace, name) may appear once. Any other kustomize field is refused: localmesh would
    otherwise run something other than what the cluster gets.
    """
    files = _kustomization_files(Path(folder), ())
    seen: dict = {}
    for path in files:
        for resource in load_file(path):
            key = (resource.api_version, resource.kind, resource.namespace, resource.name)
            if key in seen:
                reason = (f"{resource.kind} {resource.namespace}/{resource.name} is already in the"
                          f" kustomization ({seen[key]}); kustomize refuses two resources with one id")
                raise ManifestError(path, resource.source.line, reason)
            seen[key] = resource.source
    return files


def _kustomization_files(folder: Path, parents: tuple) -> list[Path]:
    if not folder.is_dir():
        raise ManifestError(folder, 0, "-k needs a folder holding a kustomization.yaml")
    candidates = [folder / name for name in KUSTOMIZATION_FILES if (folder / name).is_file()]
    if len(candidates) != 1:
        reason = "more than one of" if candidates else "none of"
        raise ManifestError(folder, 0, f"{reason} {', '.join(KUSTOMIZATION_FILES)} in this folder")
    (file,) = candidates
    root = folder.resolve()
    if root in parents:
        raise ManifestError(file, 0, "resources: a cycle of kustomizations comes back to this folder")
    try:
        node = yaml.compose(_read(file), Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise _invalid_yaml(file, error) from None
    if not isinstance(node, yaml.MappingNode):
        raise ManifestError(file, 1, "a kustomization must be a mapping")
    resources = None
    for key, value in node.value:
        line = key.start_mark.line + 1
        name = key.value if isinstance(key, yaml.ScalarNode) else "?"
        if name in _KUSTOMIZATION_TYPE:
            if not isinstance(value, yaml.ScalarNode) or value.value != _KUSTOMIZATION_TYPE[name]:
                raise ManifestError(file, line, f"{name}: expected {_KUSTOMIZATION_TYPE[name]}")
        elif name == "resources":
            resources = value
        else:
            reason = (f"field {name!r} is not supported: localmesh reads only 'resources' (render it with"
                      " `kubectl kustomize` and give the output with -f)")
            raise ManifestError(file, line, reason)
    if not isinstance(resources, yaml.SequenceNode) or not resources.value:
        line = resources.start_mark.line + 1 if resources is not None else 1
        raise ManifestError(file, line, "resources: expected a list of files and folders")
    files: list[Path] = []
    for index, item in enumerate(resources.value):
        line = item.start_mark.line + 1
        entry = item.value if isinstance(item, yaml.ScalarNode) else ""
        where = f"resources[{index}] {entry!r}"
        if not entry:
            raise ManifestError(file, line, f"resources[{index}]: expected a relative path")
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            raise ManifestError(file, line, f"{where}: remote resources are not supported")
        target = Path(os.path.normpath(folder / entry))  # istio/ecommerce-istio, not istio/ads_v2/../shop
        if target.is_dir():
            if not any((target / name).is_file() for name in KUSTOMIZATION_FILES):
                raise ManifestError(file, line, f"{where}: a folder without a kustomization.yaml; kustomize"
                                    " reads a folder only through its own kustomization")
            files.extend(_kustomization_files(target, (*parents, root)))
        elif target.is_file():
            if not target.resolve().is_relative_to(root):
                reason = (f"{where}: outside {folder}; kustomize loads a file only in or below the"
                          " kustomization's folder (give its folder a kustomization.yaml)")
                raise ManifestError(file, line, reason)
            files.append(target)
        else:
            raise ManifestError(file, line, f"{where}: no such file or folder")
    return files


def load_paths(paths: Iterable[ManifestSource]) -> list[Resource]:
    """Every resource in the given files, folders and kustomizations, in file order."""
    resources: list[Resource] = []
    for path in expand_paths(paths):
        resources.extend(load_file(path))
    return resources


def load_file(path: PathLike) -> list[Resource]:
    return load_text(_read(path), str(path))


def _read(path: PathLike) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(path, 0, f"cannot read: {error}") from None


def _invalid_yaml(path: PathLike, error: yaml.YAMLError) -> ManifestError:
    """One line at the place PyYAML points to, when it points to one."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        reason = f"invalid YAML: {error.problem or error.context}"
        return ManifestError(path, mark.line + 1 if mark else 0, reason)
    return ManifestError(path, 0, f"invalid YAML: {error}")


def load_text(text: str, path: str = "<text>") -> list[Resource]:
    loader = yaml.SafeLoader(text)
    resources = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            resources.append(_resource(data, node, path))
    except yaml.YAMLError as error:
        raise _invalid_yaml(path, error) from None
    finally:
        loader.dispose()
    return resources


def _resource(data: Any, node: yaml.Node, path: str) -> Resource:
    line = node.start_mark.line + 1
    if not isinstance(data, dict):
        raise ManifestError(path, line, f"a manifest must be a mapping, not a {type(data).__name__}")
    lines: dict = {}
    duplicates: list = []
    _record_lines(node, (), lines, duplicates)
    for required in ("apiVersion", "kind"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ManifestError(path, line, f"missing field {required!r}")
    metadata = data.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        where = lines.get(("metadata",), line)
        raise ManifestError(path, where, f"{data['kind']}: missing field 'metadata.name'")
    namespace = metadata.get("namespace")
    return Resource(
        api_version=data["apiVersion"],
        kind=data["kind"],
        name=metadata["name"],
        namespace=namespace if isinstance(namespace, str) and namespace else "default",
        body=data,
        source=Source(path, line),
        lines=lines,
        duplicate_keys=duplicates,
    )


def _record_lines(node: yaml.Node, prefix: tuple, lines: dict, duplicates: list) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            path = prefix + (key,)
            if key in seen:
                duplicates.append((path, key_node.start_mark.line + 1))
            seen.add(key)
            lines[path] = key_node.start_mark.line + 1
            _record_lines(value_node, path, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = prefix + (index,)
            lines[path] = item.start_mark.line + 1
            _record_lines(item, path, lines, duplicates)
