"""Request log lines: JSON on stdout with the shared fields plus page_source and request_id."""

from __future__ import annotations

import json

from ads import create_app

REQUIRED = {"time", "level", "service", "version", "method", "path", "status", "duration_ms",
            "page_source", "request_id"}


def request_lines(output: str) -> list[dict]:
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [line for line in lines if line.get("logger") == "request"]


def test_request_lines_carry_the_required_fields(capsys):
    client = create_app({"ADS_VERSION": "2.0"}).test_client()
    client.get("/ads?category=kitchen", headers={"page-source": "products", "x-request-id": "req-123"})
    client.get("/nowhere")
    lines = request_lines(capsys.readouterr().out)
    assert len(lines) == 2
    first, second = lines
    assert REQUIRED <= set(first)
    assert first["service"] == "advertisements" and first["version"] == "2.0"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/ads", 200)
    assert (first["page_source"], first["request_id"]) == ("products", "req-123")
    assert isinstance(first["duration_ms"], (int, float)) and first["duration_ms"] >= 0
    assert (second["path"], second["status"], second["page_source"], second["request_id"]) == (
        "/nowhere", 404, "home", None)


def test_oversized_request_id_is_cut(capsys):
    create_app({"ADS_VERSION": "1.0"}).test_client().get("/nowhere", headers={"x-request-id": "z" * 5000})
    (line,) = request_lines(capsys.readouterr().out)
    assert line["request_id"] == "z" * 128


def test_unexpected_error_is_logged_with_its_details(capsys):
    app = create_app({"ADS_VERSION": "1.0"})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    app.test_client().get("/boom")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in lines if line["level"] == "error"]
    assert errors and "secret internal detail" in errors[0]["error"]
    assert request_lines("\n".join(json.dumps(line) for line in lines))[0]["status"] == 500
