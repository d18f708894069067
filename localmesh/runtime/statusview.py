"""`localmesh status` as text: workloads with their CPU and memory, the listeners, the
clusters with the load balancer Envoy uses, and the routes in force."""

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


def _cpu(row: dict) -> str:
    value = row.get("cpu_percent")
    return "-" if value is None else f"{value:.1f}%"


def _memory(row: dict) -> str:
    value = row.get("memory_bytes")
    return "-" if value is None else f"{value / (1024 * 1024):.0f}Mi"


def format_status(status: dict) -> str:
    """The status dict from a running `up` as readable text."""
    rows = []
    for w in status.get("workloads", []):
        if w.get("kind") != "pod":
            continue
        rows.append([w["name"], w.get("deployment", "-"), _labels(w.get("labels", {})),
                     w.get("version") or "-", w.get("pid") or "-", w.get("port", "-"),
                     "yes" if w.get("ready") else "no", w.get("restarts", 0), w.get("state", ""),
                     _cpu(w), _memory(w)])
    lines = ["WORKLOADS"]
    headers = ["POD", "DEPLOYMENT", "LABELS", "VERSION", "PID", "PORT", "READY", "RESTARTS", "STATE",
               "CPU", "MEMORY(PSS)"]
    lines += _table(headers, rows)
    for w in status.get("workloads", []):
        if w.get("kind") in ("envoy", "trace-agent"):
            where = f"admin {status.get('admin')}" if w["kind"] == "envoy" else f"port {w.get('port')}"
            ready = "yes" if w.get("ready") else "no"
            lines.append(f"{w['name']}: pid {w.get('pid') or '-'}, ready {ready}, "
                         f"restarts {w.get('restarts', 0)}, cpu {_cpu(w)}, memory {_memory(w)} (PSS), "
                         f"{where}")
    lines += ["", "SERVICES"]
    svc_rows = [[f"{s['service']}.{s['namespace']}", s["port"], f"http://{s['listener']}"]
                for s in status.get("services", [])]
    svc_rows += [[f"gateway {g['gateway']}", "-", f"http://{g['listener']}"]
                 for g in status.get("gateways", [])]
    lines += _table(["SERVICE", "PORT", "LISTENER"], svc_rows)
    lines += ["", "CLUSTERS"]
    lines += _table(["CLUSTER", "LOAD BALANCER", "ENDPOINTS"],
                    [[c["cluster"], c["load_balancer"], c["endpoints"]] for c in status.get("clusters", [])])
    lines += ["", "ROUTES"]
    lines += [f"  {route}" for route in status.get("routes", [])] or ["  (none)"]
    if status.get("warnings"):
        lines += ["", "WARNINGS"] + [f"  {w}" for w in status["warnings"]]
    return "\n".join(lines)
