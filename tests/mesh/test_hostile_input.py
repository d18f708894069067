"""Hostile input through a real mesh: the gateway (Envoy -> frontend gunicorn) and the ads listener
(Envoy -> ads gunicorn), traced, as in `make run`. Every answer is a 4xx, or a 2xx/3xx where that
is right (a redirect that stays in the shop); never a 5xx, never a traceback in any pod's log.

Requests go out as raw bytes, so the input is exactly what an attacker would send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
from tracing.tracekit import run_test_agent

from mesh import rawhttp
from mesh.accesslog import status_and_flags, wait_for_lines
from mesh.envoyadmin import wait_endpoints_healthy
from mesh.meshkit import CANARY, MeshUp

pytestmark = pytest.mark.envoy

AD = "kitchen-coffee"  # an ad of the inventory, for routes that need a real one
CLICK = f"/ads/{AD}/click?version=2.0&page_source=products&to="
EVIL = "evil.example"


def client_error(response: rawhttp.RawResponse) -> Optional[str]:
    if response.status is None or not 400 <= response.status < 500:
        return f"expected a 4xx, got {response.status}"
    return None


def answered_without_error(response: rawhttp.RawResponse) -> Optional[str]:
    """Bytes HTTP allows but a server may refuse (obs-text): any answer below 500."""
    if response.status is None or response.status >= 500:
        return f"expected an answer below 500, got {response.status}"
    return None


def page(response: rawhttp.RawResponse) -> Optional[str]:
    """A normal page (the hostile part was ignored): 200."""
    return None if response.status == 200 else f"expected 200, got {response.status}"


def page_or_refused(response: rawhttp.RawResponse) -> Optional[str]:
    """The hostile part ignored (200) or refused (400)."""
    if response.status in (200, 400):
        return None
    return f"expected 200 (filter ignored) or 400, got {response.status}"


def inside_the_shop(response: rawhttp.RawResponse) -> Optional[str]:
    """A redirect that cannot leave the shop: a path, not //host, no backslash, no scheme."""
    location = response.headers.get("location", "")
    if response.status not in (302, 303):
        return f"expected a redirect, got {response.status}"
    if not location.startswith("/") or location.startswith("//") or "\\" in location or EVIL in location:
        return f"redirect leaves the shop: {location!r}"
    return None


@dataclass
class Case:
    name: str
    listener: str  # "gateway" or "ads"
    target: bytes
    method: bytes = b"GET"
    headers: list = field(default_factory=list)
    body: bytes = b""
    expect: Callable = client_error


LONG = b"a" * 9000  # over gunicorn's 8190-byte header field and 4094-byte request line limits
HUGE = b"b" * 70_000  # over Envoy's 60 KiB of request headers
JUNK_TRACING = [
    (b"x-datadog-trace-id", b"garbage"), (b"x-datadog-parent-id", b"-1"),
    (b"x-datadog-sampling-priority", b"lots"), (b"x-datadog-origin", b"<script>"),
    (b"x-datadog-tags", b"=,=,_dd.p.tid=zz," * 40),
    (b"traceparent", b"00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-yyyyyyyyyyyyyyyy-01"),
    (b"tracestate", b"dd=s:x;o:~~,=,,"), (b"b3", b"junk-junk-junk"),
    (b"x-b3-traceid", b"not-hex"), (b"x-b3-spanid", b"-"), (b"x-b3-sampled", b"maybe"),
    (b"x-b3-flags", b"99"), (b"x-request-id", b"r" * 4000),
]
FORM = b"application/x-www-form-urlencoded"

