"""Istio HTTPMatchRequest -> Envoy RouteMatch (AND inside one match entry)."""

from __future__ import annotations

from typing import Optional

from localmesh.envoy.warnings import unsupported
from localmesh.loader import Resource
from localmesh.model import HeaderMatch, HttpMatch, StringMatch

# Fields of a match entry that are not request-time conditions or that localmesh handles.
HANDLED = {
    "uri", "scheme", "method", "authority", "headers", "withoutHeaders", "queryParams",
    "ignoreUriCase", "name", "port", "gateways", "statPrefix",
}


def string_matcher(match: StringMatch) -> dict:
    """Envoy StringMatcher; a regex is RE2 and must match the whole value (safe_regex)."""
    if match.kind == "regex":
        return {"safe_regex": {"regex": match.value}}
    return {match.kind: match.value}


def header_matcher(header: HeaderMatch, invert: bool = False) -> dict:
    matcher: dict = {"name": header.name}
    if header.match is None:
        matcher["present_match"] = True
    else:
        matcher["string_match"] = string_matcher(header.match)
    if invert:
        matcher["invert_match"] = True
        if header.match is not None:
            # As istiod: a request lacking the header satisfies withoutHeaders (Envoy would
            # otherwise fail a value matcher on a missing header, inverted or not).
            matcher["treat_missing_header_as_empty"] = True
    return matcher


def _pseudo(name: str, match: Optional[StringMatch]) -> list:
    return [header_matcher(HeaderMatch(name, match))] if match else []


def route_match(match: Optional[HttpMatch], resource: Resource) -> tuple:
    """(Envoy RouteMatch, warnings); None match means the catch-all prefix '/'."""
    if match is None:
        return {"prefix": "/"}, []
    warnings: list = []
    out: dict = {}
    uri = match.uri
    if uri is None:
        out["prefix"] = "/"
    elif uri.kind == "exact":
        out["path"] = uri.value
    elif uri.kind == "prefix":
        out["prefix"] = uri.value
    else:
        # case_sensitive does not apply to safe_regex; istiod adds the RE2 flag instead.
        regex = f"(?i){uri.value}" if match.ignore_uri_case else uri.value
        out["safe_regex"] = {"regex": regex}
    if match.ignore_uri_case and uri is not None and uri.kind != "regex":
        out["case_sensitive"] = False
    headers = (
        _pseudo(":method", match.method)
        + _pseudo(":authority", match.authority)
        + _pseudo(":scheme", _string_match_of(match.raw.get("scheme")))
        + [header_matcher(h) for h in match.headers]
        + [header_matcher(h, invert=True) for h in match.without_headers]
    )
    if headers:
        out["headers"] = headers
    if match.query_params:
        out["query_parameters"] = [_query_matcher(q) for q in match.query_params]
    for key in sorted(set(match.raw) - HANDLED):
        why = "every client shares one local listener" if key in ("sourceLabels", "sourceNamespace") else ""
        warnings.append(unsupported(resource, match.path + (key,), why))
    return out, warnings


def _string_match_of(raw: object) -> Optional[StringMatch]:
    if isinstance(raw, dict):
        for kind in ("exact", "prefix", "regex"):
            if kind in raw:
                return StringMatch(kind, str(raw[kind]))
    return None


def _query_matcher(param: HeaderMatch) -> dict:
    if param.match is None:
        return {"name": param.name, "present_match": True}
    return {"name": param.name, "string_match": string_matcher(param.match)}
