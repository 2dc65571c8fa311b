"""Registry benchmark: this catalog's server against `mlflow server`, on the same machine.

Usage (from the repository root):

    .venv/bin/python -m benchmarks.registry [--quick] [--workers N]

Writes benchmarks/results/registry.json and benchmarks/results/registry.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks.registry` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import proc  # noqa: E402
from benchmarks.registry import report, scenarios, servers  # noqa: E402
from benchmarks.registry.load import Measurement, Step, measure  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results"


class Plan:
    """Request counts per scenario: fixed, so every run does the same bounded amount of work."""

    def __init__(self, quick: bool, models: int | None) -> None:
        self.quick = quick
        self.models = models if models is not None else (1_000 if quick else 10_000)
        self.trivial = (400, 2_000) if quick else (1_000, 10_000)  # (warm-up, timed)
        self.alias = (
            {1: (50, 300), 8: (100, 600), 32: (200, 1_000)}
            if quick
            else {1: (200, 2_000), 8: (400, 5_000), 32: (800, 5_000)}
        )
        self.versions = (64, 300) if quick else (128, 1_000)
        self.search = {1: (10, 50), 8: (40, 160)} if quick else {1: (20, 300), 8: (80, 800)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "seeded_models": self.models,
            "trivial": self.trivial,
            "resolve_alias": self.alias,
            "create_versions": {32: self.versions},
            "search_models": self.search,
            "note": "each pair is (untimed warm-up requests, timed requests)",
        }


class CpuMeter:
    """CPU seconds used by this process (and its reaped children) and by a server's processes."""

    def __init__(self, server: servers.Server) -> None:
        self.server = server
        self.pids = server.worker_pids()

    def _server_seconds(self) -> float:
        return sum(proc.cpu_seconds(pid) for pid in self.pids)

    @staticmethod
    def _client_seconds() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> CpuMeter:
        self.started = time.perf_counter()
        self.server_before, self.client_before = self._server_seconds(), self._client_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.perf_counter() - self.started
        self.server_cpu = (self._server_seconds() - self.server_before) / wall
        self.client_cpu = (self._client_seconds() - self.client_before) / wall


def _timed(
    server: servers.Server,
    step: Step,
    clients: int,
    counts: tuple[int, int],
    processes: int,
    label: str,
) -> dict[str, Any]:
    warmup, total = counts
    with CpuMeter(server) as cpu:
        result: Measurement = measure(
            server.url,
            server.headers,
            step,
            clients=clients,
            total=total,
            warmup=warmup,
            processes=processes,
        )
    numbers = result.summary()
    # Busy fraction of one CPU over the scenario, warm-up included: near 1.0 × workers means
    # the server is CPU-bound; near 1.0 for the client means the generator is the limit.
    numbers["server_cpu"] = round(cpu.server_cpu, 2)
    numbers["client_cpu"] = round(cpu.client_cpu, 2)
    print(
        f"  {server.kind:12} {label:28} c={clients:<3} {numbers['throughput_rps']:>8} req/s  "
        f"p50 {numbers['p50_ms']:>7} ms  p99 {numbers['p99_ms']:>7} ms  "
        f"errors {numbers['errors']}  cpu server {numbers['server_cpu']} client "
        f"{numbers['client_cpu']}",
        flush=True,
    )
    if result.errors:
        print(server.log_tail(1500), file=sys.stderr)
    return numbers


SCENARIOS = ("trivial", "alias", "create", "search")


def run_scenarios(
    server: servers.Server,
    workload: scenarios.Workload,
    plan: Plan,
    processes: int,
    chosen: tuple[str, ...] = SCENARIOS,
) -> dict[str, Any]:
    """The chosen measured scenarios against one running, prepared and seeded server."""
    out: dict[str, Any] = {}
    if "trivial" in chosen:
        out["trivial"] = {
            "request": workload.trivial.path,
            "32": _timed(server, workload.trivial, 32, plan.trivial, processes, "trivial endpoint"),
        }
    if "alias" in chosen:
        out["resolve_alias"] = {
            str(c): _timed(server, workload.resolve_alias, c, counts, processes, "resolve alias")
            for c, counts in plan.alias.items()
        }
    if "create" in chosen:
        out["create_versions"] = {
            "32": _timed(
                server, workload.create_version, 32, plan.versions, processes, "create version"
            )
        }
    if "search" in chosen:
        out["search_models"] = {
            name: {
                str(c): _timed(server, search, c, counts, processes, f"search: {name}")
                for c, counts in plan.search.items()
            }
            for name, search in workload.searches.items()
        }
    return out


