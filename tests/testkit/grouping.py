"""Parallel runs (pytest-xdist with --dist loadgroup): what must run on one worker, and in what order.

The scheduler hands each xdist_group to one worker as a whole and spreads the other tests one by
one. A test joins a group when it uses an expensive fixture of the suite that outlives it:
- a session-scoped one (the PostgreSQL server, the shared mesh): the fixture's group, so one
  worker starts it once and no two workers race for it;
- a module-scoped one (a module's servers or mesh), or a session-scoped one that each worker
  may set up for itself (`@each_worker_sets_up`: cheap, or one worker at a time under
  machine_lock, like the container images): its module's group, so its modules may run side
  by side.
Tests marked `postgres` use the session's PostgreSQL server (some only through a parametrized
fixture), so they go with it. Groups that share a test merge. A test with an xdist_group mark of
its own keeps it.

Workers take the heaviest work first (containers, then meshes and Envoys), so a long group does not
start last and leave the other workers idle at the end.
"""

from __future__ import annotations

import fcntl
import inspect
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    from _pytest.nodeid import NodeId
except ImportError:  # pytest before 9.2: xdist's own hook names the group
    NodeId = None

# Where installed plugins' fixtures come from (tmp_path_factory, xdist's worker_id, ...): not shared
# servers of the suite.
INSTALLED = {Path(sysconfig.get_paths()[key]).resolve() for key in ("stdlib", "purelib", "platlib")}
# Markers whose tests share a session fixture that not every one of them names.
MARKER_GROUPS = {"postgres": "postgres_cluster"}
# Rough cost of one test by marker (the largest applies), to start the heaviest work first.
WEIGHTS = {"containers": 100, "envoy": 30, "browser": 30, "postgres": 3}
SCOPE_SCOPES = {"session", "package"}
MODULE_SCOPES = {"module", "class"}


EACH_WORKER = "each_worker_sets_up"


def each_worker_sets_up(fixture_function: Callable) -> Callable:
    """Mark a session fixture that every worker may set up for itself (it is cheap, or it works
    under machine_lock), so the tests using it need not all run on one worker."""
    setattr(fixture_function, EACH_WORKER, True)
    return fixture_function


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Hold a lock that every process on this machine (any worker, any checkout) takes by name,
    for work on something the machine shares, such as podman's images. Released on exit, or when
    the process dies."""
    path = Path(tempfile.gettempdir()) / f"shop-tests-{name}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ours(fixturedef: object) -> bool:
    """A fixture of the suite's conftests and test modules, not of an installed plugin."""
    try:
        source = inspect.getsourcefile(fixturedef.func)
    except TypeError:
        return False
    return source is not None and not any(Path(source).resolve().is_relative_to(p) for p in INSTALLED)


def _shared_keys(item: pytest.Item) -> set:
    """The shared things item uses: session fixtures by name, module fixtures by module."""
    keys = {group for marker, group in MARKER_GROUPS.items() if item.get_closest_marker(marker)}
    definitions = getattr(item, "_fixtureinfo", None)
    for name in item.fixturenames if definitions else ():
        fixturedefs = definitions.name2fixturedefs.get(name)
        # An autouse fixture is everyone's: it would put the whole suite on one worker.
        if not fixturedefs or getattr(fixturedefs[-1], "_autouse", False) or not _ours(fixturedefs[-1]):
            continue
        scope = fixturedefs[-1].scope
        if scope in SCOPE_SCOPES and not getattr(fixturedefs[-1].func, EACH_WORKER, False):
            keys.add(name)
        elif scope in SCOPE_SCOPES or scope in MODULE_SCOPES:
            keys.add(item.nodeid.split("::")[0])
    return keys


def groups_of(items: list) -> dict:
    """item -> group name, for the items that share something (groups linked by an item merge)."""
    parent: dict = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keys_of = {item: sorted(_shared_keys(item)) for item in items}
    for keys in keys_of.values():
        for key in keys[1:]:
            first, other = root(keys[0]), root(key)
            if first != other:
                # The session fixture's name wins over a module path: it says what is shared.
                parent[max(first, other)] = min(first, other)
    return {item: root(keys[0]) for item, keys in keys_of.items() if keys}


def _weight(item: pytest.Item) -> int:
    return max((w for marker, w in WEIGHTS.items() if item.get_closest_marker(marker)), default=1)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    # tryfirst: before xdist's own hook, which reads the xdist_group marks on the workers.
    groups = groups_of(items)
    for item, group in groups.items():
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    if not getattr(config.option, "loadgroup", False):
        return  # not an xdist worker of a --dist loadgroup run: ids and order stay
    for item in items:
        _name_the_group(item)
    # Heaviest units of work first (a group counts as the sum of its tests); the order inside a
    # unit and between equals stays the collection order.
    unit_of = {item: _group_name(item) or item.nodeid for item in items}
    weight: dict = {}
    first: dict = {}
    for index, item in enumerate(items):
        weight[unit_of[item]] = weight.get(unit_of[item], 0) + _weight(item)
        first.setdefault(unit_of[item], index)
    position = {item: index for index, item in enumerate(items)}
    items.sort(key=lambda item: (-weight[unit_of[item]], first[unit_of[item]], position[item]))


def _group_name(item: pytest.Item) -> str:
    """The group as xdist names it: every xdist_group mark's name, sorted and joined."""
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in item.iter_markers("xdist_group")}
    return "_".join(sorted(names))


def _name_the_group(item: pytest.Item) -> None:
    """Append "@group" to the test's id, which is how the controller's loadgroup scheduler learns
    the group. xdist 3.8 does it by writing the id's old string field; since pytest 9.2 the id is
    a structured value and that write is ignored, so the groups would silently not count."""
    group = _group_name(item)
    if not group or NodeId is None or not hasattr(item, "_id") or str(item.nodeid).endswith(f"@{group}"):
        return
    item._id = NodeId.parse(f"{item.nodeid}@{group}")
