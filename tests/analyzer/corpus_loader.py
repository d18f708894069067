"""The broken-manifest corpus: each tests/analyzer/broken/*.yaml case states what it must produce.

Header comments of a case:
  # with: base                          analyze tests/analyzer/fixtures/base.yaml first
  # expect: <Level> <CODE> line <N>      one message expected at line N of the case file
  # expect: bad-input line <N>           the file cannot be read as manifests (exit 2, one line)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
BASE = HERE / "fixtures" / "base.yaml"

_EXPECT = re.compile(r"^# expect: (Error|Warning|Info) ([A-Z]+[0-9]{4}) line ([0-9]+)\s*$")
_BAD_INPUT = re.compile(r"^# expect: bad-input line ([0-9]+)\s*$")


@dataclass
class Case:
    path: Path
    with_base: bool = False
    expected: list = field(default_factory=list)  # (level, code, line)
    bad_input_line: Optional[int] = None

    @property
    def files(self) -> list:
        return ([BASE] if self.with_base else []) + [self.path]


def load_case(path: Path) -> Case:
    case = Case(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            continue
        if line.strip() == "# with: base":
            case.with_base = True
        elif found := _EXPECT.match(line):
            case.expected.append((found.group(1), found.group(2), int(found.group(3))))
        elif found := _BAD_INPUT.match(line):
            case.bad_input_line = int(found.group(1))
        elif line.startswith("# expect"):
            raise ValueError(f"{path}: unreadable expectation {line!r}")
    return case


def all_cases() -> list:
    return [load_case(path) for path in sorted(BROKEN.glob("*.yaml"))]
