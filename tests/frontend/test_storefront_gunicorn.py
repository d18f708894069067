"""The storefront as a real gunicorn process (its own gunicorn.conf.py), beside a real ads server."""

from __future__ import annotations

import subprocess

import requests
from storefront_pages import banner, csrf_token, elements, log_lines
from testkit.processes import SERVICES, VENV_BIN, free_port, run_service


def test_served_by_gunicorn_with_a_banner(ads_v2):
    with run_service("frontend", env={"ADS_URL": ads_v2.url, "WEB_CONCURRENCY": "2"}) as frontend:
        home = requests.get(f"{frontend.url}/", headers={"x-request-id": "gunicorn-home"}, timeout=10)
        product = requests.get(f"{frontend.url}/products/trail-backpack", timeout=10)
        health = requests.get(f"{frontend.url}/healthz", timeout=5)
        ready = requests.get(f"{frontend.url}/readyz", timeout=5)
        missing = requests.get(f"{frontend.url}/products/nope", timeout=5)
        picture_path = banner(product.text)["img"]
        picture = requests.get(f"{frontend.url}{picture_path}", timeout=10)
        output = frontend.output()
    assert home.status_code == 200
    assert banner(home.text)["data-ads-version"] == "2.0"
    assert banner(product.text)["data-ad-id"].startswith("outdoor-")
    assert picture.status_code == 200 and picture.headers["Content-Type"].startswith("image/svg+xml")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    assert missing.status_code == 404 and "text/html" in missing.headers["Content-Type"]
    # JSON request lines, with the request id and the version that answered.
    [line] = [entry for entry in log_lines(output) if entry.get("request_id") == "gunicorn-home"]
    assert (line["service"], line["version"], line["path"], line["status"]) == ("frontend", "1.0", "/", 200)
    assert (line["page_source"], line["ads_version"]) == ("home", "2.0")
    # The master generated the key (no warning from a worker generating its own).
    assert "SECRET_KEY is not set" not in output


def test_workers_share_the_generated_secret_key():
    """The cart added through one worker stays readable through the other over new connections."""
    ads_url = f"http://127.0.0.1:{free_port()}"
    with run_service("frontend", env={"ADS_URL": ads_url, "WEB_CONCURRENCY": "2"}) as frontend:
        session = requests.Session()
        token = csrf_token(session.get(f"{frontend.url}/products/chef-knife", timeout=10).text)
        added = session.post(
            f"{frontend.url}/cart/add",
            data={"csrf_token": token, "slug": "chef-knife", "quantity": "3"},
            allow_redirects=False,
            timeout=10,
        )
        assert added.status_code == 303
        counts = []
        for _ in range(20):
            # A new connection each time, so both workers get to answer.
            page = session.get(f"{frontend.url}/cart", headers={"Connection": "close"}, timeout=10)
            counts.append([row.get("data-quantity") for row in elements(page.text, css_class="cart-line")])
    assert counts == [["3"]] * 20


def test_bad_setting_stops_gunicorn_with_one_line():
    env = {
        "PATH": str(VENV_BIN),
        "ADS_READ_TIMEOUT": "soon",
        "PORT": str(free_port()),
        "BIND_HOST": "127.0.0.1",
    }
    result = subprocess.run(
        [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=SERVICES / "frontend",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == "frontend: ADS_READ_TIMEOUT='soon': not a number of seconds"
    assert "Traceback" not in result.stderr + result.stdout
