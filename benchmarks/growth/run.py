"""Growth benchmark: what a page and a migration step cost as the catalog and the source grow.

Two parts, each measured for the code before this change (a snapshot of the merge base with
`main`, put first on PYTHONPATH) and after it (this tree), one after the other in one run:

- pages: the registry dialect's `registered-models/search`, Unity Catalog's list of models and
  the catalog's own search, first page and a page from the middle (by its keyset token), p50 and
  p95 of repeated requests, at growing numbers of models (seeded straight into the server's
  SQLite database by SQL, the server stopped meanwhile);
- migrate: `migrate assess`, `migrate plan` and `migrate run` of a generated MLflow registry
  (SQLite seeded by SQL, a tiny artifact folder per version), wall time and peak RSS of the
  process (from the kernel, `wait4`). `run` goes to a real catalog server at the smallest size,
  and at every size to a target that keeps nothing (`null_run`: every version answers as
  present, so no file moves; what is measured is the run's own part).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
REGISTRY = "/api/2.0/mlflow/unity-catalog/registered-models/search"
UC_MODELS = "/api/2.1/unity-catalog/models"
SEARCH = "/api/modelcatalog/search"
SCHEMAS = 10
VERSIONS_PER_MODEL = 10


def snapshot_before(folder: Path) -> Path:
    """The source tree of the merge base with main, unpacked into `folder`."""
    base = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base, "src"], capture_output=True, check=True
    ).stdout
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def code_env(src: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    env.update(extra)
    return env


def measured(command: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run a command; its wall time and the peak RSS of its process.

    The peak comes from GNU time, which starts the command itself: a process started straight
    from this one would inherit this process's own peak (Linux keeps the high-water mark
    across a vfork and exec)."""
    peak_file = cwd / ".peak-rss"
    started = time.monotonic()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), *command],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1):  # assess exits 1 when it finds errors
        raise RuntimeError(
            f"{' '.join(command[:5])} failed ({result.returncode}):\n"
            f"{result.stderr.decode()[-3000:]}"
        )
    peak_kib = int(peak_file.read_text().strip().splitlines()[-1])
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_kib / 1024, 1)}


# Pages ------------------------------------------------------------------------------------


READER = "reader@example.com"
"""The non-admin caller of the pages part: USE SCHEMA and EXECUTE on s0, s2, s4, s6, s8."""


def _token(catalog: str, schema: str, name: str) -> str:
    from modelcatalog.service import paging

    return paging.encode([catalog, schema, name])


def _latency(client: httpx.Client, path: str, params: dict[str, Any], repeat: int) -> dict:
    client.get(path, params=params).raise_for_status()  # warm
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
    }


def measure_pages(url: str, token: str, size: int, repeat: int) -> dict[str, Any]:
    middle = size // 2
    after = _token("growth", f"s{middle % SCHEMAS}", f"m{middle:07d}")
    cases = {
        "registry_search": (REGISTRY, {"max_results": 100}),
        "uc_list_models": (UC_MODELS, {"catalog_name": "growth", "max_results": 100}),
        "native_search": (SEARCH, {"max_results": 50}),
    }
    found: dict[str, Any] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for name, (path, params) in cases.items():
            found[name] = {
                "first": _latency(client, path, params, repeat),
                "middle": _latency(client, path, {**params, "page_token": after}, repeat),
            }
    return found


def seed_models(database: Path, start: int, end: int) -> None:
    """Models m{start} .. m{end - 1}, round-robin over the schemas s0 .. s9 of `growth`."""
    connection = sqlite3.connect(database)
    schema_ids = dict(
        connection.execute(
            "SELECT s.name, s.id FROM schemas s JOIN catalogs c ON c.id = s.catalog_id "
            "WHERE c.name = 'growth'"
        ).fetchall()
    )
    columns = [row[1] for row in connection.execute("PRAGMA table_info(registered_models)")]
    now = int(time.time() * 1000)
    batch = []
    for i in range(start, end):
        values = {
            "id": uuid.uuid4().hex,
            "schema_id": schema_ids[f"s{i % SCHEMAS}"],
            "name": f"m{i:07d}",
            "comment": None,
            "owner": "bench",
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
            "updated_by": "bench",
            "last_version": 0,
            "deployment_job_id": None,
        }
        batch.append(tuple(values.get(c) for c in columns))
        if len(batch) == 50_000:
            _insert(connection, columns, batch)
            batch = []
    if batch:
        _insert(connection, columns, batch)
    connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


