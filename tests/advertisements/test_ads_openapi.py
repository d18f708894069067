"""The ads API's OpenAPI document (services/advertisements/openapi.yaml) against the service.

The document lists exactly the Flask app's routes, and schemathesis (pinned) fuzzes a real
gunicorn on a loopback port from it: positive and negative inputs, its answers checked for
server errors, undocumented status codes, wrong content types and bodies that break the
schemas, errors included. Bounded: a fixed seed, at most MAX_EXAMPLES cases an operation.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from testkit.processes import SERVICES, VENV_BIN, run_service

DOCUMENT = SERVICES / "advertisements" / "openapi.yaml"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
MAX_EXAMPLES = 50
SEED = 20261201
FLASK_AUTOMATIC = {"HEAD", "OPTIONS"}  # Flask adds these to every GET route itself


def documented_routes() -> set:
    document = yaml.safe_load(DOCUMENT.read_text())
    return {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    }


def app_routes() -> set:
    from ads import create_app

    app = create_app({"ADS_VERSION": "2.0", "TESTING": True})
    routes = set()
    for rule in app.url_map.iter_rules():
        # Flask's <name> and <converter:name> are OpenAPI's {name}.
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - FLASK_AUTOMATIC}
    return routes


def test_the_document_lists_exactly_the_apps_routes():
    assert documented_routes() == app_routes()


def test_every_error_answer_is_documented_as_json():
    document = yaml.safe_load(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.")
    shared = document["components"]["responses"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("4"):
                    continue
                response = shared[response["$ref"].rsplit("/", 1)[1]] if "$ref" in response else response
                assert list(response["content"]) == ["application/json"], (path, method, status)
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, (path, method, status)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_schemathesis_finds_nothing_against_a_real_gunicorn(version, tmp_path):
    with run_service("advertisements", env={"ADS_VERSION": version}) as ads:
        result = subprocess.run(
            [
                str(VENV_BIN / "schemathesis"), "run", str(DOCUMENT), "--url", ads.url,
                "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
                "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
                "--generation-database", "none", "--request-timeout", "5", "--no-color",
            ],
            capture_output=True, text=True, timeout=240, cwd=tmp_path,
        )
        output = ads.output()
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-8000:]
    tested = re.search(r"Operations:\s+(\d+) selected / (\d+) total", report)
    assert tested and tested.group(1) == tested.group(2) == str(len(documented_routes())), report[-3000:]
    generated = re.search(r"(\d+) generated", report)
    assert generated and int(generated.group(1)) > MAX_EXAMPLES, report[-3000:]  # it did fuzz
    assert "Traceback" not in output, output[-4000:]
