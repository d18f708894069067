"""Each service's README lists, in its settings table, every variable the service's settings read.

The names come from the settings dataclasses themselves, so a setting added to the code and not
to the README fails here.
"""

from __future__ import annotations

import re

import pytest
from ads.settings import AdsServiceSettings
from shopcommon.serving import ServingSettings
from shopcommon.settings import setting_variables
from storefront.settings import StorefrontSettings
from testkit.processes import SERVICES

README_SETTINGS = {
    "frontend": (StorefrontSettings, ServingSettings),
    "advertisements": (AdsServiceSettings, ServingSettings),
}
_NAME = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def table_variables(readme: str) -> set[str]:
    """The `NAMES` in the first column of the README's table whose header starts with `variable`."""
    names: set[str] = set()
    in_table = False
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if not cells:
            in_table = False
        elif cells[0] == "variable":
            in_table = True
        elif in_table:
            names.update(_NAME.findall(cells[0]))
    return names


def test_the_table_reader_reads_first_cells_of_the_variable_table_only():
    readme = ("| variable | default |\n|---|---|\n| `A_B`, `C` | `NOT_THIS` |\n\n`D` in a paragraph\n"
              "| route | answer |\n|---|---|\n| `E` | x |\n")
    assert table_variables(readme) == {"A_B", "C"}


@pytest.mark.parametrize("service", sorted(README_SETTINGS))
def test_the_readme_lists_every_setting(service):
    wanted = [name for cls in README_SETTINGS[service] for name in setting_variables(cls)]
    listed = table_variables((SERVICES / service / "README.md").read_text())
    assert wanted, "the settings name their variables"
    assert [name for name in wanted if name not in listed] == [], f"services/{service}/README.md"
