"""Read the course from the docs pages: the commands to replay and what the learner should see.

A course page marks every shell block with one class:

- ``{.bash .localmesh}``: a local-mesh command, replayed in page order;
- ``{.bash .cluster}``: the same step on a cluster, shown next to the replayed one;
- ``{.bash .cluster-only title="Cluster only: why"}``: a step that exists only on a cluster.

and states what the learner should see in ``!!! success "What you see"`` admonitions whose every
line is one expectation, such as::

    - home page <http://127.0.0.1:8080/>: always 1.0
    - product page <http://127.0.0.1:8080/products/chef-knife>: 1.0 and 2.0, 50/50
    - ads call <http://127.0.0.1:5002/ads> with header `page-source: products`: status 503
    - `localmesh status` shows `page-source=products -> v1 50%, v2 50%`
    - the output shows `IST0101`
    - within 30 s, `make traces` shows `advertisements requests by version`

An unmarked shell block or a line the grammar cannot read is an error naming the page and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
COURSE_SECTION = "The course"
EXPECTATION_TITLE = "What you see"

REPLAYED, CLUSTER, CLUSTER_ONLY = "localmesh", "cluster", "cluster-only"
MARKERS = (REPLAYED, CLUSTER, CLUSTER_ONLY)
CLUSTER_ONLY_TITLE = "Cluster only: "
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
# The commands that run in the foreground until Ctrl-C: the replay starts them in the background.
FOREGROUND = re.compile(r"^(?:localmesh up\b|make run\b)")

FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})[ ]*(?P<info>.*?)[ ]*$")
ADMONITION = re.compile(r'^(?P<indent>[ ]*)(?:!!!|\?\?\?\+?) \w+ "(?P<title>[^"]*)"[ ]*$')

OUTCOME = r"\d+\.\d+|no banner"
PAGE_CHECK = re.compile(
    r"- (?P<label>[^<`]*?)[ ]*<(?P<url>http://[^>\s]+)>"
    r"(?: with header `(?P<header>[A-Za-z0-9-]+): (?P<value>[^`]+)`)?: (?P<claim>.+)"
)
OUTPUT_CHECK = re.compile(
    r"- (?:within (?P<within>\d+) s, )?(?:`(?P<command>[^`]+)`|the output) "
    r"(?P<verb>shows|does not show) `(?P<text>[^`]+)`"
)
ALWAYS = re.compile(
    rf"always (?P<outcome>{OUTCOME})(?:, each view takes at least (?P<seconds>\d+(?:\.\d+)?) s)?"
)
SPLIT = re.compile(
    rf"(?P<first>{OUTCOME}) and (?P<second>{OUTCOME}), (?P<first_weight>\d+)/(?P<second_weight>\d+)"
)
STATUS = re.compile(r"status (?P<status>\d{3})")
SHOWS = re.compile(r"(?P<verb>shows|does not show) `(?P<text>[^`]+)`")


class CourseError(ValueError):
    """A page the replay cannot read; the message names the page and line."""


@dataclass(frozen=True)
class Place:
    page: str  # relative to docs/
    line: int

    def __str__(self) -> str:
        return f"docs/{self.page}:{self.line}"


@dataclass(frozen=True)
class Block:
    """A shell block of a course page."""

    place: Place
    marker: str
    script: str
    title: str = ""

    @property
    def replayed(self) -> bool:
        return self.marker == REPLAYED

    @property
    def commands(self) -> list:
        """The block's command lines, without comments and blank lines."""
        lines = (line.split(" #", 1)[0].strip() for line in self.script.splitlines())
        return [line for line in lines if line and not line.startswith("#")]

    @property
    def starts_mesh(self) -> bool:
        return any(FOREGROUND.match(command) for command in self.commands)

    @property
    def reason(self) -> str:
        """Why a shown block is not replayed."""
        if self.marker == CLUSTER_ONLY:
            return self.title
        return "the cluster side of a replayed step" if self.marker == CLUSTER else ""


@dataclass(frozen=True)
class Always:
    outcome: str  # a banner version such as "1.0", or "no banner"
    min_seconds: Optional[float] = None  # every view takes at least this long


@dataclass(frozen=True)
class Split:
    first: str
    second: str
    second_share: float  # of the views, from the page's "a/b"


@dataclass(frozen=True)
class Status:
    code: int


@dataclass(frozen=True)
class Shows:
    text: str
    present: bool = True


Claim = Union[Always, Split, Status, Shows]


@dataclass(frozen=True)
class PageCheck:
    """What requests to one URL (optionally with one header) answer."""

    place: Place
    line: str
    url: str
    headers: tuple  # ((name, value),) or ()
    claim: Claim


@dataclass(frozen=True)
class OutputCheck:
    """What a command prints: the last replayed block (command None) or a command run for the check."""

    place: Place
    line: str
    text: str
    present: bool
    command: Optional[str] = None
    within_seconds: float = 0.0


Item = Union[Block, PageCheck, OutputCheck]


