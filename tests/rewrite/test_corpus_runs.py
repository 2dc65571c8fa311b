"""The corpus programs run for real: the original against a stage-based MLflow registry
(SQLite), the fixed one against the catalog that registry was migrated to; both print the
same, the empty-list paths included.

The registry holds `fraud` and `churn`, each with v1 in Production and v2 in no stage, so
Staging starts empty: the promotion script's first run takes the "first deployment" branch for
`fraud`, its second run finds version 2 in Staging. The CLI tool asks about `churn`, which no
other program changes, and about a model that does not exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import pytest

from support.cli import run_cli
from support.migrate import migrate
from support.mlflow_stores import mlflow_database
from support.models import fit_tiny_model, log_tiny_model
from support.servers import RunningServer

CORPUS = Path(__file__).parent / "corpus"
RUNNABLE = ("promote.py", "deploy_cli.py", "scoring.py")


@dataclass
class Registries:
    folder: Path
    catalog: str
    #: Environment of a program using the stage-based registry, and of one using the catalog.
    source_env: dict[str, str]
    catalog_env: dict[str, str]

    def full(self, name: str) -> str:
        return f"{self.catalog}.ml.{name}"


def _build_source(folder: Path) -> str:
    uri = mlflow_database(folder / "source.db")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "corpus", artifact_location=(folder / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)
        tiny = fit_tiny_model()
        for name in ("fraud", "churn"):
            for _ in range(2):
                log_tiny_model(tiny, name)
            mlflow.MlflowClient().transition_model_version_stage(name, "1", "Production")
    finally:
        mlflow.set_registry_uri("")
        mlflow.set_tracking_uri("")
    return uri


@pytest.fixture(scope="module")
def registries(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Registries:
    folder = tmp_path_factory.mktemp("corpus-runs")
    source = _build_source(folder)
    catalog = f"rw_{uuid.uuid4().hex[:8]}"
    env = server.env(MODELCATALOG_CONFIG_DIR=str(folder / "config"))
    common = ["--source", source, "--target", server.url]
    migrate(
        "plan",
        *common,
        "--catalog",
        catalog,
        "--schema",
        "ml",
        "--out",
        "plan.yaml",
        env=env,
        cwd=folder,
    )
    migrate("run", "plan.yaml", env=env, cwd=folder)
    clean = {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}
    source_env = {**clean, "MLFLOW_TRACKING_URI": source, "MLFLOW_REGISTRY_URI": source}
    catalog_env = {
        **clean,
        "MLFLOW_TRACKING_URI": mlflow_database(folder / "tracking.db"),
        "MLFLOW_REGISTRY_URI": f"modelcatalog://{urlsplit(server.url).netloc}",
    }
    return Registries(folder, catalog, source_env, catalog_env)


@pytest.fixture(scope="module")
def programs(registries: Registries) -> tuple[Path, Path]:
    """The original programs, and the same programs fixed with the migration's plan."""
    original, fixed = registries.folder / "original", registries.folder / "fixed"
    for folder in (original, fixed):
        folder.mkdir()
        for name in RUNNABLE:
            shutil.copy(CORPUS / name, folder / name)
    done = run_cli(
        "code",
        "fix",
        str(fixed),
        "--plan",
        str(registries.folder / "plan.yaml"),
        env=dict(os.environ),
    )
    assert done.returncode == 1, done.stdout  # the CLI tool's computed stage is left to a person
    assert "MC115" in done.stdout and "could not" not in done.stdout
    return original, fixed


def _run(program: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(program), *args],
        env=env,
        cwd=program.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_promotion_script_prints_the_same_on_the_first_deployment_and_after(
    registries: Registries, programs: tuple[Path, Path]
) -> None:
    original, fixed = programs
    before = [_run(original / "promote.py", registries.source_env) for _ in range(2)]
    after = [_run(fixed / "promote.py", registries.catalog_env) for _ in range(2)]
    assert before[0] == (
        "no model in Staging yet: first deployment\n"
        "promoted version 2 to Staging\n"
        "Production is version 1\n"
    )
    assert before[1] == "Staging is version 2\nProduction is version 1\n"
    assert after == before


def test_cli_tool_on_self_prints_the_same_for_a_model_and_a_missing_one(
    registries: Registries, programs: tuple[Path, Path]
) -> None:
    original, fixed = programs
    before = _run(original / "deploy_cli.py", registries.source_env, "churn", "nope")
    # The tool takes names on its command line: the finding asked for full names.
    names = (registries.full("churn"), registries.full("nope"))
    after = _run(fixed / "deploy_cli.py", registries.catalog_env, *names)
    assert before == "churn serving: 1 candidate: []\nnope failed: RESOURCE_DOES_NOT_EXIST\n"
    assert after.replace(names[0], "churn").replace(names[1], "nope") == before


def test_scoring_module_with_name_constants_predicts_the_same(
    registries: Registries, programs: tuple[Path, Path]
) -> None:
    original, fixed = programs
    before = _run(original / "scoring.py", registries.source_env)
    after = _run(fixed / "scoring.py", registries.catalog_env)
    assert before.startswith("predictions: [")
    assert after == before
    assert f'MODEL = "{registries.full("fraud")}"' in (fixed / "scoring.py").read_text()
