"""Migration benchmark: `modelcatalog migrate run` against the vendor-documented loop and `cp`.

Small set: MODELS x VERSIONS tiny scikit-learn models. Large set: LARGE_VERSIONS versions of a
model with one LARGE_BYTES file. Both moved from a SQLite MLflow registry into a catalog server
on this machine by:
  - `modelcatalog migrate run --workers N` (measured: wall time, peak RSS of the run process);
  - the loop MLflow's documentation shows, one version at a time: download the version's
    artifacts, then create the version through MLflow's `databricks-uc` client pointed at the
    same server (DATABRICKS_HOST / DATABRICKS_TOKEN);
  - `cp -r` of the large set's folder (the bytes alone, disk to disk).
Results go to benchmarks/results/migrate.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import proc

ROOT = Path(__file__).resolve().parents[2]
# The catalog server of the tests (tests/support).
sys.path.insert(0, str(ROOT / "tests"))

RESULTS = ROOT / "benchmarks" / "results"
MiB = 1 << 20

LOOP = """
import os, sys, time, json, tempfile
import mlflow
from mlflow import MlflowClient
versions = json.loads(sys.argv[1])
client = MlflowClient(registry_uri="databricks-uc")
mlflow.set_tracking_uri(sys.argv[2])
started = time.monotonic()
for item in versions:
    local = mlflow.artifacts.download_artifacts(artifact_uri=item["artifact_uri"],
                                                dst_path=tempfile.mkdtemp())
    try:
        client.create_registered_model(item["target"])
    except Exception:
        pass
    client.create_model_version(item["target"], source=local, run_id=None)
print(json.dumps({"seconds": time.monotonic() - started, "versions": len(versions)}))
"""


def build_small(root: Path, models: int, versions: int) -> str:
    """MODELS x VERSIONS registered versions, each with its own copy of a tiny model."""
    import mlflow
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{root}/small.db"
    features = np.random.default_rng(1).normal(size=(20, 3))
    model = LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    template = root / "template"
    mlflow.sklearn.save_model(
        model,
        template,
        signature=infer_signature(features, model.predict(features)),
        pip_requirements=["scikit-learn"],
    )
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for m in range(models):
        name = f"small_{m:04d}"
        client.create_registered_model(name)
        for v in range(1, versions + 1):
            folder = root / "artifacts" / name / str(v)
            shutil.copytree(template, folder)
            client.create_model_version(name, folder.as_uri(), run_id=None)
        client.transition_model_version_stage(name, str(versions), "Production")
    return uri


def build_large(root: Path, versions: int, size: int) -> str:
    """VERSIONS versions of a model whose folder holds one SIZE-byte file (hard links)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{root}/large.db"
    blob = root / "blob.bin"
    with open(blob, "wb") as handle:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MiB))
            handle.write(chunk)
            left -= len(chunk)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("large")
    mlmodel = (
        "flavors: {python_function: {loader_module: mlflow.sklearn, python_version: 3.11.0}}\n"
        'signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n'
        '  outputs: \'[{"type": "long"}]\'\n'
    )
    for v in range(1, versions + 1):
        folder = root / "large-artifacts" / str(v)
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text(mlmodel)
        os.link(blob, folder / "weights.bin")
        client.create_model_version("large", folder.as_uri(), run_id=None)
    return uri


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) spent so far by a process and every process below it (the
    server and its worker processes), from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        total += proc.cpu_seconds(current)
        pending.extend(proc.children(current))
    return total


def migrate(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run `modelcatalog migrate ...` and time it."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "modelcatalog", "migrate", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate {args[0]} failed:\n{result.stderr[-4000:]}")
    return {"seconds": time.monotonic() - started}


