"""Rules and matches of a VirtualService that can never be used: the warnings of Istio's
validation webhook (analyzeUnreachableHTTPRules and its tcp/tls twins in
pkg/config/validation/validation.go, Istio 1.29), reported as IST0130 and IST0131.

- A rule after a match-less rule: unused ("route without matches defined before", once per match).
- A second match-less rule: unused ("only the last rule can have no matches").
- A match equal to an earlier one (its name aside): IST0131; a rule all of whose matches are
  such repeats: IST0130 ("all matches used by prior rules").
- HTTP only: a match whose uri prefix, port, method, authority, headers, query parameters and
  withoutHeaders an earlier uri-prefix match covers: IST0131 ("... of prefix /x on <rule>").
  `prefix: /` makes no rule unreachable; a `regex` uri takes no part in coverage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from localmesh.analyze.messages import Message, go_quote, message
from localmesh.fields import as_dict, as_list
from localmesh.loader import Resource

_STRING_MATCHES = ("uri", "scheme", "method", "authority")
_EXACT, _PREFIX = "exact:", "prefix:"


def check_unreachable(resource: Resource) -> list[Message]:
    """IST0130/IST0131 for one VirtualService (other kinds give none)."""
    if (resource.group, resource.kind) != ("networking.istio.io", "VirtualService"):
        return []
    found: list = []
    for kind in ("http", "tcp", "tls"):
        found += _unreachable_rules(resource, kind)
    found += _overlapping_prefixes(resource)
    return found


def _rule_name(rule: dict, index: int, kind: str) -> str:
    if kind == "http" and rule.get("name"):
        return go_quote(str(rule["name"]))
    return f"#{index}"


def _match_name(match: dict, index: int, kind: str) -> str:
    if kind == "http" and match.get("name"):
        return go_quote(str(match["name"]))
    return f"#{index}"


def _unreachable_rules(resource: Resource, kind: str) -> list:
    found = []
    rules = [as_dict(rule) for rule in as_list(resource.spec.get(kind))]
    seen: dict = {}  # match key -> index of the rule that used it first
    match_less: Optional[int] = None
    for r_index, rule in enumerate(rules):
        rule_path = ("spec", kind, r_index)
        name = _rule_name(rule, r_index, kind)
        matches = as_list(rule.get("match"))
        if not matches:
            if match_less is not None:
                found.append(_unused(resource, rule_path, name, "only the last rule can have no matches"))
            match_less = r_index
            continue
        repeated = 0
        for m_index, match in enumerate(matches):
            match = as_dict(match)
            if match_less is not None:
                found.append(_unused(resource, rule_path, name, "route without matches defined before"))
                continue
            key = _match_key(match, kind)
            if key in seen:
                prior = seen[key]
                found.append(_ineffective(
                    resource, (*rule_path, "match", m_index), name, _match_name(match, m_index, kind),
                    _rule_name(rules[prior], prior, kind),
                ))
                repeated += 1
            else:
                seen[key] = r_index
        if repeated == len(matches):
            found.append(_unused(resource, rule_path, name, "all matches used by prior rules"))
    return found


def _unused(resource: Resource, path: tuple, rule: str, reason: str) -> Any:
    return message("IST0130", resource, path, f"VirtualService rule {rule} not used ({reason}).")


def _ineffective(resource: Resource, path: tuple, rule: str, match: str, prior: str) -> Any:
    return message(
        "IST0131", resource, path,
        f"VirtualService rule {rule} match {match} is not used"
        f" (duplicate/overlapping match in rule {prior}).",
    )


def _match_key(match: dict, kind: str) -> str:
    """Matches compare as Istio compares them: their JSON without the name, unset and zero values
    left out (as proto3 JSON leaves them out)."""
    fields = {}
    for key, value in match.items():
        if kind == "http" and key == "name":
            continue
        if key in _STRING_MATCHES and kind == "http":
            if value is not None:
                fields[key] = _string_match_key(value)
            continue
        if isinstance(value, dict) and key in ("headers", "withoutHeaders", "queryParams"):
            value = {str(k): _string_match_key(v) for k, v in value.items()}
        if value in (None, "", 0, False, [], {}):
            continue
        fields[key] = value
    return json.dumps(fields, sort_keys=True, default=str)


def _string_match_key(value: Any) -> Any:
    """A StringMatch compares by its one set kind; an empty value is the same for every kind."""
    value = as_dict(value)
    for kind in ("exact", "prefix", "regex"):
        if kind in value:
            return {"match": {kind: value[kind]} if value[kind] not in (None, "") else {}}
    return {}


# ---- HTTP prefix coverage ---------------------------------------------------------------


@dataclass(frozen=True)
class _PrefixMatch:
    rule: str
    match: str
    path: tuple
    prefix: str
    port: int
    method: str
    authority: str
    headers: dict
    query_params: dict
    without_headers: dict


def _exact_or_prefix(value: Any) -> str:
    value = as_dict(value)
    if value.get("exact"):
        return _EXACT + str(value["exact"])
    if value.get("prefix"):
        return _PREFIX + str(value["prefix"])
    return ""


def _prefix_matches(resource: Resource) -> list:
    """Every http match with a uri prefix, in order, skipping matches that repeat an earlier one
    and every match after a match-less rule (as the duplicate check does)."""
    found = []
    seen: set = set()
    match_less = False
    for r_index, rule in enumerate(as_list(resource.spec.get("http"))):
        rule = as_dict(rule)
        matches = as_list(rule.get("match"))
        if not matches:
            match_less = True
            continue
        for m_index, match in enumerate(matches):
            match = as_dict(match)
            if match_less:
                continue
            key = _match_key(match, "http")
            if key in seen:
                continue
            seen.add(key)
            prefix = as_dict(match.get("uri")).get("prefix")
            if not prefix:
                continue
            found.append(_PrefixMatch(
                rule=_rule_name(rule, r_index, "http"),
                match=_match_name(match, m_index, "http"),
                path=("spec", "http", r_index, "match", m_index),
                prefix=str(prefix),
                port=as_dict(match).get("port") or 0,
                method=_exact_or_prefix(match.get("method")) or _EXACT + "GET",
                authority=_exact_or_prefix(match.get("authority")),
                headers={k: _exact_or_prefix(v) for k, v in as_dict(match.get("headers")).items()},
                query_params={k: _exact_or_prefix(v) for k, v in as_dict(match.get("queryParams")).items()},
                without_headers={
                    k: _exact_or_prefix(v) for k, v in as_dict(match.get("withoutHeaders")).items()
                },
            ))
    return found


def _covers(earlier: _PrefixMatch, later: _PrefixMatch) -> bool:
    """Istio's coveredValidation: the earlier match takes every request the later one would."""
    if not later.prefix.startswith(earlier.prefix) or later.port != earlier.port:
        return False
    for mine, theirs in ((earlier.method, later.method), (earlier.authority, later.authority)):
        if mine != theirs and not mine.startswith(theirs):
            return False
    for mine, theirs in ((earlier.headers, later.headers), (earlier.query_params, later.query_params),
                         (earlier.without_headers, later.without_headers)):
        if len(mine) != len(theirs):
            return False
        for key, value in mine.items():
            if key not in theirs or (value != theirs[key] and not value.startswith(theirs[key])):
                return False
    return True


def _overlapping_prefixes(resource: Resource) -> list:
    found = []
    prefixes = _prefix_matches(resource)
    for index, earlier in enumerate(prefixes):
        for later in prefixes[index + 1:]:
            if later.prefix == earlier.prefix or not _covers(earlier, later):
                continue
            found.append(_ineffective(
                resource, later.path, later.rule, f"{later.match} of prefix {later.prefix}",
                f"{earlier.match} of prefix {earlier.prefix} on {earlier.rule}",
            ))
    return found
