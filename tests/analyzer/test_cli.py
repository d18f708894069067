"""`localmesh analyze` as a user runs it: the installed script, exit codes, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from analyzer.corpus_loader import BASE, BROKEN

ROOT = Path(__file__).resolve().parents[2]
LOCALMESH = Path(sys.executable).parent / "localmesh"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCALMESH), "analyze", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_error_exits_1_with_istioctl_style_line():
    case = rel(BROKEN / "subset-missing.yaml")
    result = run(rel(BASE), case)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert (
        f"Error [IST0101] (VirtualService ns3/advertisements {case}:16) "
        'Referenced host+subset in destinationrule not found: "advertisements+v3"'
    ) in lines
    assert lines[-1].startswith("localmesh analyze: 1 errors, 0 warnings, 0 info in 8 resources from 2 files")
    assert result.stderr == ""


def test_messages_are_sorted_by_file_and_line():
    result = run(rel(BROKEN / "version-mismatch.yaml"), rel(BROKEN / "bad-regex.yaml"), rel(BASE))
    places = [line.split(") ", 1)[0].rsplit(" ", 1)[1] for line in result.stdout.splitlines()[:-1]]
    keys = [(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1])) for p in places]
    assert len(keys) == 6 and keys == sorted(keys)


def test_warnings_and_info_exit_0_unless_fail_on_says_so():
    info_case = rel(BROKEN / "port-name-convention.yaml")
    clean = run(rel(BASE), info_case)
    assert clean.returncode == 0
    assert f"Info [IST0118] (Service ns3/advertisements {info_case}:13)" in clean.stdout
    assert run("--fail-on", "info", rel(BASE), info_case).returncode == 1
    warning_case = rel(BROKEN / "unreachable-after-catch-all.yaml")
    assert run(rel(BASE), warning_case).returncode == 0
    assert run("--fail-on", "warning", rel(BASE), warning_case).returncode == 1


def assert_one_line_failure(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0]


def test_unparseable_yaml_is_one_line_with_file_and_line():
    case = rel(BROKEN / "unparseable-yaml.yaml")
    assert_one_line_failure(run(rel(BASE), case), f"localmesh: {case}:14:", "invalid YAML")


def test_missing_file_is_one_line():
    result = run(rel(BASE), "istio/no-such-file.yaml")
    assert_one_line_failure(result, "istio/no-such-file.yaml", "no such file")


def test_document_without_kind_is_one_line(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("datadog:\n  apm:\n    portEnabled: true\n")
    assert_one_line_failure(run(str(values)), f"{values}:1:", "apiVersion")


def test_unknown_kind_names_file_line_and_kind():
    case = rel(BROKEN / "unknown-kind.yaml")
    result = run(case)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if "[LM0001]" in line]
    assert f"{case}:4)" in line and "VirtualRouter" in line and "networking.istio.io/v1" in line


def test_folder_arguments_are_expanded(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "base.yaml").write_text(BASE.read_text())
    (tmp_path / "a" / "z-vs.yaml").write_text((BROKEN / "host-not-found.yaml").read_text())
    result = run(str(tmp_path / "a"))
    assert result.returncode == 1
    assert f"{tmp_path / 'a' / 'z-vs.yaml'}:15) Referenced host not found" in result.stdout


# `python -m localmesh ARGS`, writing the names in sys.modules at exit to the file argv[1]. (Not
# -X importtime: it does not see modules imported through importlib.)
RUN_AND_LIST_MODULES = """
import atexit, runpy, sys
listing = sys.argv.pop(1)
atexit.register(lambda: open(listing, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "localmesh"
runpy.run_module("localmesh", run_name="__main__", alter_sys=True)
"""


def imported_modules(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, set]:
    """Run `python -m localmesh ARGS`: the result and every module loaded when it exits."""
    listing = tmp_path / "modules.txt"
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, str(listing), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    return result, set(listing.read_text(encoding="utf-8").splitlines())


def test_analyze_imports_neither_the_runtime_nor_tracing_nor_envoy(tmp_path):
    result, modules = imported_modules(tmp_path, "analyze", rel(BASE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("localmesh analyze: 0 errors")
    assert {"localmesh.cli", "localmesh.analyze.cli", "localmesh.analyze.engine"} <= modules
    unneeded = sorted(m for m in modules if m.split(".")[:2] in (["localmesh", "runtime"],
                                                                ["localmesh", "tracing"],
                                                                ["localmesh", "envoy"]))
    assert unneeded == []
    # The same listing does show them for a command that needs them.
    _, modules = imported_modules(tmp_path, "status", "--state-dir", str(tmp_path / "none"))
    assert "localmesh.runtime.cli" in modules


def test_help_lists_every_command_each_module_registers():
    import argparse
    import importlib

    from localmesh.cli import COMMAND_MODULES

    # The table that picks a command's module names exactly what each module registers.
    for module_name, commands in COMMAND_MODULES.items():
        subcommands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module_name).register(subcommands)
        assert tuple(subcommands.choices) == commands, module_name
    result = subprocess.run([str(LOCALMESH), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")
              and not line.startswith("     ")]
    assert listed == [name for commands in COMMAND_MODULES.values() for name in commands]