def seed_models_postgres(uri: str, start: int, end: int) -> None:
    """`seed_models` on PostgreSQL, with COPY."""
    import psycopg

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://")) as connection:
        schema_ids = dict(
            connection.execute(
                "SELECT s.name, s.id FROM schemas s JOIN catalogs c ON c.id = s.catalog_id "
                "WHERE c.name = 'growth'"
            ).fetchall()
        )
        now = int(time.time() * 1000)
        columns = (
            "id, schema_id, name, owner, created_at, created_by, updated_at, updated_by, "
            "last_version"
        )
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY registered_models ({columns}) FROM STDIN") as copy:
                for i in range(start, end):
                    copy.write_row(
                        (uuid.uuid4().hex, schema_ids[f"s{i % SCHEMAS}"], f"m{i:07d}", "bench",
                         now, "bench", now, "bench", 0)
                    )  # fmt: skip
        connection.execute("ANALYZE registered_models")


def _insert(connection: sqlite3.Connection, columns: list[str], rows: list[tuple]) -> None:
    marks = ", ".join("?" for _ in columns)
    connection.executemany(
        f"INSERT INTO registered_models ({', '.join(columns)}) VALUES ({marks})", rows
    )


def pages_part(
    codes: dict[str, Path], sizes: list[int], repeat: int, scratch: Path, database: str
) -> dict:
    """List and search pages as models grow, as the admin and as a reader of half the
    schemas; on SQLite or on a fresh PostgreSQL database per code measured."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.servers import postgres_database

    with ExitStack() as stack:
        uris = {
            label: stack.enter_context(postgres_database()) if database == "postgresql" else None
            for label in codes
        }
        return _pages(codes, sizes, repeat, scratch, uris)


def _pages(
    codes: dict[str, Path],
    sizes: list[int],
    repeat: int,
    scratch: Path,
    uris: dict[str, str | None],
) -> dict:
    from support.governance import add_principal, grant, token_for
    from support.servers import run_server

    results: dict[str, Any] = {}
    readers: dict[str, str] = {}
    for label, src in codes.items():
        data = scratch / f"pages-{label}"
        with run_server(
            data, database_uri=uris[label], extra_env={"PYTHONPATH": str(src)}
        ) as server:
            api = httpx.Client(base_url=server.url, headers=server.headers(), timeout=60)
            api.post(f"{UC_MODELS[:-7]}/catalogs", json={"name": "growth"}).raise_for_status()
            for s in range(SCHEMAS):
                api.post(
                    f"{UC_MODELS[:-7]}/schemas", json={"name": f"s{s}", "catalog_name": "growth"}
                ).raise_for_status()
            # A caller who is not an admin and sees half of the schemas: its pages skip the
            # models of the other half.
            add_principal(api, READER)
            grant(api, "catalog", "growth", READER, "USE CATALOG")
            for s in range(0, SCHEMAS, 2):
                grant(api, "schema", f"growth.s{s}", READER, "USE SCHEMA", "EXECUTE")
            readers[label] = token_for(api, READER)
            api.close()
    seeded = 0
    for size in sizes:
        results[str(size)] = {}
        for label, src in codes.items():
            data = scratch / f"pages-{label}"
            began = time.monotonic()
            if uris[label]:
                seed_models_postgres(uris[label], seeded, size)
            else:
                seed_models(data / "catalog.db", seeded, size)
            print(f"pages: seeded {size} models ({label}) in {time.monotonic() - began:.0f} s")
            with run_server(
                data, database_uri=uris[label], extra_env={"PYTHONPATH": str(src)}
            ) as server:
                results[str(size)][label] = {
                    "load": os.getloadavg()[0],
                    **measure_pages(server.url, server.admin_token, size, repeat),
                }
                results[str(size)][f"{label}, {READER}"] = {
                    "load": os.getloadavg()[0],
                    **measure_pages(server.url, readers[label], size, repeat),
                }
            print(f"pages {size} {label}: {json.dumps(results[str(size)][label])}")
        seeded = size
    return results


# Migrate ----------------------------------------------------------------------------------


def migrate_part(
    codes: dict[str, Path],
    sizes: list[int],
    before_max: int,
    server_run_max: int,
    scratch: Path,
) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.generated_registry import build
    from support.servers import run_server

    results: dict[str, Any] = {}
    for size in sizes:
        began = time.monotonic()
        uri = build(scratch / f"source-{size}", size // VERSIONS_PER_MODEL, VERSIONS_PER_MODEL)
        results[str(size)] = {"build_seconds": round(time.monotonic() - began, 1)}
        print(f"migrate: built {size} versions in {results[str(size)]['build_seconds']} s")
        for label, src in codes.items():
            if label == "before" and size > before_max:
                continue
            folder = scratch / f"migrate-{size}-{label}"
            folder.mkdir()
            env = code_env(src, MODELCATALOG_CONFIG_DIR=str(folder / "config"))
            cli = [sys.executable, "-m", "modelcatalog", "migrate"]
            found: dict[str, Any] = {"load": os.getloadavg()[0]}
            found["assess"] = measured(
                [*cli, "assess", "--source", uri, "--out", "report.json"], env, folder
            )
            print(f"migrate {size} {label} assess: {found['assess']}")
            found["plan"] = measured(
                [*cli, "plan", "--source", uri, "--target", "http://127.0.0.1:9", "--catalog",
                 "growth", "--schema", "ml", "--skip-extras", "--out", "plan.yaml"],
                env, folder,
            )  # fmt: skip
            print(f"migrate {size} {label} plan: {found['plan']}")
            found["run_null_target"] = measured(
                [sys.executable, "-m", "benchmarks.growth.null_run", "plan.yaml", "null.jsonl"],
                env,
                folder,
            )
            print(f"migrate {size} {label} run (null target): {found['run_null_target']}")
            if size <= server_run_max:
                with run_server(folder / "server") as server:
                    _retarget(folder / "plan.yaml", server.url)
                    run_env = {**env, **server.env()}
                    run_env["PYTHONPATH"] = env["PYTHONPATH"]
                    found["run_server"] = measured(
                        [*cli, "run", "plan.yaml", "--workers", "4", "--log", "run.jsonl"],
                        run_env,
                        folder,
                    )
                print(f"migrate {size} {label} run (server): {found['run_server']}")
            for step in ("assess", "plan", "run_null_target", "run_server"):
                if step in found:
                    found[step]["ms_per_version"] = round(found[step]["seconds"] * 1000 / size, 3)
            results[str(size)][label] = found
            shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(scratch / f"source-{size}", ignore_errors=True)
    return results


def _retarget(plan: Path, url: str) -> None:
    text = plan.read_text(encoding="utf-8")
    plan.write_text(text.replace("url: http://127.0.0.1:9", f"url: {url}", 1), encoding="utf-8")


# Results ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("pages", "migrate", "both"), default="both")
    parser.add_argument("--models", default="1000,10000,100000,1000000")
    parser.add_argument("--versions", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=25, help="requests per page measured")
    parser.add_argument("--before-max-versions", type=int, default=10_000,
                        help="largest source the code before this change is run on")  # fmt: skip
    parser.add_argument("--server-run-max", type=int, default=1000,
                        help="largest source also run against a real server")  # fmt: skip
    parser.add_argument("--codes", default="before,after", help="which code to measure")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the catalog database of the pages part")  # fmt: skip
    parser.add_argument("--out", default="growth", help="results name under benchmarks/results")
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="growth-bench-"))
    results: dict[str, Any] = {"options": vars(options), "load_start": os.getloadavg()}
    try:
        chosen = options.codes.split(",")
        codes = {"before": snapshot_before(scratch / "before"), "after": ROOT / "src"}
        codes = {label: src for label, src in codes.items() if label in chosen}
        if options.part in ("pages", "both"):
            sizes = [int(s) for s in options.models.split(",")]
            results["pages"] = pages_part(codes, sizes, options.repeat, scratch, options.database)
            _write(options.out, results)
        if options.part in ("migrate", "both"):
            sizes = [int(s) for s in options.versions.split(",")]
            results["migrate"] = migrate_part(
                codes, sizes, options.before_max_versions, options.server_run_max, scratch
            )
        results["load_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _write(options.out, results)


def _write(name: str, results: dict[str, Any]) -> None:
    """Merge these results into the file: a part's figures per size and code, so that a run of
    one part, size or code keeps the others' figures."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    for key, value in results.items():
        if key in ("pages", "migrate"):
            part = merged.setdefault(key, {})
            for size, by_code in value.items():
                part.setdefault(size, {}).update(by_code)
        else:
            merged[f"{key}_{results['options']['part']}"] = value
    path.write_text(json.dumps(merged, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(render(merged))


def render(results: dict[str, Any]) -> str:
    lines = ["# Growth benchmark", "", "`python -m benchmarks.growth` (see its README).", ""]
    pages = results.get("pages") or {}
    if pages:
        lines += [
            f"## Pages ({_database(results)}, p50 ms of repeated requests; first page / a middle "
            "page)",
            "",
            "| models | code | load | registry search | UC list models | native search |",
            "|---:|---|---:|---|---|---|",
        ]
        for size, by_code in pages.items():
            for code, found in by_code.items():
                cells = [
                    f"{found[k]['first']['p50_ms']} / {found[k]['middle']['p50_ms']}"
                    for k in ("registry_search", "uc_list_models", "native_search")
                ]
                lines.append(
                    f"| {int(size):,} | {code} | {_load(found)} | " + " | ".join(cells) + " |"
                )
        lines.append("")
    migrate = results.get("migrate") or {}
    if migrate:
        lines += [
            "## Migrate (seconds, ms per version, peak RSS MiB)",
            "",
            "| versions | code | load | assess | plan | run, null target | run, server |",
            "|---:|---|---:|---|---|---|---|",
        ]
        for size, by_code in migrate.items():
            for code, found in by_code.items():
                if not isinstance(found, dict):
                    continue
                cells = []
                for step in ("assess", "plan", "run_null_target", "run_server"):
                    s = found.get(step)
                    cells.append(
                        f"{s['seconds']} s, {s['ms_per_version']} ms/v, {s['peak_rss_mib']} MiB"
                        if s
                        else "not run"
                    )
                lines.append(
                    f"| {int(size):,} | {code} | {_load(found)} | " + " | ".join(cells) + " |"
                )
        lines.append("")
    cpu = results.get("cpu_seconds_1000_versions")
    if cpu:
        lines += [
            "## CPU seconds (user + system) at 1,000 versions, measured by hand",
            "",
            cpu["how"],
            "",
            "| step | before | after |",
            "|---|---:|---:|",
        ]
        for step in ("import_only", "assess", "plan"):
            lines.append(f"| {step} | {cpu['before'].get(step, '')} | {cpu['after'][step]} |")
        lines.append("")
    for note in results.get("notes", []):
        lines.append(f"- {note}")
    for key in sorted(results):
        if key.startswith(("load_start", "load_end")):
            lines.append(f"- {key}: {results[key]}")
    return "\n".join(lines) + "\n"


def _database(results: dict[str, Any]) -> str:
    options = results.get("options_pages") or results.get("options") or {}
    chosen = options.get("database", "sqlite")
    return "PostgreSQL" if chosen == "postgresql" else "SQLite"


def _load(found: dict[str, Any]) -> str:
    return f"{found['load']:.1f}" if found.get("load") is not None else "n/a"
