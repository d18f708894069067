"""Read manifest files into resources that remember where each field was written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

PathLike = Union[str, Path]
FieldPath = tuple  # keys and list indexes from the document root, e.g. ("spec", "http", 0)

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
    explicit_namespace: bool = True

    @property
    def key(self) -> tuple:
        return (self.kind, self.namespace, self.name)

    @property
    def group(self) -> str:
        return self.api_version.split("/")[0] if "/" in self.api_version else ""

    @property
    def spec(self) -> dict:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

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


def expand_paths(paths: Iterable[PathLike]) -> list[Path]:
    """Files as given, and every *.yaml/*.yml below a folder, in sorted order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in MANIFEST_SUFFIXES)
            if not found:
                raise ManifestError(path, 0, "folder holds no .yaml or .yml files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(path, 0, "no such file or folder")
    return files


def load_paths(paths: Iterable[PathLike]) -> list[Resource]:
    """Every resource in the given files and folders, in file order."""
    resources: list[Resource] = []
    for path in expand_paths(paths):
        resources.extend(load_file(path))
    return resources


def load_file(path: PathLike) -> list[Resource]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(path, 0, f"cannot read: {error}") from None
    return load_text(text, str(path))


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
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        raise ManifestError(path, line, f"invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise ManifestError(path, 0, f"invalid YAML: {error}") from None
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
    explicit = isinstance(namespace, str) and bool(namespace)
    return Resource(
        api_version=data["apiVersion"],
        kind=data["kind"],
        name=metadata["name"],
        namespace=namespace if explicit else "default",
        body=data,
        source=Source(path, line),
        lines=lines,
        duplicate_keys=duplicates,
        explicit_namespace=explicit,
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
