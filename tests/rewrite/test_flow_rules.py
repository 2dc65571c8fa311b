"""Rules that follow scopes and values, in pyupgrade's manner: receivers by what they hold at
that point, names and stages through variables, and what must not change."""

from __future__ import annotations

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_added import ADDED_FUNCTIONS
from modelcatalog.rewrite.python_source import fix_source, lint_source

from .conftest import codes, fixed

CLIENT = "from mlflow import MlflowClient\n"
ADDED = "\n\n" + ADDED_FUNCTIONS["_versions_with_alias"] + "\n\n"

FIXES = [
    pytest.param(
        CLIENT + "client = make()\n"
        "def promote(client: MlflowClient, v):\n"
        "    client.transition_model_version_stage('churn', v, 'Production')\n",
        CLIENT + "client = make()\n"
        "def promote(client: MlflowClient, v):\n"
        "    client.set_registered_model_alias(name='main.default.churn', version=v,"
        " alias='Production')\n"
        "    client.set_model_version_tag(name='main.default.churn', version=v,"
        " key='migrated_stage', value='Production')\n",
        id="MC105-annotated-parameter-despite-rebinding-elsewhere",
    ),
    pytest.param(
        "from typing import Optional\n" + CLIENT + "def f(c: Optional[MlflowClient]):\n"
        "    c.transition_model_version_stage('m', 1, 'Staging')\n",
        "from typing import Optional\n" + CLIENT + "def f(c: Optional[MlflowClient]):\n"
        "    c.set_registered_model_alias(name='main.default.m', version=1, alias='Staging')\n"
        "    c.set_model_version_tag(name='main.default.m', version=1, key='migrated_stage',"
        " value='Staging')\n",
        id="MC105-optional-annotation",
    ),
    pytest.param(
        "class Promoter:\n"
        "    def __init__(self, uri):\n"
        "        try:\n"
        "            from mlflow.tracking import MlflowClient\n"
        "        except ImportError:\n"
        "            MlflowClient = None\n"
        "        self.client = MlflowClient(uri)\n"
        "    def promote(self, v):\n"
        "        self.client.transition_model_version_stage('churn', v, 'Staging')\n",
        "class Promoter:\n"
        "    def __init__(self, uri):\n"
        "        try:\n"
        "            from mlflow.tracking import MlflowClient\n"
        "        except ImportError:\n"
        "            MlflowClient = None\n"
        "        self.client = MlflowClient(uri)\n"
        "    def promote(self, v):\n"
        "        self.client.set_registered_model_alias(name='main.default.churn', version=v,"
        " alias='Staging')\n"
        "        self.client.set_model_version_tag(name='main.default.churn', version=v,"
        " key='migrated_stage', value='Staging')\n",
        id="MC105-client-imported-in-try-kept-on-self",
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\nc.transition_model_version_stage(\n"
        "    'churn',  # model\n    v,\n    'Production',  # live\n"
        "    archive_existing_versions=True,\n)\n",
        CLIENT + "c = MlflowClient()\nc.set_registered_model_alias(\n"
        "    name='main.default.churn',  # model\n    version=v,\n    alias='Production',  # live\n"
        ")\nc.set_model_version_tag(name='main.default.churn', version=v, key='migrated_stage',"
        " value='Production')\n",
        id="MC105-comments-and-line-breaks-inside-the-call-kept",
    ),
    pytest.param(
        CLIENT + "STAGE = 'Production'\nc = MlflowClient()\n"
        "c.transition_model_version_stage('m', 1, STAGE)\n",
        CLIENT + "STAGE = 'Production'\nc = MlflowClient()\n"
        "c.set_registered_model_alias(name='main.default.m', version=1, alias=\"Production\")\n"
        "c.set_model_version_tag(name='main.default.m', version=1, key=\"migrated_stage\","
        ' value="Production")\n',
        id="MC105-stage-through-a-constant",
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\n"
        "def first_deploy(name):\n"
        "    versions = c.get_latest_versions(\n"
        "        name,  # which model\n"
        "        stages=['Staging'],  # the candidate\n"
        "    )\n"
        "    if not versions:\n"
        "        return None\n"
        "    return versions[0]\n",
        CLIENT + ADDED + "c = MlflowClient()\n"
        "def first_deploy(name):\n"
        "    versions = _versions_with_alias(\n"
        "        c, name,  # which model\n"
        "        alias='Staging',  # the candidate\n"
        "    )\n"
        "    if not versions:\n"
        "        return None\n"
        "    return versions[0]\n",
        id="MC106-empty-list-branch-kept-function-added-once-comments-kept",
    ),
    pytest.param(
        "import mlflow\n"
        "def register(uri):\n"
        "    name = 'fraud'\n"
        "    mlflow.register_model(uri, name)\n",
        "import mlflow\n"
        "def register(uri):\n"
        "    name = 'main.default.fraud'\n"
        "    mlflow.register_model(uri, name)\n",
        id="MC114-local-name-fixed-where-assigned",
    ),
    pytest.param(
        "import mlflow\n"
        "def load():\n"
        "    name = 'fraud'\n"
        "    return mlflow.pyfunc.load_model(f'models:/{name}/1')\n",
        "import mlflow\n"
        "def load():\n"
        "    name = 'main.default.fraud'\n"
        "    return mlflow.pyfunc.load_model(f'models:/{name}/1')\n",
        id="MC103-local-name-in-fstring-fixed-where-assigned",
    ),
    pytest.param(
        "import mlflow\nfrom mlflow import MlflowClient\nMODEL = 'churn'\nc = MlflowClient()\n"
        "mlflow.register_model(uri, MODEL)\nc.get_model_version(MODEL, 1)\n"
        "c.search_model_versions(f\"name='{MODEL}'\")\n",
        "import mlflow\nfrom mlflow import MlflowClient\nMODEL = 'main.default.churn'\n"
        "c = MlflowClient()\nmlflow.register_model(uri, MODEL)\nc.get_model_version(MODEL, 1)\n"
        "c.search_model_versions(f\"name='{MODEL}'\")\n",
        id="MC114-module-constant-read-only-as-a-name",
    ),
    pytest.param(
        "import mlflow\nfrom mlflow import MlflowClient\nREGISTRY = 'databricks'\n"
        "mlflow.set_registry_uri('databricks')\nclient = MlflowClient(registry_uri=REGISTRY)\n",
        "import mlflow\nfrom mlflow import MlflowClient\nREGISTRY = 'databricks-uc'\n"
        "mlflow.set_registry_uri('databricks-uc')\nclient = MlflowClient(registry_uri=REGISTRY)\n",
        id="MC104-registry-uri-through-a-constant",
    ),
    pytest.param(
        "import os\nos.environ['MLFLOW_REGISTRY_URI'] = 'databricks'\n",
        "import os\nos.environ['MLFLOW_REGISTRY_URI'] = 'databricks-uc'\n",
        id="MC104-environment-variable",
    ),
    pytest.param(
        "%pip install mlflow\n!ls\nimport mlflow\nmlflow.set_registry_uri('databricks')\n",
        "%pip install mlflow\n!ls\nimport mlflow\nmlflow.set_registry_uri('databricks-uc')\n",
        id="MC104-python-file-with-magic-lines",
    ),
]


@pytest.mark.parametrize(("before", "after"), FIXES)
def test_fix(before: str, after: str) -> None:
    assert fixed(before) == after


@pytest.mark.parametrize(("before", "after"), FIXES)
def test_fix_is_idempotent(before: str, after: str) -> None:
    assert fixed(after) == after


REPORTED = [
    pytest.param(
        "def load(name, stage):\n    return f'models:/{name}/{stage}'\n",
        ["MC115"],
        id="MC115-stage-parameter",
    ),
    pytest.param(
        "import os\nu = 'models:/churn/' + os.environ['MODEL_STAGE']\n",
        ["MC115"],
        id="MC115-stage-from-environment",
    ),
    pytest.param(
        "u = f\"models:/{cfg['model']}/{cfg['stage']}\"\n", ["MC115"], id="MC115-stage-from-config"
    ),
    pytest.param(
        "def f(env):\n    s = 'Production' if env == 'prod' else 'Staging'\n"
        "    return f'models:/churn/{s}'\n",
        ["MC115"],
        id="MC115-stage-chosen-between-literals",
    ),
    pytest.param(
        "import mlflow\nprint(getattr(v, 'current_stage', None))\n", ["MC109"], id="MC109-getattr"
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\nc.get_latest_versions('m', stages=[])\n",
        ["MC107"],
        id="MC107-empty-stages-means-every-stage",
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\nc.get_latest_versions('m', stages=None)\n",
        ["MC107"],
        id="MC107-stages-none",
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\ndef f(stage):\n"
        "    return c.get_latest_versions('m', stages=[stage])\n",
        ["MC106"],
        id="MC106-stage-parameter",
    ),
    pytest.param(
        CLIENT + "c = MlflowClient()\ndef f(stage):\n"
        "    c.transition_model_version_stage('m', 1, stage)\n",
        ["MC105"],
        id="MC105-stage-parameter",
    ),
    pytest.param(
        "import mlflow\nfrom mlflow import MlflowClient\nREGISTRY = 'databricks'\n"
        "print(REGISTRY)\nc = MlflowClient(registry_uri=REGISTRY)\n",
        ["MC104"],
        id="MC104-constant-read-elsewhere-not-fixed",
    ),
    pytest.param(
        "import mlflow\ndef register(uri):\n    name = 'fraud'\n"
        "    print('registering', name)\n    mlflow.register_model(uri, name)\n",
        ["MC114"],
        id="MC114-local-name-also-logged-not-fixed",
    ),
    pytest.param(
        "from mlflow_provider.operators.registry import TransitionModelVersionStageOperator\n"
        "t = TransitionModelVersionStageOperator(task_id='p', name='m', version='1',"
        " stage='Production')\n",
        ["MC105"],
        id="MC105-airflow-operator",
    ),
    pytest.param(
        "from mlflow_provider.operators.registry import GetLatestModelVersionsOperator\n"
        "t = GetLatestModelVersionsOperator(task_id='g', name='m', stages=['Staging'])\n",
        ["MC106"],
        id="MC106-airflow-operator",
    ),
    pytest.param(
        "from mlflow_provider.operators.registry import GetLatestModelVersionsOperator\n"
        "t = GetLatestModelVersionsOperator(task_id='g', name='m')\n",
        ["MC107"],
        id="MC107-airflow-operator",
    ),
]


@pytest.mark.parametrize(("source", "expected"), REPORTED)
def test_reported_without_a_fix(source: str, expected: list[str]) -> None:
    assert codes(source) == expected
    assert fixed(source) == source


NOOP = [
    pytest.param(
        CLIENT + "def a():\n    client = MlflowClient()\n"
        "def b(client):\n    client.transition_model_version_stage('m', 1, 'Production')\n",
        id="unannotated-parameter-of-the-same-name",
    ),
    pytest.param(
        CLIENT + "client = MlflowClient()\nclient = make()\n"
        "client.transition_model_version_stage('m', 1, 'Production')\n",
        id="rebound-before-the-call",
    ),
    pytest.param(
        CLIENT + "def f(flag):\n    c = MlflowClient()\n    if flag:\n        c = other()\n"
        "    c.get_latest_versions('m', stages=['Production'])\n",
        id="rebound-in-a-branch-before-the-call",
    ),
    pytest.param(
        CLIENT + "class A:\n    def __init__(self):\n        self.c = MlflowClient()\n"
        "    def reset(self):\n        self.c = Other()\n"
        "    def go(self):\n        self.c.transition_model_version_stage('m', 1, 'Staging')\n",
        id="self-attribute-set-to-two-kinds",
    ),
    pytest.param(
        CLIENT + "class A:\n    def __init__(self):\n        self.c = MlflowClient()\n"
        "class B:\n    def go(self):\n        self.c.transition_model_version_stage('m', 1, 'x')\n",
        id="self-attribute-of-another-class",
    ),
    pytest.param(
        "def load(name, version):\n    return f'models:/{name}/{version}'\n", id="version"
    ),
    pytest.param("u = f'models:/{name}/{n + 1}'\n", id="computed-version-expression"),
    pytest.param("state = getattr(job, 'current_stage')\n", id="getattr-without-mlflow"),
    pytest.param(
        "import mlflow\ndef f(uri):\n    return mlflow.MlflowClient(registry_uri=uri)\n",
        id="computed-registry-uri-in-a-file-that-selects-no-registry",
    ),
    pytest.param(
        "import mlflow\nname = 'fraud'\nprint(f'/tmp/{name}.pkl')\n", id="name-not-used-as-a-model"
    ),
    pytest.param(
        "from other_provider import GetLatestModelVersionsOperator\n"
        "t = GetLatestModelVersionsOperator(name='m', stages=['Staging'])\n",
        id="operator-of-another-package",
    ),
    pytest.param('x = """\n%s\n"""\n', id="percent-line-inside-a-string-is-not-a-magic"),
]


@pytest.mark.parametrize("source", NOOP)
def test_noop(source: str) -> None:
    assert codes(source) == []
    assert fixed(source) == source


def test_half_migrated_file_keeps_a_finding_for_what_remains() -> None:
    source = (
        "import mlflow\nfrom mlflow import MlflowClient\ndef f(uri):\n"
        "    mlflow.set_registry_uri('databricks')\n    return MlflowClient(registry_uri=uri)\n"
    )
    new, left, number_fixed = fix_source(source, ModelMap.default())
    assert "set_registry_uri('databricks-uc')" in new and number_fixed == 1
    (remaining,) = left
    assert (remaining.rule.code, remaining.line) == ("MC104", 5)
    assert "the parameter 'uri'" in remaining.message


def test_function_is_added_once_for_several_lookups() -> None:
    source = (
        CLIENT + "c = MlflowClient()\n"
        "a = c.get_latest_versions('m', ['Staging'])\n"
        "b = c.get_latest_versions('n', ['Production'])\n"
    )
    assert fixed(source).count("def _versions_with_alias(") == 1


def test_parse_error_names_the_line_and_its_text() -> None:
    from modelcatalog.rewrite.python_parse import SourceSyntaxError

    with pytest.raises(SourceSyntaxError) as caught:
        lint_source("import mlflow\n%pip install y\nmlflow.set_registry_uri?\n", ModelMap.default())
    assert (caught.value.line, caught.value.column) == (3, 24)
    assert "'mlflow.set_registry_uri?'" in str(caught.value)


def test_magic_lines_keep_line_numbers() -> None:
    (found,) = lint_source("%pip install x\n\nu = 'models:/m/Staging'\n", ModelMap.default())
    assert (found.line, found.column) == (3, 5)
