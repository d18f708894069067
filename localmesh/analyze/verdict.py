"""The analyzer's verdict on a resource set: what the API server would refuse, and the rest.

One definition for every command that applies or renders manifests (up, apply, delete, render).

On a cluster only the API server's schema check and Istio's validating webhook refuse an
apply; every other `istioctl analyze` finding (a subset no DestinationRule defines, a subset
selecting no pod, ...) is accepted, and the traffic shows its effect (503 NC, 503 UH).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from localmesh.analyze.engine import analyze
from localmesh.analyze.messages import INFO
from localmesh.loader import Resource


@dataclass
class Verdict:
    refusals: list = field(default_factory=list)  # lines: the API server would refuse the set
    warnings: list = field(default_factory=list)  # lines: accepted; traffic shows the effect

    @property
    def refused(self) -> bool:
        return bool(self.refusals)

    @property
    def refusal(self) -> str:
        """Why the set is refused, for a one-line message."""
        return f"{len(self.refusals)} resource error(s) the API server would refuse"


def analyzer_report(resources: Iterable[Resource]) -> Verdict:
    """The analyzer's messages over resources, split into refusals and warnings.

    Info messages are left to `localmesh analyze`; up and apply show what needs attention.
    A finding istioctl rates an error but the API server accepts is printed as a warning,
    with istioctl's own text.
    """
    verdict = Verdict()
    for message in analyze(list(resources)):
        if message.refuses_apply:
            verdict.refusals.append(str(message))
        elif message.level != INFO:
            verdict.warnings.append(f"warning: {message}")
    return verdict


def admitted(resources: Iterable[Resource], refusing: str) -> bool:
    """For a command about to act on resources: print the analyzer's warnings and refusals on
    stderr and, when the API server would refuse the set, the line `localmesh: <refusing>`
    (a format whose {reason} is Verdict.refusal). True when the command may go on."""
    verdict = analyzer_report(resources)
    for line in verdict.warnings + verdict.refusals:
        print(line, file=sys.stderr)
    if verdict.refused:
        print("localmesh: " + refusing.format(reason=verdict.refusal), file=sys.stderr)
    return not verdict.refused
