"""The course, replayed from its pages: every local-mesh command in order, every "What you see" checked.

The commands and the expectations are read from docs/course/*.md in the order of mkdocs.yml's
navigation (docs.coursebook); nothing here repeats them. One test per page, in course order,
against the meshes the pages start (`localmesh up` in steps 1 and 3, `make run` in step 6), each
on free ports. Cluster commands are shown on the pages, not replayed: the session's summary lists
them with the reason.
"""

from __future__ import annotations

import pytest
from testkit.processes import REPO_ROOT

from docs.coursebook import course_pages, read_page
from docs.replayer import CourseReplay, ExperimentStoreAside, require_current_venv

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(900)]

DOCS = REPO_ROOT / "docs"
REPORT = REPO_ROOT / "test-artifacts" / "docs" / "course-replay.txt"


@pytest.fixture(scope="module")
def course(tmp_path_factory, course_report):
    require_current_venv()
    workdir = tmp_path_factory.mktemp("course")
    with ExperimentStoreAside(workdir / "experiment-store-of-this-checkout"):
        replay = CourseReplay(workdir)
        try:
            yield replay
        finally:
            try:
                replay.close()
            finally:
                course_report.extend(replay.report)
                REPORT.parent.mkdir(parents=True, exist_ok=True)
                REPORT.write_text("\n".join(replay.report) + "\n")


@pytest.mark.parametrize("page", course_pages())
def test_course_page(course, page):
    if course.broken_at is not None:
        pytest.fail(f"not replayed: the course broke at {course.broken_at}, and this page starts from there")
    items = read_page(DOCS / page, page)
    try:
        course.replay(items)
    except BaseException:
        course.broken_at = page
        raise