# A table of cases: its entries repeat one shape on purpose.
CASES = [
    # -- path traversal ---------------------------------------------------------------------
    Case("traversal dots", "gateway", b"/../../../../etc/passwd"),
    Case("traversal under static", "gateway", b"/static/../../../etc/passwd"),
    Case("traversal encoded slashes", "gateway", b"/static/..%2f..%2f..%2fetc%2fpasswd"),
    Case("traversal encoded dots", "gateway", b"/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd"),
    Case("traversal backslashes", "gateway", b"/static/..\\..\\..\\etc\\passwd"),
    Case("traversal product slug", "gateway", b"/products/..%2F..%2F..%2Fetc%2Fpasswd"),
    Case("traversal product image", "gateway", b"/products/..%2f..%2fetc/image.svg"),
    Case("traversal banner proxy", "gateway", b"/ads/..%2f..%2fetc%2fpasswd/banner.svg?version=2.0"),
    Case("traversal ads banner", "ads", b"/banners/..%2f..%2f..%2fetc%2fpasswd.svg"),
    Case("traversal ads dots", "ads", b"/banners/../../../etc/passwd"),
    Case("traversal ads query", "ads", b"/ads?category=..%2f..%2fetc"),
    # -- NUL and invalid UTF-8 ----------------------------------------------------------------
    Case("NUL encoded in a slug", "gateway", b"/products/chef%00knife"),
    Case("NUL encoded in static", "gateway", b"/static/style.css%00.txt"),
    Case("NUL raw in the path", "gateway", b"/products/chef\x00knife"),
    Case("NUL in the query", "gateway", b"/?category=kitchen%00", expect=page_or_refused),
    Case("NUL in the banner version", "gateway", f"/ads/{AD}/banner.svg?version=2.0%00".encode()),
    Case("NUL in the click target", "gateway", (CLICK + "/cart%00").encode(), expect=inside_the_shop),
    Case("NUL encoded for ads", "ads", b"/ads?category=kitchen%00"),
    Case("NUL raw for ads", "ads", b"/banners/a\x00b.svg"),
    Case("NUL in a banner id", "ads", b"/banners/kitchen%00.svg"),
    Case("invalid UTF-8 encoded", "gateway", b"/products/%ff%fe%c3%28"),
    Case("invalid UTF-8 raw", "gateway", b"/products/\xff\xfe\xc3\x28"),
    Case("invalid UTF-8 static", "gateway", b"/static/%ff.css"),
    Case("invalid UTF-8 query", "gateway", b"/?category=%ff%fe", expect=page_or_refused),
    Case("invalid UTF-8 cart form", "gateway", b"/cart/add", b"POST", [(b"content-type", FORM)],
         b"slug=%ff%fe&quantity=%c3%28"),
    Case("invalid UTF-8 for ads", "ads", b"/ads?category=%ff%fe"),
    Case("invalid UTF-8 banner", "ads", b"/banners/%ff%fe.svg?version=%c3%28"),
    Case("invalid UTF-8 page-source", "ads", b"/ads", headers=[(b"page-source", b"\xff\xfe")], expect=page),
    # -- over-long path, headers, cookies --------------------------------------------------------
    Case("long path", "gateway", b"/products/" + LONG),
    Case("huge path", "gateway", b"/products/" + HUGE),
    Case("long header", "gateway", b"/", headers=[(b"x-junk", LONG)]),
    Case("huge header", "gateway", b"/", headers=[(b"x-junk", HUGE)]),
    Case("long cookie", "gateway", b"/", headers=[(b"cookie", b"session=" + LONG)]),
    # Big but within the limits: the page ignores cookies it does not know.
    Case("many cookies", "gateway", b"/cart", expect=page, headers=[(b"cookie", b"; ".join(
        b"c%d=%s" % (i, b"x" * 60) for i in range(120)))]),
    Case("too many cookies", "gateway", b"/cart", headers=[(b"cookie", b"; ".join(
        b"c%d=%s" % (i, b"x" * 60) for i in range(200)))]),
    Case("garbage session cookie", "gateway", b"/cart",
         headers=[(b"cookie", b"session=" + b"e30." * 200 + b"; customer_id=\xff\xfe")], expect=page),
    Case("too many headers", "gateway", b"/", headers=[(b"x-h%d" % i, b"v") for i in range(150)]),
    Case("long path for ads", "ads", b"/banners/" + LONG + b".svg"),
    Case("long header for ads", "ads", b"/ads", headers=[(b"page-source", LONG)]),
    Case("long query for ads", "ads", b"/ads?category=" + b"k" * 3000),
    # -- malformed tracing headers: ignored, the page works ----------------------------------------
    Case("junk tracing headers, home", "gateway", b"/", headers=JUNK_TRACING, expect=page),
    Case("junk tracing headers, product", "gateway", b"/products/chef-knife", headers=JUNK_TRACING,
         expect=page),
    Case("junk tracing headers, ads", "ads", b"/ads", headers=JUNK_TRACING, expect=page),
    Case("tracing header with a control character", "gateway", b"/",
         headers=[(b"tracestate", b"dd=s:1;o:\x7f")]),
    Case("tracing header with obs-text", "gateway", b"/", headers=[(b"x-datadog-origin", b"\xff\xfe")],
         expect=answered_without_error),
    Case("tracing header with obs-text for ads", "ads", b"/ads", headers=[(b"traceparent", b"\xff")],
         expect=answered_without_error),
    Case("traceparent of the wrong version", "gateway", b"/", expect=page, headers=[
        (b"traceparent", b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]),
    Case("b3 single header, bad sampling", "ads", b"/ads", expect=page,
         headers=[(b"b3", b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x")]),
    # -- the cart: wrong methods and content types -------------------------------------------------
    Case("cart add by GET", "gateway", b"/cart/add"),
    Case("cart add by PUT", "gateway", b"/cart/add", b"PUT", [(b"content-type", FORM)], b"slug=chef-knife"),
    Case("cart update by DELETE", "gateway", b"/cart/update", b"DELETE"),
    Case("cart by PATCH", "gateway", b"/cart", b"PATCH", [(b"content-type", FORM)], b"x=1"),
    Case("cart by TRACE", "gateway", b"/cart", b"TRACE"),
    Case("cart by an unknown method", "gateway", b"/cart", b"BREW"),
    Case("cart add as JSON", "gateway", b"/cart/add", b"POST", [(b"content-type", b"application/json")],
         b'{"slug": "chef-knife", "quantity": 1}'),
    Case("cart add as text", "gateway", b"/cart/add", b"POST", [(b"content-type", b"text/plain")],
         b"slug=chef-knife&quantity=1"),
    Case("cart add as XML", "gateway", b"/cart/add", b"POST", [(b"content-type", b"application/xml")],
         b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"),
    Case("cart add, unknown charset", "gateway", b"/cart/add", b"POST",
         [(b"content-type", FORM + b"; charset=klingon")], b"slug=chef-knife&quantity=1"),
    Case("cart add, multipart without boundary", "gateway", b"/cart/add", b"POST",
         [(b"content-type", b"multipart/form-data")], b"--x\r\n\r\nslug\r\n--x--"),
    Case("cart add, broken multipart", "gateway", b"/cart/add", b"POST",
         [(b"content-type", b"multipart/form-data; boundary=zz")],
         b"--zz\r\nContent-Disposition: form-data; name=\"slug\"\r\n\r\nchef-knife\r\n--z"),
    Case("cart add, no content type", "gateway", b"/cart/add", b"POST", [], b"slug=chef-knife&quantity=1"),
    Case("cart add, no CSRF token", "gateway", b"/cart/add", b"POST", [(b"content-type", FORM)],
         b"slug=chef-knife&quantity=1"),
    Case("cart add, body over the limit", "gateway", b"/cart/add", b"POST", [(b"content-type", FORM)],
         b"slug=" + b"x" * 200_000),
    Case("cart add, gzip claimed", "gateway", b"/cart/add", b"POST",
         [(b"content-type", FORM), (b"content-encoding", b"gzip")], b"not gzip at all"),
    Case("cart remove, chunked junk", "gateway", b"/cart/remove", b"POST",
         [(b"content-type", FORM), (b"transfer-encoding", b"chunked")], b"zz\r\nxx\r\n0\r\n\r\n"),
    Case("ads by POST", "ads", b"/ads", b"POST", [(b"content-type", b"application/json")], b"{}"),
    Case("ads banner by DELETE", "ads", f"/banners/{AD}.svg".encode(), b"DELETE"),
    # -- open redirects on the click route ------------------------------------------------------
    *[Case(f"click to {to!r}", "gateway", CLICK.encode() + to, expect=inside_the_shop) for to in (
        b"//evil.example", b"https://evil.example/", b"http:%2F%2Fevil.example", b"%2F%2Fevil.example",
        b"/%2F%2Fevil.example", b"/\\evil.example", b"%5C%5Cevil.example", b"/%5Cevil.example",
        b"%09//evil.example", b"/%09/evil.example", b"%0d%0aLocation:%20https://evil.example",
        b"javascript:alert(1)", b"///evil.example", b"\\/evil.example", b"https:evil.example",
        b"%E3%80%80//evil.example", b"/" + b"a" * 600, b"%ff%fe",
    )],
    Case("click with two targets", "gateway", CLICK.encode() + b"/cart&to=//evil.example",
         expect=inside_the_shop),
    Case("click to a shop page", "gateway", CLICK.encode() + b"/products/chef-knife",
         expect=lambda r: inside_the_shop(r) or (None if r.headers["location"].endswith(
             "/products/chef-knife") else f"lost the shop target: {r.headers['location']}")),
]


@pytest.fixture(scope="module")
def answered(tmp_path_factory):
    """Every case sent once through a real traced mesh: (answers by case name, the mesh)."""
    workdir = tmp_path_factory.mktemp("hostile")
    with run_test_agent(workdir) as agent:
        mesh = MeshUp(workdir, CANARY,
                      extra_args=("--trace-agent", f"127.0.0.1:{agent.port}")).wait_ready()
        try:
            wait_endpoints_healthy(mesh)
            ports = {"gateway": mesh.gateway_port,
                     "ads": int(mesh.listener("advertisements").rsplit(":", 1)[1])}
            answers = {case.name: rawhttp.request(ports[case.listener], case.method, case.target,
                                                  case.headers, case.body) for case in CASES}
            # Envoy writes its access log in batches: wait until every request is in it (pages
            # add their ads calls; requests Envoy refuses itself are logged too, flag DPE).
            lines = wait_for_lines(mesh, len(CASES))
            logs = {path.stem: path.read_text(errors="replace")
                    for path in (mesh.state / "logs").glob("*.log")}
            yield answers, lines, logs, mesh
        finally:
            assert mesh.stop() == 0, mesh.output()[-4000:]


def test_case_names_are_unique():
    assert len({case.name for case in CASES}) == len(CASES)


def test_every_hostile_request_gets_a_client_answer(answered):
    answers, _, _, _ = answered
    wrong = []
    for case in CASES:
        response = answers[case.name]
        problem = case.expect(response)
        if problem is None and re.search(r"Traceback|root:x:0:0|werkzeug\.exceptions", response.text):
            problem = "the body shows internals"
        if problem:
            wrong.append(f"{case.name} ({case.listener} {case.method.decode()} {case.target[:80]!r}): "
                         f"{problem}\n    {response.text[:300]!r}")
    assert not wrong, f"{len(wrong)} of {len(CASES)} cases:\n" + "\n".join(wrong)


def test_no_5xx_and_no_traceback_anywhere(answered):
    _, lines, logs, _ = answered
    server_errors = [line for line in lines if status_and_flags(line)[0] >= 500]
    assert not server_errors, "\n".join(server_errors)
    pods = {name for name in logs if name != "envoy"}
    assert {"advertisements", "advertisements-v2", "frontend"} <= {p.rsplit("-", 2)[0] for p in pods}, pods
    tracebacks = {name: text[text.index("Traceback") - 300:][:3000]
                  for name, text in logs.items() if "Traceback" in text}
    assert not tracebacks, tracebacks


def test_an_oversized_body_costs_the_next_request_nothing(answered):
    """gunicorn reads away at most 64 KiB of a body the app refused: it then closes the
    connection. Unless it says so in its answer, Envoy sends the next request on that
    connection and the customer gets 503 UC. Each over-limit POST is followed at once by a page.
    """
    _, _, _, mesh = answered
    outcomes = []
    for _ in range(15):
        refused = rawhttp.request(mesh.gateway_port, b"POST", b"/cart/add", [(b"content-type", FORM)],
                                  b"slug=" + b"x" * 200_000)
        after = rawhttp.request(mesh.gateway_port, b"GET", b"/cart")
        outcomes.append((refused.status, after.status))
    assert set(outcomes) == {(413, 200)}, outcomes
