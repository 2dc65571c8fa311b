"""Catalog Explorer's pages under load: how long the server takes to answer a signed-in person.

The catalog holds 10,000 models in one schema (every hundredth tagged `domain=heliotrope`), one
model with 500 versions, and an audit log of 1,000,000 records. Each page is asked for by one
client (p95 target: under 100 ms) and by 16 at once (p99 target: under 300 ms), through the
registry benchmark's load generator, with a session cookie as a browser sends it.

    .venv/bin/python -m benchmarks.web            # about 4 minutes
    .venv/bin/python -m benchmarks.web --quick    # fewer records and requests: a smoke run

Writes benchmarks/results/web.json and benchmarks/results/web.md."""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from benchmarks.registry.load import Reply, measure
from benchmarks.registry.report import environment
from benchmarks.registry.servers import Server, modelcatalog

from modelcatalog.service import audit
from modelcatalog.store.database import Database

RESULTS = Path(__file__).resolve().parents[1] / "results"
UC = "/api/2.1/unity-catalog"
P95_ONE_USER_MS = 100.0
P99_SIXTEEN_USERS_MS = 300.0
AUDIT_BATCH = 20_000


def _ok(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json() if response.content else {}


def _create_models(server: Server, count: int) -> None:
    """`count` models in main.default, created over HTTP by 16 clients at once."""

    async def create(client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        state["n"] = state.get("n", 0) + 1
        name = f"model_{state['worker']:02d}_{state['n']:05d}"
        body = {"catalog_name": "main", "schema_name": "default", "name": name}
        async with client.post(f"{UC}/models", json=body) as response:
            return Reply(response.status, await response.read())

    done = measure(server.url, server.headers, create, clients=16, total=count, warmup=0)
    if done.errors:
        raise RuntimeError(f"{done.errors} models could not be created")


def seed(server: Server, models: int, versions: int) -> None:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=120) as client:
        _ok(client.post(f"{UC}/catalogs", json={"name": "main"}))
        _ok(client.post(f"{UC}/schemas", json={"name": "default", "catalog_name": "main"}))
        _ok(
            client.post(
                f"{UC}/models",
                json={
                    "catalog_name": "main",
                    "schema_name": "default",
                    "name": "aaa_many_versions",
                    "comment": "A model with many versions.",
                },
            )
        )
        for _ in range(versions):
            _ok(
                client.post(
                    f"{UC}/models/versions",
                    json={
                        "catalog_name": "main",
                        "schema_name": "default",
                        "model_name": "aaa_many_versions",
                        "source": "s3://bench/many",
                    },
                )
            )
        _create_models(server, models)
        listed = _ok(
            client.get(f"{UC}/models", params={"catalog_name": "main", "schema_name": "default"})
        )
        names = [m["full_name"] for m in listed["registered_models"]]
        token = listed.get("next_page_token")
        while token:
            page = _ok(
                client.get(
                    f"{UC}/models",
                    params={"catalog_name": "main", "schema_name": "default", "page_token": token},
                )
            )
            names += [m["full_name"] for m in page["registered_models"]]
            token = page.get("next_page_token")
        for name in names[::100]:
            _ok(
                client.patch(
                    f"{UC}/securable-tags/registered_model/{name}",
                    json={"changes": {"add_tags": [{"key": "domain", "value": "heliotrope"}]}},
                )
            )


def append_audit_records(database_uri: str, total: int) -> None:
    """Grow the audit log to `total` records through the catalog's own append path (so the
    chain stays whole), with the server stopped."""
    db = Database(database_uri)
    try:
        with db.read() as session:
            head = session.get(audit.t.Setting, audit.HEAD_KEY)
            assert head is not None
            have = int(head.value.partition(":")[0])
        at = int(time.time() * 1000) - total
        while have < total:
            batch = min(AUDIT_BATCH, total - have)
            entries = [
                {
                    "at": at + have + i,
                    "principal": f"user{(have + i) % 50}@example.com",
                    "action": (
                        "getRegisteredModel",
                        "listModelVersions",
                        "setRegisteredModelAlias",
                    )[(have + i) % 3],
                    "securable_type": "registered_model",
                    "securable": f"main.default.model_{(have + i) % 1000:05d}",
                    "parameters": "{}",
                    "outcome": "denied" if (have + i) % 97 == 0 else "ok",
                    "error_code": None,
                    "request_id": None,
                    "client_address": "10.0.0.1",
                }
                for i in range(batch)
            ]
            with db.write() as session:
                audit._append(session, entries)
            have += batch
    finally:
        db.dispose()


def sign_in(server: Server) -> str:
    """A browser session's cookie for the admin, through the sign-in form."""
    token = server.headers["Authorization"].removeprefix("Bearer ")
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        form = client.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = client.post(
            "/signin",
            data={"csrf_token": csrf.group(1), "token": token, "next": "/"},
            headers={"Origin": server.url},
        )
        assert answer.status_code == 303, answer.text
        return answer.cookies["modelcatalog_session"]


def pages(server: Server, cookie: str) -> dict[str, str]:
    """The pages measured, by name; the models list's second page needs the first's token."""
    with httpx.Client(base_url=server.url, cookies={"modelcatalog_session": cookie}) as client:
        first = client.get("/c/main/default")
        found = re.search(r"page=([^\"&]+)", first.text)
        assert found is not None, "the models list has no next page"
    return {
        "models list (10,000 models), first page": "/c/main/default",
        "models list, second page": f"/c/main/default?page={found.group(1)}",
        "model page, 500 versions (overview)": "/m/main.default.aaa_many_versions",
        "model page, 500 versions (versions tab)": "/m/main.default.aaa_many_versions?tab=versions",
        "search by tag value": "/search?q=heliotrope",
        "search by name part": "/search?q=model_07",
        "audit page (1,000,000 records)": "/audit",
        "audit page, one principal": "/audit?principal=user7%40example.com",
        "audit page, one securable": "/audit?securable=main.default.model_00042",
    }


def run_page(server: Server, cookie: str, path: str, clients: int, total: int) -> dict[str, Any]:
    async def get(client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        async with client.get(path, allow_redirects=False) as response:
            return Reply(response.status, await response.read())

    headers = {"Cookie": f"modelcatalog_session={cookie}"}
    done = measure(server.url, headers, get, clients=clients, total=total, warmup=clients * 2)
    summary = done.summary()
    summary["p95_ms"] = round(done.percentile(95), 2)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer records and requests")
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes (default 1)"
    )
    args = parser.parse_args()
    models, versions, records = (1_000, 50, 50_000) if args.quick else (10_000, 500, 1_000_000)
    requests_one, requests_many = (50, 160) if args.quick else (200, 800)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        data = Path(folder) / "data"
        database_uri = f"sqlite:///{data / 'catalog.db'}"
        started = time.perf_counter()
        with modelcatalog(data, workers=1, cpus=None, log_level="warning") as server:
            seed(server, models, versions)
        append_audit_records(database_uri, records)
        seeded = time.perf_counter() - started
        with modelcatalog(data, workers=args.workers, cpus=None, log_level="warning") as server:
            cookie = sign_in(server)
            for name, path in pages(server, cookie).items():
                one = run_page(server, cookie, path, 1, requests_one)
                many = run_page(server, cookie, path, 16, requests_many)
                results[name] = {"path": path, "one_user": one, "sixteen_users": many}
                print(
                    f"{name:45s} 1 user p95 {one['p95_ms']:7.1f} ms   "
                    f"16 users p99 {many['p99_ms']:7.1f} ms  ({many['throughput_rps']} req/s)"
                )
    document = {
        "environment": environment(),
        "catalog": {"models": models, "versions_of_one_model": versions, "audit_records": records},
        "seconds_to_seed": round(seeded, 1),
        "server_workers": args.workers,
        "targets": {
            "one_user_p95_ms": P95_ONE_USER_MS,
            "sixteen_users_p99_ms": P99_SIXTEEN_USERS_MS,
        },
        "pages": results,
    }
    suffix = ("-quick" if args.quick else "") + (
        f"-{args.workers}-workers" if args.workers > 1 else ""
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"web{suffix}.json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        f"| page | 1 user p95 (target < {P95_ONE_USER_MS:.0f} ms) | 16 users p99 (target < "
        f"{P99_SIXTEEN_USERS_MS:.0f} ms) | 16 users req/s |",
        "|---|---:|---:|---:|",
    ]
    for name, found in results.items():
        one, many = found["one_user"], found["sixteen_users"]
        one_mark = "" if one["p95_ms"] < P95_ONE_USER_MS else " (missed)"
        many_mark = "" if many["p99_ms"] < P99_SIXTEEN_USERS_MS else " (missed)"
        lines.append(
            f"| {name} | {one['p95_ms']:.1f} ms{one_mark} | {many['p99_ms']:.1f} ms{many_mark} "
            f"| {many['throughput_rps']:.0f} |"
        )
    (RESULTS / f"web{suffix}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