def run_measured(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Like `migrate`, with the peak RSS (ru_maxrss) of the run process itself."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "modelcatalog", "migrate", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    err = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"migrate {args[0]} failed:\n{err.decode()[-4000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}


def plan_and_run(
    label: str, uri: str, server: Any, folder: Path, workers: int, env: dict[str, str]
) -> dict[str, Any]:
    catalog = f"bench_{label}_{uuid.uuid4().hex[:6]}"
    plan = folder / f"{label}.yaml"
    migrate(
        [
            "plan",
            "--source",
            uri,
            "--target",
            server.url,
            "--catalog",
            catalog,
            "--schema",
            "ml",
            "--skip-extras",
            "-o",
            str(plan),
        ],
        env,
        folder,
    )
    log = folder / f"{label}.run.jsonl"
    cpu_before = server_cpu_seconds(server.process.pid)
    measured = run_measured(
        ["run", str(plan), "--workers", str(workers), "--log", str(log)], env, folder
    )
    measured["server_cpu_seconds"] = server_cpu_seconds(server.process.pid) - cpu_before
    from modelcatalog.migrate.runlog import read_events

    finished = [e for e in read_events(log) if e["event"] == "run_finished"][-1]
    # The run's own time, without the seconds Python spends importing MLflow at start-up.
    measured["run_seconds"] = finished["seconds"]
    verify = migrate(["verify", str(plan), "--workers", str(workers)], env, folder)
    measured["verify_seconds"] = verify["seconds"]
    return measured


def vendor_loop(uri: str, server: Any, count: int, folder: Path) -> dict[str, Any]:
    """The documented loop over the first `count` versions of the small set."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    catalog = f"bench_loop_{uuid.uuid4().hex[:6]}"
    import httpx

    with httpx.Client(base_url=server.url, headers=server.headers()) as api:
        api.post("/api/2.1/unity-catalog/catalogs", json={"name": catalog}).raise_for_status()
        api.post(
            "/api/2.1/unity-catalog/schemas", json={"name": "ml", "catalog_name": catalog}
        ).raise_for_status()
    items = []
    for model in sorted(m.name for m in client.search_registered_models(max_results=1000)):
        for v in sorted(
            client.search_model_versions(f"name = '{model}'"), key=lambda v: int(v.version)
        ):
            items.append(
                {
                    "artifact_uri": client.get_model_version_download_uri(model, v.version),
                    "target": f"{catalog}.ml.{model}",
                }
            )
            if len(items) == count:
                break
        if len(items) == count:
            break
    env = dict(os.environ, DATABRICKS_HOST=server.url, DATABRICKS_TOKEN=server.admin_token)
    env.pop("DATABRICKS_CONFIG_PROFILE", None)
    cpu_before = server_cpu_seconds(server.process.pid)
    result = subprocess.run(
        [sys.executable, "-c", LOOP, json.dumps(items), f"sqlite:///{folder}/loop-tracking.db"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"vendor loop failed:\n{result.stderr[-4000:]}")
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    measured["server_cpu_seconds"] = server_cpu_seconds(server.process.pid) - cpu_before
    return measured


def copy_bytes(source: Path, folder: Path) -> float:
    """Seconds `cp -r` takes to copy the large set's version folders (following hard links)."""
    target = folder / "cp-target"
    started = time.monotonic()
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    os.sync()
    seconds = time.monotonic() - started
    shutil.rmtree(target)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--large-versions", type=int, default=5)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--loop-versions", type=int, default=200, help="versions the loop moves")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    options = parser.parse_args()

    from support.servers import run_server

    scratch = Path(tempfile.mkdtemp(prefix="migrate-bench-"))
    results: dict[str, Any] = {"options": vars(options), "load": {"start": os.getloadavg()}}
    try:
        began = time.monotonic()
        small_uri = build_small(scratch, options.models, options.versions)
        large_uri = build_large(scratch, options.large_versions, options.large_mib * MiB)
        results["build_seconds"] = round(time.monotonic() - began, 1)
        with run_server(scratch / "server", workers=options.server_workers) as server:
            env = server.env(MODELCATALOG_CONFIG_DIR=str(scratch / "config"))
            small_count = options.models * options.versions
            results["load"]["small"] = os.getloadavg()
            small = plan_and_run("small", small_uri, server, scratch, options.workers, env)
            small["versions_per_second"] = small_count / small["seconds"]
            small["versions_per_second_in_run"] = small_count / small["run_seconds"]
            small["server_cpu_ms_per_version"] = 1000 * small["server_cpu_seconds"] / small_count
            results["load"]["loop"] = os.getloadavg()
            loop = vendor_loop(small_uri, server, options.loop_versions, scratch)
            loop["versions_per_second"] = loop["versions"] / loop["seconds"]
            loop["server_cpu_ms_per_version"] = 1000 * loop["server_cpu_seconds"] / loop["versions"]
            results["load"]["large"] = os.getloadavg()
            large = plan_and_run("large", large_uri, server, scratch, options.workers, env)
            large_bytes = options.large_versions * options.large_mib * MiB
            large["mib_per_second"] = large_bytes / MiB / large["seconds"]
            large["mib_per_second_in_run"] = large_bytes / MiB / large["run_seconds"]
        results["load"]["cp"] = os.getloadavg()
        cp_seconds = copy_bytes(scratch / "large-artifacts", scratch)
        results["load"]["end"] = os.getloadavg()
        results.update(
            small=small,
            loop=loop,
            large=large,
            cp={"seconds": cp_seconds, "mib_per_second": large_bytes / MiB / cp_seconds},
        )
        results["small_speedup"] = small["versions_per_second"] / loop["versions_per_second"]
        results["large_vs_cp"] = large["mib_per_second"] / results["cp"]["mib_per_second"]
        results["peak_rss_mib"] = max(small["peak_rss_mib"], large["peak_rss_mib"])
    finally:
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    write_results(results)


def write_results(results: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "migrate.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    o = results["options"]
    small, loop, large, cp = results["small"], results["loop"], results["large"], results["cp"]
    count = o["server_workers"]
    processes = f"{count} worker process" + ("es" if count > 1 else "")
    lines = [
        "# Migration benchmark",
        "",
        f"Small set: {o['models']} models x {o['versions']} versions of a tiny scikit-learn "
        f"model; large set: {o['large_versions']} versions with one {o['large_mib']} MiB file. "
        f"`migrate run --workers {o['workers']}`; server ({processes}) on "
        f"SQLite and a local folder, same machine ({os.cpu_count()} CPUs). The loop talks to "
        "the same server.",
        "",
        "Load average (1 min) when each part started, from other work on the machine: "
        + ", ".join(f"{part} {values[0]:.2f}" for part, values in results["load"].items())
        + ".",
        "",
        "| work | measure | result | target |",
        "|---|---|---:|---|",
        f"| small set, `migrate run` | versions/s (wall, with start-up) "
        f"| {small['versions_per_second']:,.1f} | |",
        f"| small set, `migrate run` | versions/s (the run itself) "
        f"| {small['versions_per_second_in_run']:,.1f} | |",
        f"| small set, documented loop ({loop['versions']} versions) | versions/s "
        f"| {loop['versions_per_second']:,.2f} | |",
        f"| small set | speed-up over the loop | {results['small_speedup']:,.1f}x | >= 10x |",
        f"| small set, `migrate run` | server CPU per version (all its processes) "
        f"| {small['server_cpu_ms_per_version']:,.1f} ms | |",
        f"| small set, documented loop | server CPU per version "
        f"| {loop['server_cpu_ms_per_version']:,.1f} ms | |",
        f"| large set, `migrate run` | MiB/s (wall) | {large['mib_per_second']:,.0f} | |",
        f"| large set, `migrate run` | MiB/s (the run itself) "
        f"| {large['mib_per_second_in_run']:,.0f} | |",
        f"| large set, `cp -r` | MiB/s | {cp['mib_per_second']:,.0f} | |",
        f"| large set | share of cp throughput | {results['large_vs_cp']:.0%} | >= 80% |",
        f"| both | peak RSS of the run process | {results['peak_rss_mib']:,.0f} MiB | < 500 MiB |",
        f"| small set, `migrate verify` | seconds | {small['verify_seconds']:,.1f} | |",
        f"| large set, `migrate verify` | seconds | {large['verify_seconds']:,.1f} | |",
        "",
    ]
    (RESULTS / "migrate.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