def bench_mlflow(root: Path, options: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    data = root / "mlflow"
    started = time.perf_counter()
    seeded: dict[str, Any] | None = None
    if "search" in options.scenarios:
        servers.seed_mlflow_models(data, plan.models)
        seeded = {"models": plan.models, "how": "SQLAlchemy store, in process, before start",
                  "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
    with servers.mlflow(data, workers=options.workers, cpus=options.server_cpus) as server:
        scenarios.prepare_mlflow(server)
        results = run_scenarios(
            server, scenarios.mlflow(), plan, options.generator_processes, options.scenarios
        )
    if seeded:
        results["seeding"] = seeded
    return results


def bench_ours(root: Path, options: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    data = root / "modelcatalog"
    with servers.modelcatalog(
        data, workers=options.workers, cpus=options.server_cpus, log_level=options.log_level
    ) as server:
        scenarios.prepare_ours(server)
        workload = scenarios.ours()
        seeding: dict[str, Any] | None = None
        if "search" in options.scenarios:
            seeding = _timed(
                server, workload.create_model, 32, (0, plan.models),
                options.generator_processes, f"seed {plan.models} models",
            )  # fmt: skip
            seeding["how"] = "REST registered-models/create, 32 clients"
        results = run_scenarios(
            server, workload, plan, options.generator_processes, options.scenarios
        )
    if seeding:
        results["seeding"] = seeding
    return results


def _cpus(text: str) -> set[int] | None:
    if text.lower() in ("", "none", "all"):
        return None
    found: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes for both servers (default 1)"
    )
    pin_server, pin_client = ("0", "1") if (os.cpu_count() or 1) >= 2 else ("all", "all")
    parser.add_argument(
        "--server-cpus",
        default=pin_server,
        help=f"CPUs the servers run on, e.g. 0 or 0-1, or 'all' (default {pin_server})",
    )
    parser.add_argument(
        "--client-cpus",
        default=pin_client,
        help=f"CPUs the load generator runs on, or 'all' (default {pin_client})",
    )
    parser.add_argument(
        "--generator-processes", type=int, default=1, help="load generator processes (default 1)"
    )
    parser.add_argument("--models", type=int, help="models to seed for search (default 10,000)")
    parser.add_argument(
        "--log-level", default="info", help="our server's --log-level (default info, as shipped)"
    )
    parser.add_argument(
        "--only", choices=("mlflow", "modelcatalog"), help="measure one server (no ratios)"
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to measure, of {', '.join(SCENARIOS)} (default all; "
        "models are seeded only for search)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument(
        "--name",
        default="registry",
        help="file name of the results, without extension (default registry)",
    )
    options = parser.parse_args()
    options.scenarios = tuple(x.strip() for x in options.scenarios.split(",") if x.strip())
    unknown = sorted(set(options.scenarios) - set(SCENARIOS))
    if unknown or not options.scenarios:
        parser.error(
            f"--scenarios: {', '.join(unknown) or 'none given'} is not a scenario; "
            f"choose among {', '.join(SCENARIOS)}"
        )
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    options.server_cpus = _cpus(options.server_cpus)
    client_cpus = _cpus(options.client_cpus)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    plan = Plan(options.quick, options.models)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="registry-bench-") as tmp:
        if options.only != "modelcatalog":
            print("mlflow server:", flush=True)
            results["mlflow"] = bench_mlflow(Path(tmp), options, plan)
        if options.only != "mlflow":
            print("modelcatalog server:", flush=True)
            results["modelcatalog"] = bench_ours(Path(tmp), options, plan)

    document = report.document(
        results,
        plan.as_dict(),
        settings={
            "quick": options.quick,
            "workers": options.workers,
            "server_cpus": sorted(options.server_cpus) if options.server_cpus else "all",
            "client_cpus": sorted(client_cpus) if client_cpus else "all",
            "generator_processes": options.generator_processes,
            "scenarios": list(options.scenarios),
            "modelcatalog_log_level": options.log_level,
            # 1, 5 and 15 minute load averages before the run: other work on the machine.
            "load_average_at_start": load_at_start,
        },
    )
    report.write(document, options.output, options.name)
    print(f"wrote {options.output / options.name}.json and .md")


if __name__ == "__main__":
    main()
