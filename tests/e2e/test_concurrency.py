"""Concurrent writers: version numbers stay distinct and consecutive, an alias names one version."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from support.http import ok, unique
from support.versions import REGISTRY_2_0, UC_2_1, create_model, ready_version

# Concurrent writers meet each database's own locking.
pytestmark = pytest.mark.both_databases

THREADS = 16


def test_concurrent_version_creates_get_distinct_consecutive_numbers(
    server: Any, api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    start = threading.Barrier(THREADS)

    def create(_: int) -> str:
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
            start.wait()
            response = client.post(
                f"{REGISTRY_2_0}/model-versions/create", json={"name": name, "source": "x"}
            )
            return ok(response)["model_version"]["version"]

    with ThreadPoolExecutor(THREADS) as pool:
        numbers = list(pool.map(create, range(THREADS)))
    assert sorted(int(n) for n in numbers) == list(range(1, THREADS + 1))
    listed = ok(api.get(f"{UC_2_1}/models/{name}/versions", params={"max_results": 100}))
    assert [v["version"] for v in listed["model_versions"]] == list(range(1, THREADS + 1))


def test_concurrent_alias_moves_leave_exactly_one_holder(
    server: Any, api: httpx.Client, schema: str
) -> None:
    name = f"{schema}.{unique()}"
    create_model(api, name)
    versions = [ready_version(api, name) for _ in range(4)]
    start = threading.Barrier(THREADS)

    def move(i: int) -> str:
        target = versions[i % len(versions)]
        with httpx.Client(base_url=server.url, headers=server.headers(), timeout=60) as client:
            start.wait()
            for _ in range(3):
                if i % 2:
                    ok(
                        client.put(
                            f"{UC_2_1}/models/{name}/aliases/champion",
                            json={"version_num": int(target)},
                        )
                    )
                else:
                    ok(
                        client.post(
                            f"{REGISTRY_2_0}/registered-models/alias",
                            json={"name": name, "alias": "champion", "version": target},
                        )
                    )
        return target

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(move, range(THREADS)))

    holders = [
        v
        for v in versions
        if any(
            a["alias_name"] == "champion"
            for a in ok(api.get(f"{UC_2_1}/models/{name}/versions/{v}"))["aliases"]
        )
    ]
    assert len(holders) == 1, holders
    model_aliases = ok(api.get(f"{UC_2_1}/models/{name}"))["aliases"]
    assert [(a["alias_name"], str(a["version_num"])) for a in model_aliases] == [
        ("champion", holders[0])
    ]
    by_alias = ok(api.get(f"{UC_2_1}/models/{name}/aliases/champion"))
    assert str(by_alias["version"]) == holders[0]
    by_alias_2_0 = ok(
        api.get(
            f"{REGISTRY_2_0}/registered-models/alias", params={"name": name, "alias": "champion"}
        )
    )
    assert by_alias_2_0["model_version"]["version"] == holders[0]
