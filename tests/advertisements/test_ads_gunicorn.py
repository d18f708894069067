"""The service as a real gunicorn process on a loopback port, as it runs in production."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request

import pytest
from testkit.processes import SERVICES, VENV_BIN, free_port, run_service

SERVICE_DIR = SERVICES / "advertisements"
GUNICORN_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [^]]+\] \[\d+\] \[[A-Z]+\] ")
REQUIRED = {"time", "level", "service", "version", "method", "path", "status", "duration_ms",
            "page_source", "request_id"}


def get_json(url: str, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def start_gunicorn(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run gunicorn in the service folder until it exits by itself (bounded by a timeout)."""
    # Empty version variables count as unset, so the developer's shell cannot leak in.
    full_env = {**os.environ, "BIND_HOST": "127.0.0.1", "PORT": str(free_port()), "WEB_CONCURRENCY": "1",
                "DD_TRACE_ENABLED": "false", "ADS_VERSION": "", "DD_VERSION": "", **env}
    return subprocess.run(
        [str(VENV_BIN / "gunicorn"), *args],
        cwd=SERVICE_DIR, env=full_env, capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(("env", "expected"), [
    ({"ADS_VERSION": "2.0", "DD_VERSION": "1.0"}, "2.0"),
    ({"DD_VERSION": "2.0"}, "2.0"),
    ({}, "1.0"),
])
def test_real_server_answers_with_its_version(env, expected):
    with run_service("advertisements", env={"ADS_VERSION": "", "DD_VERSION": "", **env}) as service:
        body = get_json(f"{service.url}/ads?category=kitchen&limit=2", {"page-source": "products"})
        assert body["version"] == expected
        assert body["page_source"] == "products"
        categories = {ad["category"] for ad in body["ads"]}
        assert categories == ({"kitchen"} if expected == "2.0" else {"general"})
        home = get_json(f"{service.url}/ads?category=kitchen", {"page-source": "home"})
        assert {ad["category"] for ad in home["ads"]} == {"general"}
        with urllib.request.urlopen(f"{service.url}{body['ads'][0]['banner_url']}", timeout=10) as banner:
            assert banner.headers["Content-Type"].startswith("image/svg+xml")
            assert f"Version {expected}".encode() in banner.read()


def test_real_server_logs_json_lines_on_stdout(tmp_path):
    # gunicorn's own lines go to a file of their own, so what remains is the app's output.
    env = {"ADS_VERSION": "2.0", "GUNICORN_CMD_ARGS": f"--error-logfile {tmp_path / 'gunicorn.log'}"}
    with run_service("advertisements", env=env) as service:
        get_json(f"{service.url}/ads?category=outdoor", {"page-source": "products", "x-request-id": "rid-42"})
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{service.url}/nope", timeout=10)
        assert missing.value.code == 404
    output = service.output()
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "the app logged something"
    parsed = [json.loads(line) for line in lines]  # every line is JSON, or this raises
    requests = {(entry.get("path"), entry.get("status")): entry for entry in parsed if "method" in entry}
    ads_line = requests[("/ads", 200)]
    assert REQUIRED <= set(ads_line)
    assert ads_line["service"] == "advertisements" and ads_line["version"] == "2.0"
    assert (ads_line["page_source"], ads_line["request_id"]) == ("products", "rid-42")
    assert requests[("/nope", 404)]["page_source"] == "home"
    assert "Starting gunicorn" in (tmp_path / "gunicorn.log").read_text()


@pytest.mark.parametrize(("variable", "value", "reason"), [
    ("ADS_VERSION", "3.0", "not a supported version; use 1.0 or 2.0"),
    ("DD_VERSION", "3.0", "not a supported version; use 1.0 or 2.0"),
    # The gunicorn settings both services share, read by the same parser.
    ("GUNICORN_THREADS", "many", "not a whole number"),
    ("PORT", "70000", "must be from 1 to 65535"),
])
def test_real_gunicorn_refuses_a_bad_setting_in_one_line(variable, value, reason):
    result = start_gunicorn(["-c", "gunicorn.conf.py", "wsgi:app"], {variable: value})
    output = (result.stdout + result.stderr).strip()
    assert result.returncode != 0
    assert "Traceback" not in output
    assert output.splitlines() == [f"advertisements: {variable}='{value}': {reason}"]


def test_worker_refusing_to_start_stops_gunicorn_instead_of_respawning(tmp_path):
    # Without the service's gunicorn.conf.py the check happens in the worker; gunicorn must
    # still stop (status 4, "App failed to load") rather than respawn the worker forever.
    empty_conf = tmp_path / "plain.conf.py"
    empty_conf.write_text("")
    bind = f"127.0.0.1:{free_port()}"
    result = start_gunicorn(["-c", str(empty_conf), "-b", bind, "wsgi:app"], {"ADS_VERSION": "7.0"})
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    app_lines = [line for line in output.splitlines() if line.strip() and not GUNICORN_LINE.match(line)]
    assert app_lines == ["advertisements: ADS_VERSION='7.0': not a supported version; use 1.0 or 2.0"]
    assert output.count("Booting worker") == 1
