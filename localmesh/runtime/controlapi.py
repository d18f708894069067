"""The control API of a running `up`: what GET /status, POST /apply and POST /delete do to its Runtime.

control.ControlServer carries the requests; the handlers here answer them. An apply or delete
runs the analyzer over the set it would leave and is refused (422) for what the API server would
refuse; bad manifests are a 400, a change the mesh cannot make (a port in use) a 409.
"""

from __future__ import annotations

from localmesh.analyze import analyzer_report
from localmesh.loader import ManifestError, load_text
from localmesh.runtime.control import Handler, Reply
from localmesh.runtime.engine import Runtime, StartError
from localmesh.runtime.ports import PortInUse


def control_handlers(runtime: Runtime) -> dict[tuple[str, str], Handler]:
    """(method, path) -> handler, for control.ControlServer."""
    return {
        # ?usage=0: without the CPU and memory columns, which take a sampling window.
        ("GET", "/status"): lambda payload: (200, runtime.status(usage=payload.get("usage") != "0")),
        ("POST", "/apply"): lambda payload: _change(runtime, payload, deleting=False),
        ("POST", "/delete"): lambda payload: _change(runtime, payload, deleting=True),
    }


def _change(runtime: Runtime, payload: dict, deleting: bool) -> Reply:
    """payload: {"files": [{"path", "text"}, ...]}, the manifests as the client read them."""
    try:
        resources = []
        for item in payload.get("files", []):
            resources.extend(load_text(str(item.get("text", "")), str(item.get("path", "<request>"))))
        verdict = analyzer_report(runtime.candidate_set(resources, deleting))
        if verdict.refused:
            return 422, {"lines": verdict.warnings + verdict.refusals, "error": f"refused: {verdict.refusal}"}
        if deleting:
            lines, found = runtime.delete(resources)
            return (200 if found else 404), {"lines": verdict.warnings + lines}
        return 200, {"lines": verdict.warnings + runtime.apply(resources)}
    except ManifestError as error:
        return 400, {"error": str(error)}
    except (StartError, PortInUse) as error:
        return 409, {"error": str(error)}
