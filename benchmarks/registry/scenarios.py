"""What each server is asked to do: the setup it needs and the request each scenario repeats.

Requests are small picklable callables, so that the load generator can hand them to several
processes. Both servers get the same work in their own dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from benchmarks.registry.load import Reply
from benchmarks.registry.servers import Server

OURS_REGISTRY = "/api/2.0/mlflow/unity-catalog"
MLFLOW_REGISTRY = "/api/2.0/mlflow"
MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
signature:
  inputs: '[{"type": "double"}]'
  outputs: '[{"type": "long"}]'
"""


@dataclass(frozen=True)
class Get:
    """GET one path with fixed query parameters."""

    path: str
    params: tuple[tuple[str, str], ...] = ()
    # The request target, query string included, encoded once rather than on every request.
    target: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        query = urlencode(self.params)
        object.__setattr__(self, "target", f"{self.path}?{query}" if query else self.path)

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        async with client.get(self.target) as response:
            return Reply(response.status, await response.read())


@dataclass(frozen=True)
class CreateVersion:
    """POST a metadata-only model version (no files) of one model."""

    path: str
    model: str

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        body = {"name": self.model, "source": "s3://bench/x"}
        async with client.post(self.path, json=body) as response:
            return Reply(response.status, await response.read())


@dataclass(frozen=True)
class CreateModel:
    """POST a registered model with a name unique to this client and request."""

    path: str
    prefix: str

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        n = state["n"] = state.get("n", 0) + 1
        name = f"{self.prefix}{state['worker']:03d}-{n:05d}"
        async with client.post(self.path, json={"name": name}) as response:
            return Reply(response.status, await response.read())


@dataclass(frozen=True)
class SearchPages:
    """Page through the first `pages` pages of a model listing, then start again.

    Each client follows its own next_page_token, as a UI or a script listing models would."""

    path: str
    params: tuple[tuple[str, str], ...]
    pages: int = 10

    async def __call__(self, client: aiohttp.ClientSession, state: dict[str, Any]) -> Reply:
        params = dict(self.params)
        token = state.get("token")
        if token:
            params["page_token"] = token
        async with client.get(self.path, params=params) as response:
            reply = Reply(response.status, await response.read())
        state["page"] = state.get("page", 0) + 1
        token = reply.json().get("next_page_token") if reply.status == 200 else None
        if state["page"] >= self.pages or not token:
            state["page"], token = 0, None
        state["token"] = token
        return reply


@dataclass(frozen=True)
class Workload:
    """The requests one server answers in each scenario, in its own dialect."""

    trivial: Get
    resolve_alias: Get
    create_version: CreateVersion
    create_model: CreateModel
    searches: dict[str, SearchPages]


def ours() -> Workload:
    return Workload(
        trivial=Get("/.well-known/databricks-config"),
        resolve_alias=Get(
            f"{OURS_REGISTRY}/registered-models/alias",
            (("name", "main.default.m"), ("alias", "champion")),
        ),
        create_version=CreateVersion(f"{OURS_REGISTRY}/model-versions/create", "main.default.mv"),
        create_model=CreateModel(f"{OURS_REGISTRY}/registered-models/create", "main.default.s"),
        searches={
            "registry search": SearchPages(
                f"{OURS_REGISTRY}/registered-models/search", (("max_results", "100"),)
            ),
            "UC list models": SearchPages(
                "/api/2.1/unity-catalog/models",
                (("catalog_name", "main"), ("schema_name", "default"), ("max_results", "100")),
            ),
        },
    )


def mlflow() -> Workload:
    return Workload(
        trivial=Get("/health"),
        resolve_alias=Get(
            f"{MLFLOW_REGISTRY}/registered-models/alias", (("name", "m"), ("alias", "champion"))
        ),
        create_version=CreateVersion(f"{MLFLOW_REGISTRY}/model-versions/create", "mv"),
        create_model=CreateModel(f"{MLFLOW_REGISTRY}/registered-models/create", "s"),
        searches={
            "registry search": SearchPages(
                f"{MLFLOW_REGISTRY}/registered-models/search", (("max_results", "100"),)
            ),
        },
    )


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else {}


def prepare_ours(server: Server) -> None:
    """main.default, model m with a READY version 1 aliased `champion`, and model mv."""
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        _ok(client.post("/api/2.1/unity-catalog/catalogs", json={"name": "main"}))
        _ok(
            client.post(
                "/api/2.1/unity-catalog/schemas", json={"name": "default", "catalog_name": "main"}
            )
        )
        for model in ("main.default.m", "main.default.mv"):
            _ok(client.post(f"{OURS_REGISTRY}/registered-models/create", json={"name": model}))
        created = _ok(
            client.post(
                f"{OURS_REGISTRY}/model-versions/create",
                json={"name": "main.default.m", "source": "s3://bench/m"},
            )
        )
        version = created["model_version"]["version"]
        upload = _ok(
            client.post(
                "/api/2.0/fs/create-upload-url",
                json={"path": f"/Models/main/default/m/{version}/MLmodel"},
            )
        )
        # The presigned URL authenticates by its signature alone, as a storage URL would.
        put = httpx.put(upload["url"], content=MLMODEL.encode(), timeout=60)
        put.raise_for_status()
        _ok(
            client.post(
                f"{OURS_REGISTRY}/model-versions/finalize",
                json={"name": "main.default.m", "version": version},
            )
        )
        _ok(
            client.post(
                f"{OURS_REGISTRY}/registered-models/alias",
                json={"name": "main.default.m", "alias": "champion", "version": version},
            )
        )
        resolved = _ok(
            client.get(
                f"{OURS_REGISTRY}/registered-models/alias",
                params={"name": "main.default.m", "alias": "champion"},
            )
        )
        assert resolved["model_version"]["status"] == "READY", resolved


def prepare_mlflow(server: Server) -> None:
    """Model m with version 1 aliased `champion`, and model mv, through MLflow's REST API."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for model in ("m", "mv"):
            _ok(client.post(f"{MLFLOW_REGISTRY}/registered-models/create", json={"name": model}))
        created = _ok(
            client.post(
                f"{MLFLOW_REGISTRY}/model-versions/create",
                json={"name": "m", "source": "s3://bench/m"},
            )
        )
        version = created["model_version"]["version"]
        _ok(
            client.post(
                f"{MLFLOW_REGISTRY}/registered-models/alias",
                json={"name": "m", "alias": "champion", "version": version},
            )
        )
        _ok(
            client.get(
                f"{MLFLOW_REGISTRY}/registered-models/alias",
                params={"name": "m", "alias": "champion"},
            )
        )
