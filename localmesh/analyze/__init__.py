"""Offline checks of Kubernetes and Istio manifests, as `kubectl apply` and `istioctl analyze` make them.

`analyze(resources)` returns Message objects printed as istioctl prints them. Two kinds of message:

- `message.refuses_apply` is True: the API server or Istio's validation webhook would refuse the
  resource (what `kubectl apply` and `istioctl validate` refuse): a schema error (LM0001 unknown
  kind, LM0002 Kubernetes schema, IST0106 Istio CRD schema or webhook rule). A tool that applies
  resources should refuse these.
- `message.refuses_apply` is False: an `istioctl analyze` finding (IST0101, IST0109, IST0173, ...)
  or one of this project's rules. kubectl accepts such a resource and traffic shows the effect;
  report it, do not refuse.

The same flag is on each Code in CODES (`CODES["IST0101"].refuses_apply`). `message.analyzer` names
the analyzer that reported it, as istioctl names its analyzers. `analyzer_report(resources)` makes
that split for a command: a Verdict with the refusals and the warnings to print; `admitted`
prints them for a command about to act on the resources.
"""

from localmesh.analyze.engine import analyze
from localmesh.analyze.messages import CODES, ERROR, INFO, WARNING, Message
from localmesh.analyze.verdict import Verdict, admitted, analyzer_report

__all__ = [
    "admitted", "analyze", "analyzer_report", "CODES", "ERROR", "INFO", "WARNING", "Message", "Verdict",
]
