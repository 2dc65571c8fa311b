"""What the replicas are asked to do: the setup, and the request each scenario repeats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from benchmarks.registry import scenarios
from benchmarks.registry.load import Reply, Step, measure
from benchmarks.registry.scenarios import MLMODEL, OURS_REGISTRY, Get, SearchPages
from benchmarks.registry.servers import Server

UC = "/api/2.1/unity-catalog"


#: Models versions are created in: client i writes to model i modulo this, so that writers of
#: different models run side by side (writers of one model take turns on its row lock).
WRITTEN_MODELS = 32


class Plan:
    """(untimed warm-up, timed) requests per scenario, and the models seeded for listing."""

    def __init__(self, quick: bool) -> None:
        self.models = 200 if quick else 1_000
        self.counts: dict[str, tuple[int, int]] = (
            {
                "resolve alias": (100, 600),
                "get version": (100, 600),
                "create version": (64, 300),
                "list models": (16, 80),
                "log version": (16, 60),
            }
            if quick
            else {
                "resolve alias": (400, 4_000),
                "get version": (400, 4_000),
                "create version": (128, 1_500),
                "list models": (40, 400),
                "log version": (32, 300),
            }
        )


@dataclass(frozen=True)
class CreateVersionOfOwnModel:
    """POST a metadata-only version of the client's own model (`<prefix><i>`)."""

    prefix: str

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        model = f"{self.prefix}{state['worker'] % WRITTEN_MODELS:02d}"
        body = {"name": model, "source": "s3://bench/x"}
        async with client.post(f"{OURS_REGISTRY}/model-versions/create", json=body) as response:
            return Reply(response.status, await response.read())


@dataclass(frozen=True)
class LogVersion:
    """A whole small version, as a client logs one: create it, ask for an upload URL, upload
    its `MLmodel` there, finalize (the server reads the file back and records its manifest).
    Four catalog requests, counted as one operation; the reply is finalize's."""

    prefix: str

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        model = f"{self.prefix}{state['worker'] % WRITTEN_MODELS:02d}"
        catalog, schema, name = model.split(".")
        async with client.post(
            f"{OURS_REGISTRY}/model-versions/create",
            json={"name": model, "source": "s3://bench/x"},
        ) as response:
            created = Reply(response.status, await response.read())
        if created.status >= 400:
            return created
        version = created.json()["model_version"]["version"]
        async with client.post(
            "/api/2.0/fs/create-upload-url",
            json={"path": f"/Models/{catalog}/{schema}/{name}/{version}/MLmodel"},
        ) as response:
            upload = Reply(response.status, await response.read())
        if upload.status >= 400:
            return upload
        target = upload.json()
        headers = {h["name"]: h["value"] for h in target.get("headers") or []}
        # The URL authenticates by its signature alone: it is sent without the bearer token,
        # as it would be to object storage.
        plain = state.get("plain")
        if plain is None:
            plain = state["plain"] = aiohttp.ClientSession()
        async with plain.put(target["url"], data=MLMODEL.encode(), headers=headers) as response:
            put = Reply(response.status, await response.read())
        if put.status >= 400:
            return put
        async with client.post(
            f"{OURS_REGISTRY}/model-versions/finalize",
            json={"name": model, "version": version},
        ) as response:
            return Reply(response.status, await response.read())


def steps() -> dict[str, Step]:
    """Each scenario's request, named as the results name it."""
    return {
        "resolve alias": Get(
            f"{OURS_REGISTRY}/registered-models/alias",
            (("name", "main.default.m"), ("alias", "champion")),
        ),
        "get version": Get(f"{UC}/models/main.default.m/versions/1"),
        "create version": CreateVersionOfOwnModel("main.default.w"),
        "list models": SearchPages(
            f"{UC}/models",
            (("catalog_name", "main"), ("schema_name", "default"), ("max_results", "100")),
        ),
        "log version": LogVersion("main.default.l"),
    }


def prepare(server: Server, models: int) -> None:
    """main.default with model m (READY version 1 aliased `champion`), the models versions
    are created in (w00, w01, ...) and logged to (l00, l01, ...), and `models` more models to
    list."""
    scenarios.prepare_ours(server)
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        for prefix in ("w", "l"):
            for i in range(WRITTEN_MODELS):
                client.post(
                    f"{OURS_REGISTRY}/registered-models/create",
                    json={"name": f"main.default.{prefix}{i:02d}"},
                ).raise_for_status()
    seeded = measure(
        server.url,
        server.headers,
        scenarios.CreateModel(f"{OURS_REGISTRY}/registered-models/create", "main.default.s"),
        clients=32,
        total=models,
        warmup=0,
    )
    if seeded.errors:
        raise RuntimeError(f"seeding {models} models: {seeded.errors} requests failed")
