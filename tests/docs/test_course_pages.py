"""The course pages read as the replay needs them, and the replay's checks can fail.

Fast (no Envoy): the grammar of the pages, the course's coverage of the shipped steps, and the
verdicts of the replay's judge on made-up observations.
"""

from __future__ import annotations

import re

import pytest
from testkit.processes import REPO_ROOT

from docs.coursebook import (
    Always,
    Block,
    CourseError,
    OutputCheck,
    PageCheck,
    Place,
    Shows,
    Split,
    Status,
    course_pages,
    parse_expectation,
    read_course,
    read_page,
)
from docs.replayer import NO_BANNER, View, judge

DOCS = REPO_ROOT / "docs"
HERE = Place("test.md", 1)


@pytest.fixture(scope="module")
def course():
    return read_course(DOCS, course_pages())


def replayed_commands(course) -> list:
    return [command for _, items in course for item in items
            if isinstance(item, Block) and item.replayed for command in item.commands]


def test_the_course_follows_the_navigation(course):
    pages = [page for page, _ in course]
    assert pages[0] == "course/index.md" and len(pages) == 8, pages
    for page, items in course[1:]:
        assert any(isinstance(i, Block) and i.replayed for i in items), f"{page} replays nothing"
        assert any(isinstance(i, (PageCheck, OutputCheck)) for i in items), f"{page} states nothing to see"


def test_every_step_of_the_workshop_is_replayed(course):
    commands = " ".join(replayed_commands(course))
    for scenario in sorted((REPO_ROOT / "istio" / "scenarios").glob("*.yaml")):
        assert f"-f istio/scenarios/{scenario.name}" in commands, f"no course step applies {scenario.name}"
    for path in ("k8s/service-networking/advertisements-v2.yaml", "istio/ads_v2/advertisements_v2.yaml",
                 "istio/ads_v2/destinationrule.yaml", "istio/ads_v2/virtualservice.yaml"):
        assert f"-f {path}" in commands, path
    assert "-k istio/ecommerce-istio" in commands
    for target in ("make run", "make traces", "make traffic", "make experiment-reset"):
        assert target in commands, target


def test_every_file_a_replayed_command_names_exists(course):
    for command in replayed_commands(course):
        for path in re.findall(r"-f (\S+)", command):
            assert (REPO_ROOT / path).exists(), f"{command}: no {path}"
        for folder in re.findall(r"-k (\S+)", command):
            assert (REPO_ROOT / folder / "kustomization.yaml").exists(), f"{command}: no kustomization"


def test_cluster_only_steps_say_why(course):
    shown = [i for _, items in course for i in items if isinstance(i, Block) and i.marker == "cluster-only"]
    assert shown, "the course shows no cluster-only step"
    assert all(len(block.reason) > len("Cluster only: ") + 10 for block in shown), shown


@pytest.mark.parametrize(("line", "expected"), [
    ("- home page <http://127.0.0.1:8080/>: always 1.0", Always("1.0")),
    ("- p <http://127.0.0.1:8080/products/x>: always 2.0, each view takes at least 1 s", Always("2.0", 1.0)),
    ("- p <http://127.0.0.1:8080/products/x>: 1.0 and 2.0, 90/10", Split("1.0", "2.0", 0.1)),
    ("- p <http://127.0.0.1:8080/products/x>: 1.0 and no banner, 50/50", Split("1.0", NO_BANNER, 0.5)),
    ("- ads <http://127.0.0.1:5002/ads> with header `page-source: products`: status 503", Status(503)),
    ("- v <http://127.0.0.1:8080/experiment>: does not show `Sample ratio mismatch`",
     Shows("Sample ratio mismatch", False)),
])
def test_page_expectations_read_as_claims(line, expected):
    check = parse_expectation(line, HERE)
    assert isinstance(check, PageCheck) and check.claim == expected


def test_a_header_travels_with_its_check():
    line = "- home <http://127.0.0.1:8080/> with header `X-Ads-Preview: v2`: always 2.0"
    check = parse_expectation(line, HERE)
    assert check.headers == (("x-ads-preview", "v2"),)


