"""`localmesh status` as text: a workloads table, the listeners and the routes in force."""

from __future__ import annotations


def _table(headers: list, rows: list) -> list:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return lines


def _labels(labels: dict) -> str:
    shown = {k: v for k, v in labels.items() if k in ("app", "version")}
    return ",".join(f"{k}={v}" for k, v in sorted(shown.items())) or "-"


def format_status(status: dict) -> str:
    """The status dict from a running `up` as readable text."""
    rows = []
    for w in status.get("workloads", []):
        if w.get("kind") == "envoy":
            continue
        rows.append([w["name"], w.get("deployment", "-"), _labels(w.get("labels", {})),
                     w.get("version") or "-", w.get("pid") or "-", w.get("port", "-"),
                     "yes" if w.get("ready") else "no", w.get("restarts", 0), w.get("state", "")])
    envoy = next((w for w in status.get("workloads", []) if w.get("kind") == "envoy"), None)
    lines = ["WORKLOADS"]
    headers = ["POD", "DEPLOYMENT", "LABELS", "VERSION", "PID", "PORT", "READY", "RESTARTS", "STATE"]
    lines += _table(headers, rows)
    if envoy:
        lines.append(f"envoy: pid {envoy.get('pid') or '-'}, ready {'yes' if envoy.get('ready') else 'no'}, "
                     f"restarts {envoy.get('restarts', 0)}, admin {status.get('admin')}")
    lines += ["", "SERVICES"]
    svc_rows = [[f"{s['service']}.{s['namespace']}", s["port"], f"http://{s['listener']}"]
                for s in status.get("services", [])]
    svc_rows += [[f"gateway {g['gateway']}", "-", f"http://{g['listener']}"]
                 for g in status.get("gateways", [])]
    lines += _table(["SERVICE", "PORT", "LISTENER"], svc_rows)
    lines += ["", "ROUTES"]
    lines += [f"  {route}" for route in status.get("routes", [])] or ["  (none)"]
    if status.get("warnings"):
        lines += ["", "WARNINGS"] + [f"  {w}" for w in status["warnings"]]
    return "\n".join(lines)
