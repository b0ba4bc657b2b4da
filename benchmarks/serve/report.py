"""Targets, overhead ratios, the markdown report and the plot of ``make bench-serve``.

The results dict has the shape of ``benchmarks/results/graph.json``: one key per benchmark
section (``serve`` here) holding ``settings``, the measured rows, ``targets`` and ``notes``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SERVER = "arag serve"
IN_PROCESS = "in-process ainvoke"
SIMULATED = ", simulated LLM"
REPLICAS = "arag serve ×2"
"""Two ``arag serve`` processes, requests alternating between them (replicas behind a balancer)."""
SERVICE_CLIENTS = 128
P99_CLIENTS = 32


def with_llm(host: str, base_ms: float) -> str:
    """``host``'s row name with the LLM stub: ``arag serve, simulated LLM (300 ms/call)``."""
    return f"{host}{SIMULATED} ({base_ms:g} ms/call)"


def baseline_of(host: str) -> str:
    """The in-process row a host is compared with: the one with the same model."""
    return IN_PROCESS + host[host.index(SIMULATED) :] if SIMULATED in host else IN_PROCESS


def target_hosts(hosts: dict[str, Any]) -> list[str]:
    """The rows the service targets are judged on: ``arag serve`` (one or two processes)."""
    return [
        h for h in hosts if h == SERVER or h.startswith((SERVER + SIMULATED, REPLICAS + SIMULATED))
    ]


def _level(rows: list[dict[str, Any]], concurrency: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["concurrency"] == concurrency), None)


