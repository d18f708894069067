"""Envoy's access log, as an Istio sidecar writes it, in `localmesh logs envoy`.

One line per request in the field order of Istio's default TEXT format (pilot/pkg/model/
telemetry_logging.go, EnvoyTextLogFormat): the response flags say why Envoy answered as it
did (NR no route, FI fault abort, DI fault delay, UC upstream reset, ...).
"""

from __future__ import annotations

import re
import uuid

import pytest

from mesh.accesslog import status_and_flags, wait_for_lines
from mesh.envoyadmin import wait_endpoints_healthy
from mesh.meshkit import ADS_V2, BASE, DESTINATION_RULE, TEST_MANIFESTS, get

pytestmark = pytest.mark.envoy

FLAGS_VS = TEST_MANIFESTS / "access-log-flags.yaml"
# [start] "METHOD PATH PROTOCOL" code flags details termination "failure" rx tx duration upstream_time
# "xff" "user-agent" "request-id" "authority" "upstream host" cluster upstream_local downstream_local
# downstream_remote sni route
ISTIO_TEXT_LINE = re.compile(
    r'^\[envoy\] \[(?P<start>\S+)\] "(?P<method>\S+) (?P<path>\S+) (?P<protocol>\S+)" '
    r"(?P<code>\d+) (?P<flags>\S+) (?P<details>\S+) (?P<termination>\S+) \"(?P<failure>[^\"]*)\" "
    r"(?P<received>\d+) (?P<sent>\d+) (?P<duration>\d+) (?P<upstream_time>\S+) "
    r'"(?P<xff>[^"]*)" "(?P<agent>[^"]*)" "(?P<request_id>[^"]*)" "(?P<authority>[^"]*)" '
    r'"(?P<upstream_host>[^"]*)" (?P<cluster>\S+) (?P<upstream_local>\S+) (?P<downstream_local>\S+) '
    r"(?P<downstream_remote>\S+) (?P<sni>\S+) (?P<route>\S+)$"
)


def test_each_request_is_one_istio_format_line_with_its_response_flags(mesh_up):
    mesh = mesh_up(*BASE, ADS_V2, DESTINATION_RULE, FLAGS_VS)
    wait_endpoints_healthy(mesh)
    ads = mesh.listener("advertisements") + "/ads"
    sent = {}
    for flag in ("abort", "delay", "none", None):
        request_id = str(uuid.uuid4())
        headers = {"page-source": "home", "x-request-id": request_id, **({"x-flag": flag} if flag else {})}
        status, _ = get(ads, headers=headers)
        sent[request_id] = (flag, status)
    page_id = str(uuid.uuid4())
    assert get(mesh.gateway + "/", headers={"x-request-id": page_id})[0] == 200
    lines = wait_for_lines(mesh, len(sent) + 2)  # the page view is a gateway line and an ads line

    parsed = {}
    for line in lines:
        match = ISTIO_TEXT_LINE.match(line)
        assert match, f"not in Istio's access-log format: {line}"
        parsed.setdefault(match["request_id"], []).append(match)

    expected = {"abort": (503, "FI"), "delay": (200, "DI"), "none": (200, "-"), None: (404, "NR")}
    for request_id, (flag, status) in sent.items():
        (match,) = parsed[request_id]
        assert status == expected[flag][0]
        assert (int(match["code"]), match["flags"]) == status_and_flags(match.string) == expected[flag]
        assert match["path"] == "/ads" and match["authority"] == ads.split("/")[2]  # the Host sent
        if flag == "none":
            assert match["cluster"] == "outbound|5002|v1|advertisements.ns3.svc.cluster.local"
            assert match["route"].endswith("/answered/0"), match["route"]
            assert match["upstream_host"].startswith("127.0.0.1:")
        if flag is None:
            assert match["cluster"] == "-" and match["upstream_host"] == "-"

    # The page view: the gateway's line to the frontend, and the frontend's call to the ads listener
    # with the same x-request-id (the storefront copies it), answered NR by the test's rules.
    hops = {m["cluster"]: m for m in parsed[page_id]}
    assert set(hops) == {"outbound|80||frontend.ns3.svc.cluster.local", "-"}, list(hops)
    gateway = hops["outbound|80||frontend.ns3.svc.cluster.local"]
    assert (gateway["code"], gateway["flags"], gateway["path"]) == ("200", "-", "/")
    assert (hops["-"]["code"], hops["-"]["flags"], hops["-"]["path"]) == ("404", "NR", "/ads")
