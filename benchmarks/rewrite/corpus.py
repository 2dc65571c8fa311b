"""A synthetic but realistic workload tree: Python modules, notebooks, a few configs.

Most code is ordinary data and training code with no finding; about one line in 2,000 is a
stage-based registry use of the kinds the rewriter knows. Some files mention trigger words
harmlessly (a `transition` in a comment, a `models:/` in prose) so the pre-filter is not
flattered. Generation is deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

FINDING_SNIPPETS = [
    'model = mlflow.pyfunc.load_model("models:/{model}/Production")',
    'uri = f"models:/{{MODEL_NAME}}/Staging"',
    'client.transition_model_version_stage("{model}", version, "Production",'
    " archive_existing_versions=True)",
    'latest = client.get_latest_versions("{model}", stages=["Production"])[0]',
    'mlflow.set_registry_uri("databricks")',
    'mlflow.register_model(f"runs:/{{run_id}}/model", "{model}")',
    "print(version.current_stage)",
    'mlflow.sklearn.log_model(estimator, "model", registered_model_name="{model}")',
    'versions = client.get_latest_versions("{model}")',
    'batch = mlflow.pyfunc.spark_udf(spark, "models:/{model}/3")',
]

HEADER = '''"""{doc}"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

log = logging.getLogger(__name__)
client = MlflowClient()
MODEL_NAME = "{model}"
'''

FILLER = [
    '''

@dataclass
class {cls}Config:
    """Settings for the {word} step."""

    window: int = {n}
    threshold: float = 0.{n}
    column: str = "{word}_score"

    def scaled(self, value: float) -> float:
        # keep the scale stable across retraining runs
        return value * self.threshold / max(self.window, 1)
''',
    '''

def {fn}(frame: pd.DataFrame, column: str = "{word}") -> pd.DataFrame:
    """Add rolling features for {word}."""
    out = frame.copy()
    for lag in range({n}):
        out[f"{{column}}_lag_{{lag}}"] = out[column].shift(lag)
    out["{word}_mean"] = out[column].rolling({n}).mean()
    out["{word}_std"] = out[column].rolling({n}).std()
    log.info("built %d features for %s", {n}, column)
    return out.dropna()
''',
    '''

def {fn}(values: list[float]) -> dict[str, float]:
    """Summary statistics used in the {word} report."""
    if not values:
        return {{"count": 0.0}}
    total = sum(values)
    mean = total / len(values)
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    return {{
        "count": float(len(values)),
        "mean": mean,
        "std": math.sqrt(variance),
        "max": max(values),
        "min": min(values),
    }}
''',
    '''

def {fn}(run_id: str, metrics: dict[str, float]) -> None:
    """Log evaluation metrics for the {word} model."""
    with mlflow.start_run(run_id=run_id):
        for key, value in metrics.items():
            mlflow.log_metric(key, value)
        mlflow.set_tag("stage_of_pipeline", "{word}")
    path = os.path.join("/tmp", "{word}", run_id)
    os.makedirs(path, exist_ok=True)
''',
    '''

class {cls}Scorer:
    """Scores batches with the {word} model."""

    def __init__(self, model_uri: str) -> None:
        self.model_uri = model_uri
        self._model = None

    def load(self) -> None:
        self._model = mlflow.pyfunc.load_model(self.model_uri)

    def score(self, batch: pd.DataFrame) -> np.ndarray:
        if self._model is None:
            self.load()
        predictions = self._model.predict(batch)
        return np.asarray(predictions, dtype=float)
''',
]

WORDS = ["churn", "fraud", "demand", "pricing", "ranking", "forecast", "uplift", "risk"]


def _function_with_finding(rng: random.Random, model: str, index: int) -> str:
    snippet = rng.choice(FINDING_SNIPPETS).format(model=model)
    return (
        f"\n\ndef promote_{index}(\n"
        "    version: str, run_id: str, estimator: object, spark: object\n"
        ") -> object:\n"
        f'    """Registry step {index}."""\n'
        f"    {snippet}\n"
        f"    return None\n"
    )


def python_module(rng: random.Random, target_lines: int, findings: int, index: int) -> str:
    model = rng.choice(WORDS) + "_model"
    parts = [HEADER.format(doc=f"Pipeline module {index}.", model=model)]
    lines = parts[0].count("\n")
    n = 0
    while lines < target_lines:
        word = rng.choice(WORDS)
        chunk = rng.choice(FILLER).format(
            cls=word.capitalize() + str(n), fn=f"{word}_{n}", word=word, n=rng.randint(2, 9)
        )
        parts.append(chunk)
        lines += chunk.count("\n")
        n += 1
    if rng.random() < 0.05:
        # Harmless trigger words: these files pass the pre-filter and are parsed for nothing.
        parts.append(
            "\n\n# The state transition diagram of this pipeline lives in the wiki.\n"
            'DOC_LINK = "see models:/ in the MLflow docs"\n'
        )
    for i in range(findings):
        parts.append(_function_with_finding(rng, model, i))
    return "".join(parts)


def notebook(rng: random.Random, with_finding: bool) -> str:
    word = rng.choice(WORDS)
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [f"# {word} exploration\n"]},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "outputs": [],
            "source": ["%pip install -q scikit-learn\n"],
        },
    ]
    for k in range(8):
        source = (
            f"frame_{k} = pd.read_parquet('/data/{word}/{k}.parquet')\n"
            f"frame_{k}['{word}_score'] = frame_{k}['value'].rolling(7).mean()\n"
            f"display(frame_{k}.describe())\n"
        )
        cells.append(
            {
                "cell_type": "code",
                "execution_count": k + 2,
                "metadata": {},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}],
                "source": source.splitlines(keepends=True),
            }
        )
    if with_finding:
        cells.append(
            {
                "cell_type": "code",
                "execution_count": 20,
                "metadata": {},
                "outputs": [],
                "source": [
                    "import mlflow\n",
                    f'model = mlflow.pyfunc.load_model("models:/{word}_model/Production")\n',
                ],
            }
        )
    for number, cell in enumerate(cells):
        cell["id"] = f"cell-{number}"
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1) + "\n"


def generate(
    root: Path, python_lines: int = 1_000_000, notebooks: int = 2_000, seed: int = 7
) -> dict[str, int]:
    """Write the corpus under `root`; returns what was written."""
    rng = random.Random(seed)
    lines_per_file = 400
    files = python_lines // lines_per_file
    total_findings = python_lines // 2_000
    finding_files = set(rng.sample(range(files), min(files, total_findings // 2)))
    written_lines = 0
    for i in range(files):
        package = root / "src" / f"team_{i % 25}" / f"pkg_{i % 7}"
        package.mkdir(parents=True, exist_ok=True)
        count = 2 if i in finding_files else 0
        text = python_module(rng, lines_per_file - 6 * count, count, i)
        (package / f"module_{i}.py").write_text(text)
        written_lines += text.count("\n")
    nb_dir = root / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    for i in range(notebooks):
        (nb_dir / f"explore_{i}.ipynb").write_text(notebook(rng, with_finding=i % 20 == 0))
    return {
        "python_files": files,
        "python_lines": written_lines,
        "notebooks": notebooks,
        "expected_findings_python": total_findings,
        "expected_findings_notebooks": notebooks // 20,
    }
