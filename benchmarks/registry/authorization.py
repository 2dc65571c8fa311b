"""What authorization costs: the registry scenarios against one server, first as the metastore
admin (who skips every check), then as a principal whose rights come through two levels of
nested groups and a catalog-level grant.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.registry.authorization [--quick]

Writes benchmarks/results/authorization.json and benchmarks/results/authorization.md. Target:
the governed principal keeps at least 0.8 of the admin's throughput in every scenario.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.registry import report, scenarios, servers  # noqa: E402
from benchmarks.registry.run import RESULTS, Plan, _cpus, _timed, run_scenarios  # noqa: E402

TARGET_RATIO = 0.8
NATIVE = "/api/modelcatalog"


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.url} -> {response.status_code}: {response.text}")
    return response.json()


def governed_principal(server: servers.Server) -> dict[str, str]:
    """analyst ∈ ml-inner ∈ ml-outer; ml-outer holds USE CATALOG, USE SCHEMA, EXECUTE and
    CREATE MODEL VERSION on catalog `main`. Returns the analyst's request headers."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as admin:
        for name, kind in (("analyst", "user"), ("ml-inner", "group"), ("ml-outer", "group")):
            _ok(admin.post(f"{NATIVE}/principals", json={"name": name, "kind": kind}))
        _ok(admin.post(f"{NATIVE}/principals/ml-inner/members", json={"member": "analyst"}))
        _ok(admin.post(f"{NATIVE}/principals/ml-outer/members", json={"member": "ml-inner"}))
        privileges = ["USE CATALOG", "USE SCHEMA", "EXECUTE", "CREATE MODEL VERSION"]
        _ok(
            admin.patch(
                "/api/2.1/unity-catalog/permissions/catalog/main",
                json={"changes": [{"principal": "ml-outer", "add": privileges, "remove": []}]},
            )
        )
        token = _ok(admin.post(f"{NATIVE}/tokens", json={"principal": "analyst"}))["token"]
    return {"Authorization": f"Bearer {token}"}


def _ratios(admin: dict[str, Any], governed: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for scenario, by_clients in admin.items():
        if scenario in ("trivial", "seeding"):
            continue
        flat = by_clients if scenario != "search_models" else None
        pairs = (
            [(f"{scenario} c={c}", n, governed[scenario][c]) for c, n in flat.items()]
            if flat is not None
            else [
                (f"search: {name} c={c}", n, governed[scenario][name][c])
                for name, per in by_clients.items()
                for c, n in per.items()
            ]
        )
        for label, ours, theirs in pairs:
            ratio = theirs["throughput_rps"] / ours["throughput_rps"]
            rows.append(
                {
                    "scenario": label,
                    "admin_rps": ours["throughput_rps"],
                    "governed_rps": theirs["throughput_rps"],
                    "admin_p99_ms": ours["p99_ms"],
                    "governed_p99_ms": theirs["p99_ms"],
                    "ratio": round(ratio, 3),
                    "meets_target": ratio >= TARGET_RATIO,
                }
            )
    return rows


def _markdown(rows: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    lines = [
        "# Authorization cost",
        "",
        "Same server, same data: the metastore admin against `analyst` (rights through two "
        "levels of nested groups and a grant on catalog `main`).",
        f"Settings: {json.dumps(settings)}",
        "",
        "| scenario | admin req/s | governed req/s | ratio | admin p99 ms | governed p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = "" if r["meets_target"] else " ✗"
        lines.append(
            f"| {r['scenario']} | {r['admin_rps']:,.0f} | {r['governed_rps']:,.0f} | "
            f"{r['ratio']:.2f}{mark} | {r['admin_p99_ms']:.1f} | {r['governed_p99_ms']:.1f} |"
        )
    lines.append("")
    lines.append(f"Target: ratio ≥ {TARGET_RATIO} in every scenario.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument("--models", type=int, help="models to seed for search (default 10,000)")
    parser.add_argument("--server-cpus", default="0" if (os.cpu_count() or 1) >= 2 else "all")
    parser.add_argument("--client-cpus", default="1" if (os.cpu_count() or 1) >= 2 else "all")
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the results")
    options = parser.parse_args()
    server_cpus, client_cpus = _cpus(options.server_cpus), _cpus(options.client_cpus)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    plan = Plan(options.quick, options.models)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="authorization-bench-") as tmp:
        with servers.modelcatalog(Path(tmp), workers=1, cpus=server_cpus) as server:
            scenarios.prepare_ours(server)
            workload = scenarios.ours()
            _timed(server, workload.create_model, 32, (0, plan.models), 1, "seed models")
            governed = dataclasses.replace(server, headers=governed_principal(server))
            print("as the metastore admin:", flush=True)
            as_admin = run_scenarios(server, workload, plan, 1)
            print("as analyst (nested groups, catalog grant):", flush=True)
            as_governed = run_scenarios(governed, workload, plan, 1)
    rows = _ratios(as_admin, as_governed)
    settings = {
        "quick": options.quick,
        "seeded_models": plan.models,
        "server_cpus": options.server_cpus,
        "client_cpus": options.client_cpus,
        "load_average_at_start": load_at_start,
    }
    document = {
        "benchmark": "authorization",
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": report.environment(),
        "settings": settings,
        "admin": as_admin,
        "governed": as_governed,
        "comparison": rows,
        "target_ratio": TARGET_RATIO,
        "all_met": all(r["meets_target"] for r in rows),
    }
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "authorization.json").write_text(json.dumps(document, indent=2) + "\n")
    (options.output / "authorization.md").write_text(_markdown(rows, settings))
    print(_markdown(rows, settings))


if __name__ == "__main__":
    main()
