"""Every broken manifest fails with exactly the expected codes at the expected file:line."""

from __future__ import annotations

import pytest

from analyzer.corpus_loader import BASE, all_cases
from localmesh.analyze import CODES, analyze
from localmesh.loader import ManifestError, load_paths

CASES = all_cases()
CHECKED = [c for c in CASES if c.bad_input_line is None]
UNREADABLE = [c for c in CASES if c.bad_input_line is not None]


def test_corpus_is_there():
    assert len(CASES) >= 30
    for case in CASES:
        assert case.expected or case.bad_input_line is not None, f"{case.path.name} states no expectation"


def test_base_fixture_is_clean():
    # Cases layered on the base must only see their own messages.
    assert analyze(load_paths([BASE])) == []


def test_every_code_has_a_broken_case():
    exercised = {code for case in CASES for _level, code, _line in case.expected}
    assert set(CODES) - exercised == set()


@pytest.mark.parametrize("case", CHECKED, ids=lambda c: c.path.stem)
def test_broken_case_reports_expected_messages(case):
    messages = analyze(load_paths(case.files))
    got = sorted((m.level, m.code, m.path, m.line) for m in messages)
    want = sorted((level, code, str(case.path), line) for level, code, line in case.expected)
    assert got == want, "analyzer said:\n" + "\n".join(str(m) for m in messages)


@pytest.mark.parametrize("case", UNREADABLE, ids=lambda c: c.path.stem)
def test_bad_input_names_file_and_line(case):
    with pytest.raises(ManifestError) as raised:
        load_paths(case.files)
    assert raised.value.path == str(case.path)
    assert raised.value.line == case.bad_input_line
    assert raised.value.reason
