"""`make images` with the docker users have: buildx plugin, BuildKit built into the CLI, or neither.

The Dockerfiles need BuildKit (RUN --mount for the optional CA secret). Each branch of
scripts/containers.sh runs against the real engine; the buildx plugin, which cannot be installed
here, is a stand-in `docker` script that hands its builds to the real engine's BuildKit.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testkit.processes import REPO_ROOT

from containers import engine

pytestmark = [pytest.mark.containers, pytest.mark.timeout(900)]

# One image is enough to see the builder chosen; its layers are cached by the session's build.
ONE_IMAGE = "ecommerce/advertisements:1.0"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _make_images(docker_cli: str, *variables: str, env: dict = None) -> tuple:
    """(exit code, output) of `make images` for ONE_IMAGE with docker_cli."""
    result = engine.Engine("docker", docker_cli).make(
        "images", f"IMAGES={ONE_IMAGE}", *variables, env=env, check=False, timeout=900,
    )
    return result.returncode, result.stdout + result.stderr


def _build_lines(output: str) -> list:
    return [line for line in output.splitlines() if line.startswith("+ ")]


def _cli_of_kind(kind) -> str:
    for cli in engine.docker_clis():
        if engine.buildkit_kind(cli) == kind:
            return cli
    pytest.skip(f"no docker CLI on PATH whose BuildKit support is {kind!r}: {engine.docker_clis()}")


def test_cli_with_buildkit_built_in_builds_with_the_ca_secret(docker_engine, docker_images):
    """Debian's docker.io (CLI 20.10): DOCKER_BUILDKIT=1 and --secret, no buildx needed."""
    if not CA_BUNDLE.is_file():
        pytest.skip(f"no {CA_BUNDLE} to hand in as the secret")
    cli = _cli_of_kind("builtin")
    code, output = _make_images(cli, f"CA_BUNDLE={CA_BUNDLE}")
    assert code == 0, output[-4000:]
    assert f"with the BuildKit built into its CLI (CA bundle {CA_BUNDLE} as build secret)" in output
    assert _build_lines(output) == [
        f"+ env DOCKER_BUILDKIT=1 {cli} build --secret id=ca,src={CA_BUNDLE} --build-arg ADS_VERSION=1.0 "
        f"-t {ONE_IMAGE} -f services/advertisements/Dockerfile services"
    ], output


def test_without_a_ca_bundle_builds_without_the_secret(docker_engine, docker_images):
    """CA_BUNDLE empty (no proxy to trust): no --secret at all; the Dockerfile's secret is optional.
    (Here the pip layer comes from the session's cache: this machine's proxy needs the bundle.)"""
    code, output = _make_images(docker_engine.cli, "CA_BUNDLE=")
    assert code == 0, output[-4000:]
    assert "(no CA bundle)" in output
    (line,) = _build_lines(output)
    assert "--secret" not in line, line
    assert line.endswith(f"-t {ONE_IMAGE} -f services/advertisements/Dockerfile services"), line


def test_buildx_plugin_builds_with_load(docker_engine, docker_images, tmp_path):
    """A docker with the buildx plugin builds with `docker buildx build --load`.

    Stand-in: no buildx plugin can be installed here, so this `docker` script answers `buildx version`
    and hands `buildx build --load ...` to the real engine's BuildKit; everything else goes to the real CLI.
    """
    log = tmp_path / "calls.log"
    standin = tmp_path / "bin" / "docker"
    standin.parent.mkdir()
    standin.write_text(f"""#!/bin/sh
# Stand-in for a docker CLI with the buildx plugin (see the test's docstring).
echo "$*" >> {log}
if [ "$1" = buildx ] && [ "$2" = version ]; then echo "github.com/docker/buildx stand-in"; exit 0; fi
if [ "$1" = buildx ] && [ "$2" = build ] && [ "$3" = --load ]; then
  shift 3
  DOCKER_BUILDKIT=1 exec {docker_engine.cli} build "$@"
fi
exec {docker_engine.cli} "$@"
""")
    standin.chmod(0o755)
    before = docker_engine.inspect_image(ONE_IMAGE)["Id"]
    code, output = _make_images(str(standin), f"CA_BUNDLE={CA_BUNDLE if CA_BUNDLE.is_file() else ''}")
    assert code == 0, output[-4000:]
    assert "with docker with the buildx plugin" in output
    (line,) = _build_lines(output)
    assert line.startswith(f"+ {standin} buildx build --load "), line
    calls = log.read_text().splitlines()
    assert [c for c in calls if c.startswith("buildx build --load ")], calls
    # The real engine built it: same layers, so the same image as the session's build.
    assert docker_engine.inspect_image(ONE_IMAGE)["Id"] == before


def test_cli_without_buildkit_says_in_one_line_what_to_install(docker_engine):
    """A docker CLI from 23.0 on without buildx (here the 28.x client) has only the legacy builder,
    which refuses --mount and --secret: make stops before building, naming what to install."""
    cli = _cli_of_kind(None)
    code, output = _make_images(cli)
    assert code != 0, output
    ours = [line for line in output.splitlines() if line.startswith("make images:")]
    assert len(ours) == 1, output
    assert re.search(r"cannot build with BuildKit.*install the Docker buildx plugin", ours[0]), ours[0]
    assert "unknown flag" not in output and not _build_lines(output), output


def test_a_missing_ca_bundle_is_one_line(docker_engine):
    code, output = _make_images(docker_engine.cli, "CA_BUNDLE=/nonexistent/ca.pem")
    assert code != 0
    assert [line for line in output.splitlines() if line.startswith("make images:")] == [
        "make images: CA_BUNDLE=/nonexistent/ca.pem: no such file"
    ], output


def test_no_engine_is_one_line(tmp_path):
    """Neither a docker daemon nor podman: one line naming both."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "make", "env", "grep", "sh", "dirname", "mkdir", "cat"):
        target = next(Path(d) / tool for d in ("/usr/bin", "/bin") if (Path(d) / tool).exists())
        (bin_dir / tool).symlink_to(target)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = engine.subprocess.run(
        ["make", "--no-print-directory", "images", f"IMAGES={ONE_IMAGE}"], cwd=REPO_ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    ours = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("make images:")]
    assert result.returncode != 0 and ours == [
        "make images: needs docker (with a running daemon) or podman; neither found"
    ], result.stdout + result.stderr