def course_pages(mkdocs_yml: Path = MKDOCS_YML) -> list:
    """The course pages, in the order of the site's navigation (paths relative to docs/)."""
    config = yaml.safe_load(mkdocs_yml.read_text(encoding="utf-8"))
    for entry in config.get("nav", []):
        if isinstance(entry, dict) and COURSE_SECTION in entry:
            return [_nav_path(child) for child in entry[COURSE_SECTION]]
    raise CourseError(f"{mkdocs_yml.name}: no nav section {COURSE_SECTION!r}")


def _nav_path(entry: object) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and len(entry) == 1:
        value = next(iter(entry.values()))
        if isinstance(value, str):
            return value
    raise CourseError(f"mkdocs.yml: a course nav entry must name one page, not {entry!r}")


def read_course(docs_dir: Path, pages: list) -> list:
    """(page, items) for every course page, in order."""
    return [(page, read_page(docs_dir / page, page)) for page in pages]


def read_page(path: Path, page: str) -> list:
    """The page's blocks and expectations, in reading order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    items: list = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        admonition = ADMONITION.match(lines[index])
        if fence:
            index = _read_fence(lines, index, fence, page, items)
        elif admonition and admonition["title"] == EXPECTATION_TITLE:
            index = _read_expectations(lines, index, admonition, page, items)
        else:
            index += 1
    return items


def _read_fence(lines: list, start: int, fence: re.Match, page: str, items: list) -> int:
    indent, marks = fence["indent"], fence["fence"]
    closing = re.compile(rf"^{indent}{re.escape(marks[0])}{{{len(marks)},}}[ ]*$")
    end = next((i for i in range(start + 1, len(lines)) if closing.match(lines[i])), None)
    place = Place(page, start + 1)
    if end is None:
        raise CourseError(f"{place}: code block never closed")
    language, classes, title = _fence_info(fence["info"])
    if language in SHELL_LANGUAGES:
        markers = [c for c in classes if c in MARKERS]
        if len(markers) != 1:
            raise CourseError(f"{place}: a shell block needs one of .{', .'.join(MARKERS)}, got {classes}")
        if markers[0] == CLUSTER_ONLY and not title.startswith(CLUSTER_ONLY_TITLE):
            raise CourseError(f'{place}: a .cluster-only block needs title="{CLUSTER_ONLY_TITLE}<why>"')
        script = "\n".join(line[len(indent):] for line in lines[start + 1:end])
        items.append(Block(place, markers[0], script, title))
    return end + 1


def _fence_info(info: str) -> tuple:
    """('bash', ['bash', 'localmesh'], 'title') from '{.bash .localmesh title="..."}' or 'bash'."""
    if info.startswith("{") and info.endswith("}"):
        classes = re.findall(r"(?:^|\s)\.([\w-]+)", info[1:-1])
        title = re.search(r'title="([^"]*)"', info)
        return (classes[0] if classes else ""), classes, (title[1] if title else "")
    language = info.split()[0] if info else ""
    return language, [language], ""


def _read_expectations(lines: list, start: int, admonition: re.Match, page: str, items: list) -> int:
    body_indent = len(admonition["indent"]) + 4
    index = start + 1
    found = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() and len(line) - len(line.lstrip(" ")) < body_indent:
            break
        if line.strip():
            items.append(parse_expectation(line.strip(), Place(page, index + 1)))
            found += 1
        index += 1
    if not found:
        raise CourseError(f"{Place(page, start + 1)}: a {EXPECTATION_TITLE!r} box without expectations")
    return index


def parse_expectation(line: str, place: Place) -> Union[PageCheck, OutputCheck]:
    """One line of a "What you see" box; anything the grammar cannot read is an error."""
    output = OUTPUT_CHECK.fullmatch(line)
    if output:
        return OutputCheck(place, line, output["text"], output["verb"] == "shows", output["command"],
                           float(output["within"] or 0))
    page = PAGE_CHECK.fullmatch(line)
    if not page:
        raise CourseError(f"{place}: cannot read this expectation: {line}")
    headers = ((page["header"].lower(), page["value"]),) if page["header"] else ()
    return PageCheck(place, line, page["url"], headers, parse_claim(page["claim"], place))


def parse_claim(text: str, place: Place) -> Claim:
    always = ALWAYS.fullmatch(text)
    if always:
        return Always(always["outcome"], float(always["seconds"]) if always["seconds"] else None)
    split = SPLIT.fullmatch(text)
    if split:
        first_weight, second_weight = int(split["first_weight"]), int(split["second_weight"])
        if split["first"] == split["second"] or not first_weight or not second_weight:
            raise CourseError(f"{place}: a split names two outcomes with weights above 0: {text}")
        return Split(split["first"], split["second"], second_weight / (first_weight + second_weight))
    status = STATUS.fullmatch(text)
    if status:
        return Status(int(status["status"]))
    shows = SHOWS.fullmatch(text)
    if shows:
        return Shows(shows["text"], shows["verb"] == "shows")
    raise CourseError(f"{place}: cannot read this claim: {text}")
