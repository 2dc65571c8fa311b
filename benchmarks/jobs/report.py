"""The jobs benchmark's results as JSON and as a Markdown table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _ms(values: dict[str, float] | None) -> str:
    if values is None:
        return ""
    return f"{values['p50']:,.0f} / {values['p99']:,.0f} / {values['max']:,.0f}"


def write_results(results: dict[str, Any], folder: Path, *, small: bool) -> None:
    """benchmarks/results/jobs.{json,md} (jobs-small.* for a --small run)."""
    stem = "jobs-small" if small else "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    o = results["options"]
    lines = [
        "# Deployment-job benchmark",
        "",
        f"{o['versions']:,} versions made READY in a burst ({o['threads']} client threads) across "
        f"{o['models']} models, each linked to a 3-task job (evaluate → check → deploy, each "
        f"`true`). Server on SQLite with the default engine settings (poll 1 s, lease 30 s), "
        f"same machine ({results['cpus']} CPUs) as the clients and the workers. Celery set-ups: "
        "Redis broker, one-slot `modelcatalog worker` processes, server with `--job-workers 0`.",
        "",
        "Command: `.venv/bin/python -m benchmarks.jobs" + (" --small" if small else "") + "`",
        "",
        "READY → start: the run is created in the finalize transaction and starts when its first "
        "task is claimed. Idle: versions made one at a time before the burst, each waited for. "
        "Hand-over: a task's start after the end of the task it depends on. Attempt: claim to "
        "recorded outcome of one task (token, process, database). Slot use: the share of the "
        "slots' time spent in attempts during the burst. Times in ms as p50 / p99 / max.",
        "",
        "| set-up | slots | burst (s) | all SUCCEEDED (s) | runs/s | READY → start, burst "
        "| READY → start, idle | READY → SUCCEEDED, burst | hand-over | attempt | slot use | load "
        "| lost or twice |",
        "|---|---:|---:|---:|---:|---|---|---|---|---|---:|---:|---|",
    ]
    for m in results["setups"]:
        check = m["integrity"]
        verdict = (
            f"none ({check['runs']:,} runs, {check['attempt_rows']:,} attempts)"
            if check["ok"]
            else "SEE JSON: " + json.dumps({k: v for k, v in check.items() if k != "ok"})
        )
        lines.append(
            f"| {m['setup']} | {m['slots']} | {m['burst_seconds']:,.1f} | "
            f"{m['total_seconds']:,.1f} | {o['versions'] / m['total_seconds']:,.1f} | "
            f"{_ms(m['ready_to_start_ms'])} | {_ms(m['idle_ready_to_start_ms'])} | "
            f"{_ms(m.get('ready_to_succeeded_ms'))} | "
            f"{_ms(m['task_hand_over_ms'])} | {_ms(m.get('attempt_ms'))} | "
            f"{m['slot_use']:.0%} | {m['load_at_burst']:.2f} | {verdict} |"
        )
    lines.append("")
    lines.append(
        "Load: the 1-minute load average when the burst started (other work on the machine "
        f"moves every figure). Machine: {os.uname().sysname} {os.uname().machine}, "
        f"{results['cpus']} CPUs."
    )
    lines.append("")
    text = "\n".join(lines)
    (folder / f"{stem}.md").write_text(text)
    print(text)
