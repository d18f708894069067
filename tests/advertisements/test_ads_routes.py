"""Health probes and the JSON answers for unknown paths, wrong methods and server errors."""

from __future__ import annotations

import pytest
from ads import create_app


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_health_probes(make_client, path, version):
    response = make_client(version).get(path)
    assert response.status_code == 200
    assert response.get_json()["version"] == version
    assert response.get_json()["status"] in ("ok", "ready")


UNKNOWN_PATHS = ["/", "/ad", "/ads/", "/banners/", "/banners/free-shipping.png", "/healthz/x"]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_is_404_json(make_client, path):
    response = make_client("1.0").get(path)
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json() == {"error": f"no such resource: {path}", "status": 404}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/ads", "/banners/free-shipping.svg", "/healthz", "/readyz"])
def test_wrong_method_is_405_json(make_client, method, path):
    response = make_client("1.0").open(path, method=method)
    assert response.status_code == 405
    assert response.is_json
    body = response.get_json()
    assert body["status"] == 405
    assert body["error"].startswith(f"method {method} is not allowed on {path}")
    assert "GET" in response.headers["Allow"]


def test_head_is_answered_like_get(make_client):
    response = make_client("1.0").head("/healthz")
    assert response.status_code == 200 and response.get_data() == b""


def test_unexpected_error_is_500_json_without_details():
    app = create_app({"ADS_VERSION": "1.0"})

    # A route that exists only in this test, to reach the last-resort handler.
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.is_json
    assert "secret" not in response.get_data(as_text=True)
    assert response.get_json()["status"] == 500


FUZZ = [
    "/ads?limit=%00", "/ads?category=%", "/ads?category=%zz", "/ads?" + "a=1&" * 500, "/ads?limit=",
    "/ads?limit=%F0%9F%98%80", "/banners/%00.svg", "/banners/..%2F..%2Fetc.svg", "/banners/.svg",
    "/banners/free-shipping.svg?version=%00", "//ads", "/ads%20", "/%ff",
]


@pytest.mark.parametrize("url", FUZZ)
@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_odd_input_never_causes_a_500(make_client, url, version):
    headers = {"page-source": "products\u00e9", "x-request-id": "y" * 10000}
    response = make_client(version).get(url, headers=headers)
    assert response.status_code < 500
    assert response.is_json or response.mimetype == "image/svg+xml"
