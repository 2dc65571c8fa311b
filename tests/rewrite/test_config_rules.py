"""YAML and JSON configs: serving endpoints, jobs and asset bundles."""

from __future__ import annotations

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.config_document import ConfigSyntaxError
from modelcatalog.rewrite.config_source import fix_config, lint_config

FIXES = [
    pytest.param(
        "yaml",
        "config:\n  served_entities:\n    - entity_name: churn  # model\n"
        "      entity_version: '3'\n",
        "config:\n  served_entities:\n    - entity_name: main.default.churn  # model\n"
        "      entity_version: '3'\n",
        id="MC201-yaml-served-entities-comment-kept",
    ),
    pytest.param(
        "yaml",
        "served_models:\n  - model_name: 'Fraud'\n    model_version: 2\n",
        "served_models:\n  - model_name: 'main.default.fraud'\n    model_version: 2\n",
        id="MC201-yaml-legacy-served-models",
    ),
    pytest.param(
        "json",
        '{\n  "served_entities": [{"entity_name": "churn", "entity_version": "1"}]\n}\n',
        "{\n"
        '  "served_entities": [{"entity_name": "main.default.churn", "entity_version": "1"}]\n}\n',
        id="MC201-json",
    ),
    pytest.param(
        "yaml",
        "resources:\n  jobs:\n    score:\n      tasks:\n        - task_key: s\n"
        "          python_wheel_task:\n"
        '            parameters: [--uri, "models:/churn/Production"]\n',
        "resources:\n  jobs:\n    score:\n      tasks:\n        - task_key: s\n"
        "          python_wheel_task:\n"
        '            parameters: [--uri, "models:/main.default.churn@Production"]\n',
        id="MC101-bundle-task-parameter",
    ),
    pytest.param(
        "yaml",
        "base_parameters:\n  model_uri: models:/churn/3\n",
        "base_parameters:\n  model_uri: models:/main.default.churn/3\n",
        id="MC103-plain-scalar",
    ),
    pytest.param(
        "json",
        '{"parameters": ["models:/churn/Staging"]}',
        '{"parameters": ["models:/main.default.churn@Staging"]}',
        id="MC101-json-no-trailing-newline",
    ),
]


@pytest.mark.parametrize(("kind", "before", "after"), FIXES)
def test_fix(kind: str, before: str, after: str) -> None:
    assert fix_config(before, kind, ModelMap.default())[0] == after  # type: ignore[arg-type]
    assert fix_config(after, kind, ModelMap.default())[0] == after  # type: ignore[arg-type]


REPORTED = [
    pytest.param(
        "yaml",
        "resources:\n  models:\n    churn:\n      name: churn\n",
        "MC202",
        id="MC202-legacy-models",
    ),
    pytest.param(
        "yaml",
        "resources:\n  registered_models:\n    churn:\n      name: churn\n",
        "MC202",
        id="MC202-no-catalog",
    ),
    pytest.param("yaml", "uri: models:/churn/latest\n", "MC102", id="MC102-latest"),
    pytest.param("yaml", "uri: |\n  models:/churn/3\n", "MC103", id="MC103-block-scalar"),
    pytest.param("json", '{"u": "models:\\/churn\\/3"}', "MC103", id="MC103-escaped"),
]


@pytest.mark.parametrize(("kind", "source", "code"), REPORTED)
def test_reported_without_a_fix(kind: str, source: str, code: str) -> None:
    found = lint_config(source, kind, ModelMap.default())  # type: ignore[arg-type]
    assert code in [f.rule.code for f in found]
    assert fix_config(source, kind, ModelMap.default())[0] == source  # type: ignore[arg-type]


NOOP = [
    pytest.param("yaml", "# models:/churn/Production\nx: 1\n", id="yaml-comment"),
    pytest.param(
        "yaml", "served_entities:\n  - entity_name: main.default.churn\n", id="full-entity-name"
    ),
    pytest.param("yaml", "served_entities:\n  - external_model: {name: gpt}\n", id="external"),
    pytest.param("yaml", "description: see models:/churn/Production\n", id="prose"),
    pytest.param("yaml", "models:/churn/Production: key\n", id="key-not-value"),
    pytest.param(
        "yaml",
        "resources:\n  registered_models:\n    churn:\n      name: churn\n"
        "      catalog_name: main\n      schema_name: ml\n",
        id="bundle-uc-model",
    ),
    pytest.param("json", '{"model_name": "churn"}', id="model-name-outside-served-models"),
    pytest.param("json", '{"uri": "models:/a.b.c@champion"}', id="migrated-uri"),
]


@pytest.mark.parametrize(("kind", "source"), NOOP)
def test_noop(kind: str, source: str) -> None:
    assert lint_config(source, kind, ModelMap.default()) == []  # type: ignore[arg-type]
    assert fix_config(source, kind, ModelMap.default())[0] == source  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "source"),
    [("yaml", "a: [\n"), ("json", '{"a": }'), ("json", '{"a": 1} x'), ("json", "{'a': 1}")],
)
def test_invalid_documents_raise_a_syntax_error(kind: str, source: str) -> None:
    with pytest.raises(ConfigSyntaxError):
        lint_config(source, kind, ModelMap.default())  # type: ignore[arg-type]


def test_positions_are_line_and_column_of_the_value() -> None:
    (finding,) = lint_config("a:\n  b: models:/churn/3\n", "yaml", ModelMap.default())
    assert (finding.line, finding.column) == (2, 6)
