"""Strict schema checks: Kubernetes kinds against the Kubernetes OpenAPI schema (kubernetes-validate),
Istio kinds against Istio's CRD schemas (istio_schemas), unknown fields being errors as with
`kubectl apply` (fieldValidation=Strict). Validators are built once per kind, on first use."""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any, Optional

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from kubernetes_validate import utils as kv
from referencing import Registry
from referencing import Resource as SchemaResource

from localmesh.analyze import istio_schemas
from localmesh.analyze.messages import Message, message
from localmesh.fields import dotted
from localmesh.loader import Resource

KUBERNETES_VERSION = kv.latest_version()  # the newest schema kubernetes-validate ships
_KUBERNETES_FOLDER = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"
_OBJECT_META = {
    "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
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


def check_schema(resource: Resource) -> list[Message]:
    """Schema messages for one resource: LM0002 (Kubernetes) or IST0106 (Istio) for each field the
    schema refuses; LM0001 for a kind that its API group does not define. A kind of another API
    group (a CRD this analyzer has no schema for) gives nothing here: see not_validated()."""
    istio = resource.group in istio_schemas.groups()
    if istio:
        validator = _istio_validator(resource.api_version, resource.kind)
    else:
        validator = _kubernetes_validator(resource.api_version, resource.kind)
    if validator is None:
        if istio or resource.kind in _NOT_APPLIED or resource.group in kubernetes_groups():
            return [_unknown_kind(resource, istio)]
        return []
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


def not_validated(resources: list[Resource]) -> list[Message]:
    """LM0003, once per apiVersion and kind: resources of an API group that neither Kubernetes nor
    Istio defines (another project's CRD), which no schema here can check."""
    found: dict = {}
    for resource in resources:
        if resource.kind in _NOT_APPLIED or resource.group in istio_schemas.groups():
            continue
        if resource.group in kubernetes_groups():
            continue
        found.setdefault((resource.api_version, resource.kind), resource)
    return [
        message("LM0003", resource, ("kind",),
                f"{resource.kind} ({api_version}) is not validated: no Kubernetes {KUBERNETES_VERSION} or"
                f" Istio {istio_schemas.recorded_version()} schema defines it")
        for (api_version, _kind), resource in found.items()
    ]


def _unknown_kind(resource: Resource, istio: bool) -> Message:
    why = _NOT_APPLIED.get(resource.kind)
    if why is None:
        source = (f"Istio {istio_schemas.recorded_version()} CRDs" if istio
                  else f"Kubernetes {KUBERNETES_VERSION} schema")
        why = f"no kind {resource.kind} in apiVersion {resource.api_version} in the {source}"
    return message("LM0001", resource, ("kind",), f"Unknown kind {resource.kind!r}: {why}")


# ---- Kubernetes ---------------------------------------------------------------------------


@cache
def kubernetes_groups() -> frozenset:
    """The API groups of the Kubernetes schema ("" is the core group)."""
    definitions = _kubernetes_definitions()["$defs"].values()
    return frozenset(
        gvk.get("group", "")
        for item in definitions
        for gvk in item.get("x-kubernetes-group-version-kind", [])
    )


@cache
def _kubernetes_validator(api_version: str, kind: str) -> Optional[jsonschema.protocols.Validator]:
    if not (_KIND.match(kind) and _API_VERSION.match(api_version)):
        return None
    # kubernetes-validate names files <kind>-<group prefix>-<version>.json: apps/v1 -> apps-v1.
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"{_KUBERNETES_FOLDER}/{kind.lower()}-{api}.json", KUBERNETES_VERSION)
    except FileNotFoundError:
        return None
    # The folder also holds schemas of parts (DeploymentSpec); only real kinds carry a GVK.
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(g.get("kind") == kind for g in gvks):
        return None
    return jsonschema.Draft202012Validator(schema, registry=_kubernetes_registry())


@cache
def _kubernetes_definitions() -> dict:
    return kv.schema_contents(f"{_KUBERNETES_FOLDER}/_definitions.json", KUBERNETES_VERSION)


@cache
def _kubernetes_registry() -> Registry:
    return SchemaResource.from_contents(_kubernetes_definitions()) @ Registry()


# ---- Istio --------------------------------------------------------------------------------


@cache
def _istio_validator(api_version: str, kind: str) -> Optional[jsonschema.protocols.Validator]:
    schema = istio_schemas.strict_schema(api_version, kind)
    if schema is None:
        return None
    # metadata is the API server's ObjectMeta, as strict as for any Kubernetes object.
    schema = {**schema, "properties": {**schema["properties"], "metadata": _OBJECT_META}}
    return jsonschema.Draft202012Validator(schema, registry=_kubernetes_registry())


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
