"""Istio's CRD schemas: the openAPIV3Schema of every Istio kind and version, read from the package
data file `istio-crd-schemas.json`, made strict the way the API server applies them.

The data file is extracted from Istio's own CRD file (crd-all.gen.yaml of the release named by
localmesh.versions.ISTIO_VERSION) and records that version and its source path. Regenerate it with

    python -m localmesh.analyze.istio_schemas CRD_FILE SOURCE > localmesh/analyze/istio-crd-schemas.json

Strictness: kubectl >= 1.25 sends fieldValidation=Strict, so the API server refuses a field that
the structural schema does not declare, except below `x-kubernetes-preserve-unknown-fields: true`.
`nullable` does not matter here: null values are dropped before validation (the API server prunes
them). CEL rules (`x-kubernetes-validations`) stay in the data but are not evaluated: no CEL
interpreter is used, so what only a CEL rule refuses is accepted here.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any, Optional

DATA_FILE = Path(__file__).with_name("istio-crd-schemas.json")
# Only these schema keywords carry no validation: dropped from the data to keep it small.
_DOCUMENTATION_KEYS = ("description",)


@cache
def _data() -> dict:
    with DATA_FILE.open(encoding="utf-8") as stream:
        return json.load(stream)


def recorded_version() -> str:
    """The Istio release whose CRDs the data file holds."""
    return _data()["istioVersion"]


def recorded_source() -> str:
    """Where the data file's schemas were extracted from: Istio's CRD file at its release tag."""
    return _data()["source"]


def known_kinds() -> set:
    """(group, kind) of every kind the Istio CRDs define, in any version."""
    found = set()
    for api_kind in _data()["kinds"]:
        api_version, kind = api_kind.rsplit("/", 1)
        found.add((api_version.split("/")[0], kind))
    return found


def groups() -> set:
    return {group for group, _kind in known_kinds()}


@cache
def strict_schema(api_version: str, kind: str) -> Optional[dict]:
    """The strict JSON schema of one served Istio apiVersion and kind (None if the CRDs have none).
    The top level also accepts apiVersion, kind and metadata, which every object has."""
    index = _data()["kinds"].get(f"{api_version}/{kind}")
    if index is None:
        return None
    schema = _strict(_data()["schemas"][index])
    properties = dict(schema.get("properties", {}))
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties.setdefault("metadata", {"type": "object"})
    return {**schema, "properties": properties}


def _strict(node: Any) -> Any:
    """An object that declares its fields and does not preserve unknown ones accepts no others."""
    strict = _map_subschemas(node, _strict)
    structural_object = node.get("type") == "object" or "properties" in node
    if (
        structural_object
        and not node.get("x-kubernetes-preserve-unknown-fields")
        and "additionalProperties" not in node
    ):
        strict["additionalProperties"] = False
    return strict


# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SUBSCHEMA = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")


def _map_subschemas(node: dict, function: Any) -> dict:
    """A copy of the schema node with function applied to each of its direct subschemas
    (property names are names, never keywords)."""
    mapped = dict(node)
    for key in _SUBSCHEMA:
        if isinstance(node.get(key), dict):
            mapped[key] = function(node[key])
    for key in _SUBSCHEMA_LISTS:
        if isinstance(node.get(key), list):
            mapped[key] = [function(item) for item in node[key]]
    for key in _SUBSCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            mapped[key] = {name: function(item) for name, item in node[key].items()}
    return mapped


# ---- Extraction from Istio's CRD file ---------------------------------------------------


def extract(crd_documents: list, istio_version: str, source: str) -> dict:
    """The data file's content from the documents of Istio's CRD YAML: every served version's
    openAPIV3Schema without descriptions, each distinct schema stored once."""
    schemas: list = []
    kinds: dict = {}
    for crd in crd_documents:
        if not isinstance(crd, dict) or crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        for version in spec.get("versions", []):
            if not version.get("served", False):
                continue
            schema = _without_documentation(version["schema"]["openAPIV3Schema"])
            if schema not in schemas:
                schemas.append(schema)
            kinds[f"{spec['group']}/{version['name']}/{spec['names']['kind']}"] = schemas.index(schema)
    return {
        "istioVersion": istio_version,
        "source": source,
        "leftOut": "descriptions (documentation only); CEL x-kubernetes-validations are kept but not"
                   " evaluated",
        "kinds": dict(sorted(kinds.items())),
        "schemas": schemas,
    }


def _without_documentation(node: dict) -> dict:
    mapped = _map_subschemas(node, _without_documentation)
    return {key: value for key, value in mapped.items() if key not in _DOCUMENTATION_KEYS}


def main(argv: list) -> int:
    """Print the data file for a CRD YAML file: CRD_FILE SOURCE."""
    import yaml

    from localmesh.versions import ISTIO_VERSION

    if len(argv) != 2:
        print("usage: python -m localmesh.analyze.istio_schemas CRD_FILE SOURCE",
              file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as stream:
        documents = list(yaml.safe_load_all(stream))
    json.dump(extract(documents, ISTIO_VERSION, argv[1]), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
