"""Istio HTTPMatchRequest -> Envoy RouteMatch (AND inside one match entry), as istiod's
TranslateRouteMatch (pilot/pkg/networking/core/route/route.go, Istio 1.29)."""

from __future__ import annotations

from typing import Optional

from localmesh.model import HeaderMatch, HttpMatch, StringMatch


def string_matcher(match: StringMatch) -> dict:
    """Envoy StringMatcher; a regex is RE2 and must match the whole value (safe_regex)."""
    if match.kind == "regex":
        return {"safe_regex": {"regex": match.value}}
    return {match.kind: match.value}


def _means_present(match: Optional[StringMatch]) -> bool:
    """An empty StringMatch, or regex "*", is istiod's present_match."""
    return match is None or match.means_present


def header_matcher(header: HeaderMatch, invert: bool = False) -> dict:
    matcher: dict = {"name": header.name}
    if _means_present(header.match):
        matcher["present_match"] = True
    else:
        matcher["string_match"] = string_matcher(header.match)
    if invert:
        matcher["invert_match"] = True
        if not _means_present(header.match):
            # As istiod: a request lacking the header satisfies withoutHeaders (Envoy would
            # otherwise fail a value matcher on a missing header, inverted or not).
            matcher["treat_missing_header_as_empty"] = True
    return matcher


def _pseudo(name: str, match: Optional[StringMatch]) -> list:
    return [header_matcher(HeaderMatch(name, match))] if match else []


def route_match(match: Optional[HttpMatch]) -> dict:
    """The Envoy RouteMatch; None means the catch-all prefix '/'."""
    if match is None:
        return {"prefix": "/"}
    out: dict = {}
    uri = match.uri
    if uri is None:
        out["prefix"] = "/"
    elif uri.kind == "exact":
        out["path"] = uri.value
    elif uri.kind == "prefix":
        out["prefix"] = uri.value
    else:
        out["safe_regex"] = {"regex": uri.value}
    if match.ignore_uri_case:
        # Envoy applies case_sensitive to path and prefix only, never to a regex: as in Istio.
        out["case_sensitive"] = False
    headers = [header_matcher(h) for h in match.headers]
    headers += [header_matcher(h, invert=True) for h in match.without_headers]
    headers.sort(key=lambda matcher: matcher["name"])
    headers += (
        _pseudo(":method", match.method)
        + _pseudo(":authority", match.authority)
        + _pseudo(":scheme", match.scheme)
    )
    if headers:
        out["headers"] = headers
    if match.query_params:
        out["query_parameters"] = [_query_matcher(q) for q in match.query_params]
    return out


def is_catch_all(envoy_match: dict) -> bool:
    """istiod's IsCatchAllRoute: prefix '/' or regex '.*', and no header or query condition."""
    path_catches_all = envoy_match.get("prefix") == "/" or envoy_match.get("safe_regex") == {"regex": ".*"}
    return path_catches_all and not envoy_match.get("headers") and not envoy_match.get("query_parameters")


def _query_matcher(param: HeaderMatch) -> dict:
    if _means_present(param.match):
        return {"name": param.name, "present_match": True}
    return {"name": param.name, "string_match": string_matcher(param.match)}