def test_output_expectations_name_their_command():
    check = parse_expectation("- within 30 s, `make traces` shows `istio-ingressgateway`", HERE)
    assert check == OutputCheck(HERE, check.line, "istio-ingressgateway", True, "make traces", 30.0)
    last = parse_expectation("- the output shows `IST0101`", HERE)
    assert last.command is None and last.text == "IST0101" and last.present


@pytest.mark.parametrize("line", [
    "- home page: always 1.0",  # no address
    "- home page <http://127.0.0.1:8080/>: mostly 1.0",
    "- home page <http://127.0.0.1:8080/>: 1.0 and 1.0, 50/50",
    "- home page <http://127.0.0.1:8080/>: 1.0 and 2.0, 100/0",
    "- the output contains IST0101",
    "home page <http://127.0.0.1:8080/>: always 1.0",  # not a list item
])
def test_an_unreadable_expectation_is_an_error(line):
    with pytest.raises(CourseError, match="test.md:1"):
        parse_expectation(line, HERE)


def test_an_unmarked_shell_block_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# P\n\n```bash\nlocalmesh apply -f x.yaml\n```\n")
    with pytest.raises(CourseError, match="page.md:3: a shell block needs one of"):
        read_page(page, "page.md")


def test_a_cluster_only_block_needs_its_reason(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# P\n\n```{.bash .cluster-only}\nkubectl exec x\n```\n")
    with pytest.raises(CourseError, match="needs title"):
        read_page(page, "page.md")


def test_blocks_in_tabs_and_boxes_are_read_in_order(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        '=== "Local mesh"\n\n    ```{.bash .localmesh}\n    localmesh up -f a.yaml  # terminal 1\n    ```\n\n'
        '=== "Cluster"\n\n    ```{.bash .cluster}\n    kubectl apply -f a.yaml\n    ```\n\n'
        '!!! success "What you see"\n    - home <http://127.0.0.1:8080/>: always 1.0\n\nAfter.\n'
    )
    local, cluster, check = read_page(page, "page.md")
    assert local.replayed and local.starts_mesh and local.commands == ["localmesh up -f a.yaml"]
    assert cluster.marker == "cluster" and not cluster.replayed
    assert check.claim == Always("1.0") and check.place == Place("page.md", 14)


def views(*outcomes, status=200, seconds=0.01) -> list:
    return [View(status, outcome, seconds, "") for outcome in outcomes]


def test_always_fails_on_one_stray_view():
    assert judge(Always("1.0"), views(*["1.0"] * 100)) is None
    assert "1 of 100 views" in judge(Always("1.0"), views(*["1.0"] * 99, "2.0"))
    assert judge(Always("1.0"), views("1.0", status=503)) is not None


def test_a_delay_is_a_lower_bound_on_every_view():
    assert judge(Always("2.0", 1.0), views("2.0", "2.0", seconds=1.2)) is None
    mixed = views("2.0", seconds=0.4) + views("2.0", seconds=1.2)
    assert "took less than" in judge(Always("2.0", 1.0), mixed)


def test_a_split_is_held_to_exact_binomial_bounds():
    even = Split("1.0", "2.0", 0.5)
    assert judge(even, views(*["1.0"] * 200, *["2.0"] * 200)) is None
    assert "outside the exact binomial" in judge(even, views(*["1.0"] * 250, *["2.0"] * 150))
    assert "neither" in judge(even, views(*["1.0"] * 200, *["2.0"] * 199, NO_BANNER))
    careful = Split("1.0", "2.0", 0.1)
    assert judge(careful, views(*["1.0"] * 360, *["2.0"] * 40)) is None
    assert judge(careful, views(*["1.0"] * 400)) is not None  # all on v1 is no 90/10


def test_status_and_text_claims():
    assert judge(Status(503), views(NO_BANNER, status=503)) is None
    assert judge(Status(503), views(NO_BANNER, NO_BANNER, status=200)) is not None
    shown = [View(200, NO_BANNER, 0.01, "Not enough data yet: 3 of 749")]
    assert judge(Shows("Not enough data yet"), shown) is None
    assert judge(Shows("Not enough data yet", present=False), shown) is not None
