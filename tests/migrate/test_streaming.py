"""assess, plan and run read a source one model at a time: what they write is complete, and
the same as what the whole source held in memory gives."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from modelcatalog.migrate.assess import assess_source, run_assessment
from modelcatalog.migrate.assess_report import render_json, write_report
from modelcatalog.migrate.config import MigrationConfig
from modelcatalog.migrate.plan import build_plan
from modelcatalog.migrate.plan_file import PlanWriter, open_plan, read_plan, write_plan
from modelcatalog.migrate.source import SourceRegistry
from support.generated_registry import build
from support.migrate import migrate

MODELS, VERSIONS = 12, 4  # 48 versions: more than a run of 4 workers queues at once
UC = "/api/2.1/unity-catalog"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A registry seeded by SQL: every version READY with an MLmodel that has a signature, the
    newest of each model in Production."""
    return build(tmp_path_factory.mktemp("generated"), MODELS, VERSIONS)


def test_the_streamed_report_is_the_report_of_the_assessment_held_in_memory(
    generated: str, tmp_path: Path
) -> None:
    held = json.loads(render_json(run_assessment(generated)))
    out = tmp_path / "report.json"
    written = write_report(assess_source(generated), out, "json", Console(file=io.StringIO()))
    streamed = json.loads(out.read_text(encoding="utf-8"))
    held.pop("generated_at")
    streamed.pop("generated_at")
    assert streamed == held
    assert streamed["summary"]["versions"] == MODELS * VERSIONS
    assert len(streamed["models"]) == MODELS
    assert written.summary == held["summary"]


def test_the_streamed_html_report_shows_every_model(generated: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report(assess_source(generated), out, "html", Console(file=io.StringIO()))
    page = out.read_text(encoding="utf-8")
    for m in range(MODELS):
        assert f"model_{m:06d}" in page
    assert not list(tmp_path.glob(".*.tmp")), "the scratch file is moved into place"


def _plan(registry: SourceRegistry, **kwargs: object) -> object:
    return build_plan(
        registry,
        MigrationConfig.load(None, env={}),
        target_url="http://127.0.0.1:1",
        catalog="main",
        schema="ml",
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_plan_written_model_by_model_is_the_plan_written_whole_and_reads_back_complete(
    generated: str, tmp_path: Path
) -> None:
    registry = SourceRegistry(generated)
    whole = tmp_path / "whole.yaml"
    write_plan(_plan(registry), whole)  # type: ignore[arg-type]
    streamed = tmp_path / "streamed.yaml"
    writer = PlanWriter(streamed)
    kept = _plan(registry, on_model=writer.model)
    writer.finish(kept)  # type: ignore[arg-type]
    assert streamed.read_text(encoding="utf-8") == whole.read_text(encoding="utf-8")
    assert all(not m.versions for m in kept.models)  # type: ignore[attr-defined]
    opened = open_plan(streamed)
    models = list(opened.models())
    assert [m.source for m in models] == [f"model_{m:06d}" for m in range(MODELS)]
    assert [len(m.versions) for m in models] == [VERSIONS] * MODELS
    assert models == read_plan(whole).models
    # Each pass reads the file afresh.
    assert sum(len(m.versions) for m in opened.models()) == MODELS * VERSIONS


def test_a_plan_file_with_a_model_that_is_not_a_mapping_names_it(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "version: 1\nsource: {registry_uri: 'sqlite:///x.db'}\n"
        "target: {url: 'http://h', catalog: c, schema: s}\nmodels:\n- 5\n"
    )
    opened = open_plan(path)
    with pytest.raises(ValueError, match=r"models\[0\]"):
        list(opened.models())


def test_a_streamed_run_copies_every_version_once_and_sets_every_alias(
    generated: str, server: object, tmp_path: Path
) -> None:
    env = server.env(MODELCATALOG_CONFIG_DIR=str(tmp_path / "config"))  # type: ignore[attr-defined]
    catalog = f"stream_{tmp_path.name[-8:].lower().replace('-', '_')}"
    migrate(
        "plan", "--source", generated, "--target", server.url,  # type: ignore[attr-defined]
        "--catalog", catalog, "--schema", "ml", "--skip-extras", "--out", "plan.yaml",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    migrate("run", "plan.yaml", "--workers", "4", env=env, cwd=tmp_path)
    with httpx.Client(base_url=server.url, headers=server.headers()) as api:  # type: ignore[attr-defined]
        for m in range(MODELS):
            name = f"{catalog}.ml.model_{m:06d}"
            found = api.get(f"{UC}/models/{name}/versions", params={"max_results": 100}).json()
            numbers = sorted(int(v["version"]) for v in found["model_versions"])
            assert numbers == list(range(1, VERSIONS + 1)), name
            assert {v["status"] for v in found["model_versions"]} == {"READY"}
            model = api.get(f"{UC}/models/{name}").json()
            aliases = {a["alias_name"]: a["version_num"] for a in model.get("aliases", [])}
            assert aliases == {"Production": VERSIONS}, name
    events = [
        json.loads(line)
        for line in (tmp_path / "plan.run.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    copied = [(e["model"], e["version"]) for e in events if e["event"] == "version_copied"]
    assert len(copied) == len(set(copied)) == MODELS * VERSIONS
