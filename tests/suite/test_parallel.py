"""The suite's rules under pytest-xdist (`make test` runs with -n): the conformance line is counted in
the controller and printed once, REQUIRE_ALL_TOOLS still fails a skip, and tests that share an
expensive fixture run on one worker, which sets it up once."""

from __future__ import annotations

ROUTING = """
import pytest

def test_weights_split():
    pass

def test_header_match():
    assert False, "deliberately failing"

@pytest.mark.conformance_skip
@pytest.mark.skip(reason="mirroring is not expressible here")
def test_mirror():
    pass
"""
ANALYZER = """
import pytest

@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_case(case):
    pass
"""
NOT_CONFORMANCE = """
import pytest

def test_other():
    pass

def test_tool_missing():
    pytest.skip("sometool not installed")
"""


def conformance_lines(output: str) -> list:
    starts = ("Istio conformance:", "not expressible")
    return [line for line in output.splitlines() if line.startswith(starts)]


def test_the_conformance_line_is_printed_once_with_every_worker_counted(inner_pytest):
    files = {"tests/conformance/test_routing_demo.py": ROUTING,
             "tests/conformance/test_analyzer_demo.py": ANALYZER,
             "tests/other/test_other.py": NOT_CONFORMANCE}
    parallel = inner_pytest(files, "-p", "conftest", "-n", "3", "--dist", "loadgroup")
    parallel.assert_outcomes(passed=5, failed=1, skipped=2)
    lines = conformance_lines(parallel.stdout.str())
    assert lines == ["not expressible here: tests/conformance/test_routing_demo.py::test_mirror: "
                     "Skipped: mirroring is not expressible here",
                     "Istio conformance: routing 1/3, analyzer 3/3 Istio cases"], parallel.stdout.str()
    # The same lines as a run without workers prints.
    assert conformance_lines(inner_pytest(files, "-p", "conftest").stdout.str()) == lines


def test_require_all_tools_fails_a_skip_on_a_worker_not_a_listed_conformance_skip(inner_pytest, monkeypatch):
    monkeypatch.setenv("REQUIRE_ALL_TOOLS", "1")
    files = {"tests/conformance/test_routing_demo.py": ROUTING, "tests/other/test_other.py": NOT_CONFORMANCE}
    result = inner_pytest(files, "-p", "conftest", "-n", "2", "--dist", "loadgroup")
    result.assert_outcomes(passed=2, failed=2, skipped=1)
    assert "skipped, but REQUIRE_ALL_TOOLS=1 forbids skips" in result.stdout.str()


SHARED = """
import os
import pytest

LOG = {log!r}

def note(what, worker_id):
    with open(LOG, "a") as log:
        log.write(f"{{what}} {{worker_id}}\\n")

@pytest.fixture(scope="session")
def shared_server(worker_id):
    note("setup shared_server", worker_id)
    return "server"

@pytest.fixture(scope="module")
def module_server(worker_id):
    note("setup module_server", worker_id)
    return "server"
"""
USES_SHARED = """
import pytest
from conftest import note

@pytest.mark.parametrize("n", range(6))
def test_reads(shared_server, worker_id, n):
    note("shared {name}", worker_id)
"""
USES_MODULE = """
import pytest
from conftest import note

@pytest.mark.parametrize("n", range(6))
def test_reads(module_server, worker_id, n):
    note("module", worker_id)
"""
PLAIN = """
import pytest
from conftest import note

@pytest.mark.parametrize("n", range(12))
def test_alone(worker_id, n):
    note("plain", worker_id)
"""


def test_tests_sharing_an_expensive_fixture_run_on_one_worker(inner_pytest, pytester):
    log = pytester.path / "events.log"
    files = {"conftest.py": SHARED.format(log=str(log)),
             "test_a.py": USES_SHARED.format(name="a"), "test_b.py": USES_SHARED.format(name="b"),
             "test_c.py": USES_MODULE, "test_plain.py": PLAIN}
    result = inner_pytest(files, "-p", "testkit.grouping", "-n", "3", "--dist", "loadgroup",
                          "--no-loadscope-reorder", "-v")
    result.assert_outcomes(passed=30)
    events = [line.rsplit(" ", 1) for line in log.read_text().splitlines()]
    workers = {what: {w for e, w in events if e == what} for what, _ in events}
    assert [e for e, _ in events].count("setup shared_server") == 1, events
    assert [e for e, _ in events].count("setup module_server") == 1, events
    assert workers["shared a"] == workers["shared b"] == workers["setup shared_server"], workers
    assert workers["module"] == workers["setup module_server"], workers
    # The rest is spread: each plain test is a unit of its own, free to go to any worker. (Which
    # worker takes it is the scheduler's timing: a fast worker may well take them all.)
    passed = [line.split()[-1] for line in result.stdout.lines if " PASSED " in line]
    plain = [nodeid for nodeid in passed if nodeid.startswith("test_plain.py::")]
    assert len(plain) == 12 and not any("@" in nodeid for nodeid in plain), passed
    shared = [nodeid for nodeid in passed if nodeid.startswith(("test_a.py", "test_b.py"))]
    assert len(shared) == 12 and all(nodeid.endswith("@shared_server") for nodeid in shared), passed


NOTES = """
import pytest
from testkit.summary import summary_lines, summary_section

TIMES = summary_section("demo section")

@pytest.mark.parametrize("n", range(4))
def test_notes(n):
    TIMES[f"value {n}"] = n * 10
    summary_lines("demo lines").append(f"line {n}")
"""


def test_summary_lines_noted_on_workers_are_printed_once(inner_pytest):
    for args in (("-n", "2"), ()):
        result = inner_pytest({"tests/test_notes.py": NOTES}, "-p", "conftest", *args)
        result.assert_outcomes(passed=4)
        output = result.stdout.str()
        assert output.count("demo section") == 1, output
        lines = [line for line in output.splitlines() if line.startswith("value ")]
        assert sorted(lines) == ["value 0: 0", "value 1: 10", "value 2: 20", "value 3: 30"], output
        lines = [line for line in output.splitlines() if line.startswith("line ")]
        assert sorted(lines) == ["line 0", "line 1", "line 2", "line 3"], output
