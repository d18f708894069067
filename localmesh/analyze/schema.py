"""Strict schema checks: Kubernetes kinds against the Kubernetes OpenAPI schema (kubernetes-validate),
Istio kinds against Istio's CRD schema (cloudcoil-models-istio), unknown fields being errors as with
`kubectl apply` (fieldValidation=Strict)."""

from __future__ import annotations

import copy
import importlib
import re
from functools import cache
from importlib import metadata
from typing import Any, Optional

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from kubernetes_validate import utils as kv
from referencing import Registry
from referencing import Resource as SchemaResource

from localmesh.analyze.messages import Message, dotted, message
from localmesh.loader import Resource

KUBERNETES_VERSION = kv.latest_version()  # the newest schema kubernetes-validate ships
ISTIO_SCHEMA_PACKAGE = "cloudcoil-models-istio"
# cloudcoil-models-istio versions are <istio version>.<build>: 1.24.2.1 holds Istio 1.24.2's CRDs.
ISTIO_VERSION = ".".join(metadata.version(ISTIO_SCHEMA_PACKAGE).split(".")[:3])

ISTIO_GROUPS = {
    "networking.istio.io": "networking",
    "security.istio.io": "security",
    "telemetry.istio.io": "telemetry",
    "extensions.istio.io": "extensions",
}
# Well-formed names only, so a kind or apiVersion never becomes a path outside the schema folders.
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_API_VERSION = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$")
_MAX_VALUE_TEXT = 160

# Kinds that are someone's input but not objects for the API server: say so rather than "unknown".
_NOT_APPLIED = {
    "IstioOperator": "IstioOperator is input for `istioctl install -f`, not a resource to apply",
    "Cluster": "a kind cluster config is input for `kind create cluster --config`, not a resource",
}


def check_schema(resource: Resource) -> list:
    """Schema messages for one resource: LM0001 for an unknown kind, LM0002 (Kubernetes) or
    IST0106 (Istio) for each field that the schema refuses."""
    istio = resource.group in ISTIO_GROUPS
    validator = _istio_validator(resource.api_version, resource.kind) if istio else _kubernetes_validator(
        resource.api_version, resource.kind
    )
    if validator is None:
        return [_unknown_kind(resource, istio)]
    code = "IST0106" if istio else "LM0002"
    prefix = "Schema validation error: " if istio else ""
    found = [
        message(code, resource, path, f"{prefix}duplicate field {_quoted(path)}")
        for path, _line in resource.duplicate_keys
    ]
    body = _without_nulls(resource.body) if istio else resource.body
    for error in validator.iter_errors(body):
        for path, text in _explain(error):
            found.append(message(code, resource, path, prefix + text))
    return found


def _unknown_kind(resource: Resource, istio: bool) -> Message:
    why = _NOT_APPLIED.get(resource.kind)
    if why is None:
        source = f"Istio {ISTIO_VERSION} CRDs" if istio else f"Kubernetes {KUBERNETES_VERSION} schema"
        why = f"no kind {resource.kind} in apiVersion {resource.api_version} in the {source}"
    return message("LM0001", resource, ("kind",), f"Unknown kind {resource.kind!r}: {why}")


# ---- Kubernetes ---------------------------------------------------------------------------


@cache
def _kubernetes_validator(api_version: str, kind: str) -> Optional[jsonschema.protocols.Validator]:
    if not (_KIND.match(kind) and _API_VERSION.match(api_version)):
        return None
    folder = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
    # kubernetes-validate names files <kind>-<group prefix>-<version>.json: apps/v1 -> apps-v1.
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{folder}/{kind.lower()}-{api}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None
    # The folder also holds schemas of parts (DeploymentSpec); only real kinds carry a GVK.
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("kind") == kind for g in gvks):
        return None
    registry = SchemaResource.from_contents(schema) @ Registry()
    registry = SchemaResource.from_contents(_kubernetes_definitions(folder)) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


@cache
def _kubernetes_definitions(folder: str) -> dict:
    return kv.schema_contents(f"{folder}/_definitions.json", KUBERNETES_VERSION)


# ---- Istio --------------------------------------------------------------------------------


@cache
def _istio_validator(api_version: str, kind: str) -> Optional[jsonschema.protocols.Validator]:
    model = _istio_model(api_version, kind)
    if model is None:
        return None
    schema = _strict(model.model_json_schema(by_alias=True))
    return jsonschema.Draft202012Validator(schema)


def _istio_model(api_version: str, kind: str) -> Any:
    if not (_KIND.match(kind) and _API_VERSION.match(api_version)) or "/" not in api_version:
        return None
    group, version = api_version.split("/")
    module_name = f"cloudcoil.models.istio.{ISTIO_GROUPS[group]}.{version}"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    model = getattr(module, kind, None)
    gvk = getattr(model, "gvk", None)
    if model is None or gvk is None or getattr(model, "__module__", "") != module_name:
        return None
    return model if gvk().kind == kind else None


def _strict(node: Any) -> Any:
    """The models' JSON schema made as strict as the CRD: an object accepts only its declared
    properties, and 'X or null' becomes X (nulls are dropped from the data before validation)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items() if key not in ("default", "title")}
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        if len(branches) == 1:
            node.pop("anyOf")
            node.update(branches[0])
        else:
            node["anyOf"] = branches
    if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def _without_nulls(value: Any) -> Any:
    # The API server treats `field: null` in a CRD object as the field left out.
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return copy.copy(value)


# ---- Errors as kubectl words them ---------------------------------------------------------


def _explain(error: ValidationError) -> list:
    """(field path, text) pairs for one jsonschema error, at the field a person has to change."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        # Explain the alternative that comes closest: the one needing the fewest changes.
        branches: dict = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        explained = [[pair for sub in subs for pair in _explain(sub)] for subs in branches.values()]
        explained = [pairs for pairs in explained if pairs]
        if not explained:
            path = tuple(error.absolute_path)
            return [(path, f"{_quoted(path)}: {_short(error.message)}")]
        return min(explained, key=lambda pairs: (len(pairs), -max(len(p) for p, _ in pairs)))
    leaf = best_match([error]) if error.context else error
    path = tuple(leaf.absolute_path)
    if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
        declared = set(leaf.schema.get("properties", {}))
        patterns = [re.compile(p) for p in leaf.schema.get("patternProperties", {})]
        unknown = [
            key for key in leaf.instance
            if key not in declared and not any(p.search(str(key)) for p in patterns)
        ]
        return [(path + (key,), f"unknown field {_quoted(path + (key,))}") for key in unknown]
    if leaf.validator == "required" and isinstance(leaf.instance, dict):
        missing = [key for key in leaf.validator_value if key not in leaf.instance]
        return [(path, f"missing required field {_quoted(path + (key,))}") for key in missing]
    if leaf.validator == "type":
        wanted = leaf.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return [(path, f"{_quoted(path)}: expected {wanted}, got {_short(repr(leaf.instance))}")]
    if leaf.validator in ("enum", "const"):
        allowed = leaf.validator_value if isinstance(leaf.validator_value, list) else [leaf.validator_value]
        return [(path, f"{_quoted(path)}: {_short(repr(leaf.instance))} is not one of {allowed}")]
    return [(path, f"{_quoted(path)}: {_short(leaf.message)}")]


def _quoted(path: tuple) -> str:
    return f'"{dotted(path)}"' if path else '"(document)"'


def _short(text: str) -> str:
    return text if len(text) <= _MAX_VALUE_TEXT else text[: _MAX_VALUE_TEXT - 3] + "..."