def targets(hosts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The issue's service targets per ``arag serve`` row, each with its value and PASS/FAIL."""
    out: list[dict[str, Any]] = []
    for name in target_hosts(hosts):
        rows = hosts[name]
        busy = _level(rows, SERVICE_CLIENTS)
        if busy is not None:
            out.append(
                {
                    "target": f"{name}: no errors at {SERVICE_CLIENTS} concurrent clients",
                    "host": name,
                    "value": busy["errors"],
                    "limit": 0,
                    "pass": busy["errors"] == 0 and busy["ok"] > 0,
                }
            )
        single, loaded = _level(rows, 1), _level(rows, P99_CLIENTS)
        if single and loaded and single["p50_ms"] and loaded["p99_ms"]:
            ratio = round(loaded["p99_ms"] / single["p50_ms"], 2)
            out.append(
                {
                    "target": f"{name}: p99 at {P99_CLIENTS} clients ≤ 2× the single-client p50",
                    "host": name,
                    "value": ratio,
                    "limit": 2.0,
                    "pass": ratio <= 2.0,
                    "detail": f"p99 {loaded['p99_ms']} ms at {P99_CLIENTS} clients, "
                    f"p50 {single['p50_ms']} ms at 1 client",
                }
            )
    return out


def capacity_note(hosts: dict[str, list[dict[str, Any]]]) -> str | None:
    """Little's law on the measured figures: the throughput the p99 target would need."""
    rows = hosts.get(SERVER, [])
    single, loaded = _level(rows, 1), _level(rows, P99_CLIENTS)
    if not (single and loaded and single["p50_ms"] and loaded["cpu_ms_per_request"]):
        return None
    needed = P99_CLIENTS / (2 * single["p50_ms"] / 1000)
    per_core = 1000 / loaded["cpu_ms_per_request"]
    return (
        f"- This run: the p99 target at {P99_CLIENTS} clients needs every request done within "
        f"{2 * single['p50_ms']:.0f} ms, so a throughput of at least {needed:.0f} req/s "
        f"({P99_CLIENTS} / {2 * single['p50_ms'] / 1000:.3f} s). The server spent "
        f"{loaded['cpu_ms_per_request']} ms of CPU per request, i.e. at most {per_core:.0f} req/s "
        f"per fully free core; it delivered {loaded['req_per_s']} req/s at {P99_CLIENTS} clients."
    )


def llm_note(hosts: dict[str, list[dict[str, Any]]]) -> str | None:
    """Where the simulated-LLM row's single-client time goes, and what 32 clients need."""
    name = next((h for h in target_hosts(hosts) if SIMULATED in h), None)
    rows = hosts.get(name or "", [])
    single, loaded = _level(rows, 1), _level(rows, P99_CLIENTS)
    if not (single and loaded and single["p50_ms"] and single.get("llm_calls_per_request")):
        return None
    waits = (
        f"- This run, {name}: one client waits {single['p50_ms']} ms (p50) for "
        f"{single['llm_calls_per_request']} LLM calls per request"
    )
    in_flight = loaded.get("llm_peak_in_flight") or 0
    if in_flight < P99_CLIENTS:
        return (
            f"{waits}; at {P99_CLIENTS} clients only {in_flight} LLM calls were in flight at "
            "once, so requests queued inside the server before reaching the LLM."
        )
    needed = P99_CLIENTS / (single["p50_ms"] / 1000)
    server_cpu, client_cpu = loaded["cpu_ms_per_request"], loaded.get("client_cpu_ms_per_request")
    return (
        f"{waits}, so {P99_CLIENTS} clients that only wait need about {needed:.0f} req/s "
        f"({P99_CLIENTS} / {single['p50_ms'] / 1000:.2f} s): at {server_cpu} ms of server CPU "
        f"and {_cell(client_cpu)} ms of load-client CPU per request, "
        f"{needed * (server_cpu or 0) / 1000:.2f} + {needed * (client_cpu or 0) / 1000:.2f} cores. "
        f"It delivered {loaded['req_per_s']} req/s at {P99_CLIENTS} clients with "
        f"{in_flight} LLM calls in flight at once: what queueing remains is for the CPU, not "
        "for a lock or a thread."
    )


def overhead(hosts: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per level: each server host's p50 and req/s against the in-process graph's, same model."""
    out = []
    for name, rows in hosts.items():
        if name.startswith(IN_PROCESS):
            continue
        base = hosts.get(baseline_of(name), [])
        for r in rows:
            b = _level(base, r["concurrency"])
            if not b or not b["p50_ms"] or not r["p50_ms"] or not r["req_per_s"]:
                continue
            out.append(
                {
                    "host": name,
                    "baseline": baseline_of(name),
                    "concurrency": r["concurrency"],
                    "p50_ratio": round(r["p50_ms"] / b["p50_ms"], 2),
                    "throughput_ratio": round(b["req_per_s"] / r["req_per_s"], 2),
                    "p50_added_ms": round(r["p50_ms"] - b["p50_ms"], 1),
                }
            )
    return out


def _cell(value: Any) -> str:
    return "–" if value is None else f"{value}"


def _llm_setting(settings: dict[str, Any]) -> str:
    llm = settings.get("llm")
    if not llm:
        return "not run"
    return (
        f"`benchmarks/serve/llm_stub.py`, {llm['base_ms']:g} ms per call + "
        f"{llm['per_100_tokens_ms']:g} ms per 100 output tokens"
    )


def markdown(results: dict[str, Any]) -> str:
    """The report as markdown."""
    serve = results["serve"]
    s = serve["settings"]
    lines = [
        "# Service load: `arag serve` against the graph in-process and `langgraph dev`",
        "",
        f"Generated by `make bench-serve` on {s['date']}: offline mode (no LLM, extractive "
        "answers) and, in the rows marked *simulated LLM*, an OpenAI-compatible stand-in "
        f"({_llm_setting(s)}), over the bundled sample corpus, {s['cpus']} CPU cores shared with "
        "other jobs "
        f"(load average {s['load_before']} before, {s['load_after']} after). Closed-loop clients: "
        "each sends its next request when the previous answer is complete, cycling through the "
        f"{len(s['questions'])} sample questions (`arag/sample_questions.json`). Each level runs "
        f"until at least max({s['min_requests']}, 4 × clients) requests and "
        f"{s['min_seconds']:g} s, or {s['max_seconds']:g} s at most; "
        "latency is per request, send to last byte, after a warm-up. Peak RSS and CPU per request "
        "are the server's process tree (psutil, every 50 ms); for the in-process row, the "
        "benchmark process itself. Timings on a shared machine are noisy: rerun with "
        "`make bench-serve`.",
        "",
        "Hosts:",
        "",
        *[f"- **{name}**: {text}" for name, text in s["hosts"].items()],
        "",
        "| host | clients | requests | errors | req/s | p50 ms | p99 ms | peak RSS MB "
        "| CPU ms/request | client CPU ms/request | LLM calls/request | LLM calls in flight, "
        "peak | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in serve["hosts"].items():
        for r in rows:
            kinds = ", ".join(f"{k}: {v}" for k, v in r["error_kinds"].items())
            lines.append(
                f"| {name} | {r['concurrency']} | {r['requests']} "
                f"| {r['errors']}{f' ({kinds})' if kinds else ''} | {r['req_per_s']} "
                f"| {_cell(r['p50_ms'])} | {_cell(r['p99_ms'])} | {r['peak_rss_mb']} "
                f"| {_cell(r['cpu_ms_per_request'])} "
                f"| {_cell(r.get('client_cpu_ms_per_request'))} "
                f"| {_cell(r.get('llm_calls_per_request'))} "
                f"| {_cell(r.get('llm_peak_in_flight'))} | {r.get('load', '–')} |"
            )
    lines += [
        "",
        "## Server overhead against the graph in-process",
        "",
        "p50 ratio = the host's p50 / in-process p50 at the same number of clients, with the "
        "same model (offline or simulated LLM); throughput ratio = in-process req/s / the "
        "host's req/s (above 1: the host serves fewer requests).",
        "",
        "| host | clients | p50 ratio | p50 added ms | throughput ratio |",
        "|---|---|---|---|---|",
    ]
    for o in serve["overhead"]:
        lines.append(
            f"| {o['host']} | {o['concurrency']} | {o['p50_ratio']} | {o['p50_added_ms']} "
            f"| {o['throughput_ratio']} |"
        )
    lines += ["", "## Targets", ""]
    for t in serve["targets"]:
        detail = f"; {t['detail']}" if t.get("detail") else ""
        lines.append(
            f"- {'PASS' if t['pass'] else 'FAIL'}: {t['target']} (measured {t['value']}{detail})"
        )
    lines += ["", "## Notes", "", *serve["notes"], "", "![req/s and p99](serve_load.png)", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], out_dir: Path) -> Path:
    """req/s and p99 against the number of clients, one line per host."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hosts = results["serve"]["hosts"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6))
    for name, rows in hosts.items():
        rows = [r for r in rows if r["p99_ms"] is not None]
        if not rows:
            continue
        xs = [r["concurrency"] for r in rows]
        left.plot(xs, [r["req_per_s"] for r in rows], marker="o", label=name)
        right.plot(xs, [r["p99_ms"] for r in rows], marker="o", label=name)
    for ax, label in ((left, "requests / s"), (right, "p99 latency (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    right.set_yscale("log")
    handles, labels = left.get_legend_handles_labels()
    # Below both plots: inside either it hides the lines it names.
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("Offline and with a simulated LLM (shared 2-core machine)", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 + 0.045 * ((len(labels) + 2) // 3), 1, 1))
    path = out_dir / "serve_load.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``serve.md``, ``serve.json`` and ``serve_load.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "serve.md", out_dir / "serve.json"
    md.write_text(markdown(results), encoding="utf-8")
    js.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [md, js, plot(results, out_dir)]
