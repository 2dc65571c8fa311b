"""Python rules, in pyupgrade's manner: fixes as before/after pairs, and what must not change."""

from __future__ import annotations

import pytest

from modelcatalog.migrate.mapping import ModelMap
from modelcatalog.rewrite.python_added import ADDED_FUNCTIONS

from .conftest import codes, fixed

IMPORTS = "import mlflow\nfrom mlflow import MlflowClient\nclient = MlflowClient()\n"
SDK = "from databricks.sdk import WorkspaceClient\nw = WorkspaceClient()\n"
ADDED = "\n\n" + ADDED_FUNCTIONS["_versions_with_alias"] + "\n\n"

FIXES = [
    # MC101: stage URIs
    pytest.param(
        'm = load("models:/churn/Production")\n',
        'm = load("models:/main.default.churn@Production")\n',
        id="MC101-literal",
    ),
    pytest.param(
        "u = 'models:/churn/Staging'\n",
        "u = 'models:/main.default.churn@Staging'\n",
        id="MC101-single-quotes-staging",
    ),
    pytest.param(
        'u = "models:/churn/production"\n',
        'u = "models:/main.default.churn@Production"\n',
        id="MC101-stage-case-insensitive",
    ),
    pytest.param(
        'u = "models:/prod.ml.churn/Production"\n',
        'u = "models:/prod.ml.churn@Production"\n',
        id="MC101-three-level-name-kept",
    ),
    pytest.param(
        'u = "models:/Churn-Model.v2/Production"\n',
        'u = "models:/main.default.churn-model_v2@Production"\n',
        id="MC101-name-normalised",
    ),
    pytest.param(
        'u = "models:/Churn Model/Production"\n',
        'u = "models:/main.default.churn_model@Production"\n',
        id="MC101-name-with-space",
    ),
    pytest.param(
        'u = f"models:/{name}/Production"\n',
        'u = f"models:/{name}@Production"\n',
        id="MC101-fstring-computed-name",
    ),
    pytest.param(
        'u = "models:/{}/Staging".format(n)\n',
        'u = "models:/{}@Staging".format(n)\n',
        id="MC101-str-format",
    ),
    pytest.param(
        'u = "models:/%s/Production" % n\n',
        'u = "models:/%s@Production" % n\n',
        id="MC101-percent-format",
    ),
    pytest.param(
        'u = "models:/" + name + "/Production"\n',
        'u = "models:/" + name + "@Production"\n',
        id="MC101-concatenation",
    ),
    pytest.param(
        'u = ("models:/churn"\n     "/Production")\n',
        'u = ("models:/main.default.churn"\n     "@Production")\n',
        id="MC101-implicit-concatenation",
    ),
    pytest.param(
        'NAME = "churn"\nu = f"models:/{NAME}/Production"\n',
        'NAME = "main.default.churn"\nu = f"models:/{NAME}@Production"\n',
        id="MC101-constant-used-only-as-name-fixed-where-assigned",
    ),
    pytest.param(
        '# load it\nm = load(  "models:/churn/Production"  )  # serve\n',
        '# load it\nm = load(  "models:/main.default.churn@Production"  )  # serve\n',
        id="MC101-comments-and-spacing-kept",
    ),
    pytest.param(
        'S = "Production"\nu = f"models:/churn/{S}"\n',
        'S = "Production"\nu = f"models:/main.default.churn/{S}"\n',
        id="MC101-constant-stage-name-fixed-stage-reported",
    ),
    # MC103: short names in version and alias URIs
    pytest.param(
        'u = "models:/churn/3"\n', 'u = "models:/main.default.churn/3"\n', id="MC103-version"
    ),
    pytest.param(
        'u = "models:/churn@champion"\n',
        'u = "models:/main.default.churn@champion"\n',
        id="MC103-alias",
    ),
    # MC104: registry URI
    pytest.param(
        'import mlflow\nmlflow.set_registry_uri("databricks")\n',
        'import mlflow\nmlflow.set_registry_uri("databricks-uc")\n',
        id="MC104-set-registry-uri",
    ),
    pytest.param(
        "import mlflow as mf\nmf.set_registry_uri('databricks://prod')\n",
        "import mlflow as mf\nmf.set_registry_uri('databricks-uc://prod')\n",
        id="MC104-profile-and-alias-import",
    ),
    pytest.param(
        'from mlflow import MlflowClient\nc = MlflowClient(registry_uri="databricks")\n',
        'from mlflow import MlflowClient\nc = MlflowClient(registry_uri="databricks-uc")\n',
        id="MC104-client-registry-uri",
    ),
    # MC105: stage transitions
    pytest.param(
        IMPORTS + 'client.transition_model_version_stage("churn", 3, "Production")\n',
        IMPORTS + 'client.set_registered_model_alias(name="main.default.churn", version=3,'
        ' alias="Production")\nclient.set_model_version_tag(name="main.default.churn", version=3,'
        ' key="migrated_stage", value="Production")\n',
        id="MC105-positional-with-stage-tag",
    ),
    pytest.param(
        IMPORTS + "def promote(v):\n    # go live\n    client.transition_model_version_stage(\n"
        "        name='churn', version=v, stage='Staging', archive_existing_versions=True\n"
        "    )  # done\n",
        IMPORTS + "def promote(v):\n    # go live\n    client.set_registered_model_alias(\n"
        "        name='main.default.churn', version=v, alias='Staging'\n    )  # done\n"
        "    client.set_model_version_tag(name='main.default.churn', version=v,"
        " key='migrated_stage', value='Staging')\n",
        id="MC105-keywords-in-function-comments-kept",
    ),
    pytest.param(
        "import mlflow\nmlflow.MlflowClient().transition_model_version_stage(n, 2, 'Production')\n",
        "import mlflow\n"
        "mlflow.MlflowClient().set_registered_model_alias(name=n, version=2,"
        " alias='Production')\nmlflow.MlflowClient().set_model_version_tag(name=n, version=2,"
        " key='migrated_stage', value='Production')\n",
        id="MC105-inline-client-computed-name",
    ),
    # MC106: get_latest_versions with one stage
    pytest.param(
        IMPORTS + 'mv = client.get_latest_versions("churn", stages=["Production"])[0]\n',
        IMPORTS.replace("client =", ADDED + "client =")
        + 'mv = _versions_with_alias(client, "main.default.churn", alias="Production")[0]\n',
        id="MC106-first-element",
    ),
    pytest.param(
        IMPORTS + "mvs = client.get_latest_versions(name, ['Staging'])\n",
        IMPORTS.replace("client =", ADDED + "client =")
        + "mvs = _versions_with_alias(client, name, 'Staging')\n",
        id="MC106-list-kept",
    ),
    pytest.param(
        "from mlflow.tracking import MlflowClient\n"
        "def f(c: MlflowClient):\n"
        "    return c.get_latest_versions(name='m', stages=('Production',))[-1]\n",
        "from mlflow.tracking import MlflowClient\n" + ADDED + "def f(c: MlflowClient):\n"
        "    return _versions_with_alias(c, name='main.default.m', alias='Production')[-1]\n",
        id="MC106-annotated-parameter-tuple-last",
    ),
    # MC114: registering under a short name
    pytest.param(
        'import mlflow\nNAME = "churn"\nmlflow.register_model(uri, NAME)\n',
        'import mlflow\nNAME = "main.default.churn"\nmlflow.register_model(uri, NAME)\n',
        id="MC114-constant-read-only-as-a-name",
    ),
    pytest.param(
        'import mlflow\nmlflow.register_model("runs:/r/model", "churn")\n',
        'import mlflow\nmlflow.register_model("runs:/r/model", "main.default.churn")\n',
        id="MC114-register-model",
    ),
    pytest.param(
        "import mlflow\nmlflow.register_model(model_uri=u, name='Fraud Model')\n",
        "import mlflow\nmlflow.register_model(model_uri=u, name='main.default.fraud_model')\n",
        id="MC114-register-model-keyword",
    ),
    pytest.param(
        "import mlflow.sklearn\n"
        'mlflow.sklearn.log_model(m, "model", registered_model_name="churn")\n',
        'import mlflow.sklearn\nmlflow.sklearn.log_model(m, "model",'
        ' registered_model_name="main.default.churn")\n',
        id="MC114-log-model",
    ),
    pytest.param(
        "from mlflow import pyfunc\n"
        'pyfunc.log_model("m", python_model=p, registered_model_name="x")\n',
        'from mlflow import pyfunc\npyfunc.log_model("m", python_model=p,'
        ' registered_model_name="main.default.x")\n',
        id="MC114-log-model-from-import",
    ),
]


@pytest.mark.parametrize(("before", "after"), FIXES)
def test_fix(before: str, after: str) -> None:
    assert fixed(before) == after


@pytest.mark.parametrize(("before", "after"), FIXES)
def test_fix_is_idempotent_and_leaves_no_fixable_finding(before: str, after: str) -> None:
    assert fixed(after) == after


REPORTED = [
    pytest.param('u = "models:/churn/Archived"\n', "MC101", id="MC101-archived-no-alias"),
    pytest.param('S = "Production"\nu = f"models:/{n}/{S}"\n', "MC101", id="MC101-constant-stage"),
    pytest.param('u = "models:/churn/latest"\n', "MC102", id="MC102-latest"),
    pytest.param('u = f"models:/{n}/Latest"\n', "MC102", id="MC102-latest-computed-name"),
    pytest.param(
        IMPORTS + "client.transition_model_version_stage('m', 1, 'Archived')\n",
        "MC105",
        id="MC105-archived",
    ),
    pytest.param(
        IMPORTS + "mv = client.transition_model_version_stage('m', 1, 'Production')\n",
        "MC105",
        id="MC105-result-used",
    ),
    pytest.param(
        IMPORTS + "client.transition_model_version_stage('m', get_v(), 'Production')\n",
        "MC105",
        id="MC105-version-call-not-duplicated",
    ),
    pytest.param(
        SDK + "w.model_registry.transition_stage('m', '1', 'Production', True)\n",
        "MC105",
        id="MC105-sdk",
    ),
    pytest.param(
        'requests.post(host + "/api/2.0/mlflow/databricks/model-versions/transition-stage")\n',
        "MC105",
        id="MC105-rest",
    ),
    pytest.param(
        IMPORTS + "client.get_latest_versions('m', stages=['Production', 'Staging'])\n",
        "MC106",
        id="MC106-two-stages",
    ),
    pytest.param(IMPORTS + "client.get_latest_versions('m')\n", "MC107", id="MC107-no-stages"),
    pytest.param(SDK + "w.model_registry.get_latest_versions('m')\n", "MC107", id="MC107-sdk"),
    pytest.param(
        'url = f"{host}/api/2.0/mlflow/registered-models/get-latest-versions"\n',
        "MC107",
        id="MC107-rest",
    ),
    pytest.param(IMPORTS + "client.get_model_version_stages('m', 1)\n", "MC108", id="MC108"),
    pytest.param(
        "import mlflow\nif mv.current_stage == 'Production':\n    pass\n", "MC109", id="MC109-read"
    ),
    pytest.param(
        IMPORTS + "client.search_model_versions(\"name='m' and current_stage='Production'\")\n",
        "MC110",
        id="MC110-client",
    ),
    pytest.param(
        "import mlflow\nmlflow.search_model_versions(filter_string=f\"current_stage='{s}'\")\n",
        "MC110",
        id="MC110-module-function",
    ),
    pytest.param(
        SDK
        + "w.model_registry.create_transition_request(name='m', version='1', stage='Production')\n",
        "MC111",
        id="MC111-sdk-create",
    ),
    pytest.param(
        "from databricks.sdk import WorkspaceClient\nreg = WorkspaceClient().model_registry\n"
        "reg.approve_transition_request(name='m', version='1', stage='Production', "
        "archive_existing_versions=True)\n",
        "MC111",
        id="MC111-sdk-approve-through-handle",
    ),
    pytest.param(
        SDK
        + "w.model_registry.reject_transition_request(name='m', version='1', stage='Staging')\n",
        "MC111",
        id="MC111-sdk-reject",
    ),
    pytest.param('PATH = "/api/2.0/mlflow/transition-requests/create"\n', "MC111", id="MC111-rest"),
    pytest.param(
        SDK + "w.model_registry.create_comment(name='m', version='1', comment='x')\n",
        "MC112",
        id="MC112-sdk",
    ),
    pytest.param('p = "/api/2.0/mlflow/comments/create"\n', "MC112", id="MC112-rest"),
    pytest.param(SDK + "w.model_registry.create_webhook(events=[])\n", "MC113", id="MC113-sdk"),
    pytest.param(
        'requests.patch(f"{h}/api/2.0/mlflow/registry-webhooks/update", json=b)\n',
        "MC113",
        id="MC113-rest",
    ),
    pytest.param(
        'import mlflow\nNAME = "churn"\nmlflow.register_model(uri, NAME)\nprint(NAME)\n',
        "MC114",
        id="MC114-constant-name-also-printed",
    ),
]


@pytest.mark.parametrize(("source", "code"), REPORTED)
def test_reported_without_a_fix(source: str, code: str) -> None:
    assert code in codes(source)
    assert fixed(source) == source


NOOP = [
    pytest.param('"""Load models:/churn/Production."""\n', id="module-docstring"),
    pytest.param('def f():\n    """models:/churn/Production"""\n', id="function-docstring"),
    pytest.param("# models:/churn/Production\nx = 1\n", id="comment"),
    pytest.param('msg = "see models:/churn/Production"\n', id="prose-mentioning-a-uri"),
    pytest.param('u = b"models:/churn/Production"\n', id="bytes"),
    pytest.param(
        'msg = "models:/churn/Production is what we serve"\n', id="prose-starting-with-uri"
    ),
    pytest.param('log.info("loaded %s", "models:/")\n', id="scheme-only"),
    pytest.param('u = "models:/churn/Prod"\n', id="not-a-stage"),
    pytest.param('u = f"models:/{name}/{version}"\n', id="computed-version"),
    pytest.param('u = "runs:/abc/model"\n', id="run-uri"),
    pytest.param('u = "models:/main.default.churn@Production"\n', id="migrated-alias-uri"),
    pytest.param('u = "models:/main.default.churn/3"\n', id="migrated-version-uri"),
    pytest.param('u = f"models:/{name}@champion"\n', id="computed-name-alias-uri"),
    pytest.param('import mlflow\nmlflow.set_registry_uri("databricks-uc")\n', id="migrated-uri"),
    pytest.param('import mlflow\nmlflow.set_registry_uri("http://mlflow:5000")\n', id="other-uri"),
    pytest.param("import mlflow\nmlflow.set_registry_uri(uri)\n", id="computed-registry-uri"),
    pytest.param('other.set_registry_uri("databricks")\n', id="not-mlflow-set-registry-uri"),
    pytest.param(
        "from feast import Registry\nr = Registry()\n"
        "r.get_latest_versions('m', stages=['Production'])\n",
        id="other-library-get-latest-versions",
    ),
    pytest.param(
        "client = make_client()\nclient.transition_model_version_stage('m', 1, 'Production')\n",
        id="receiver-of-unknown-origin",
    ),
    pytest.param(
        "import boto3\nfrom mlflow import MlflowClient\n"
        "def a():\n    client = MlflowClient()\n"
        "def b():\n    client = boto3.client('s3')\n"
        "    client.get_latest_versions('m', stages=['Production'])\n",
        id="name-bound-to-two-kinds-of-object",
    ),
    pytest.param(
        "state.current_stage = 'done'\nprint(state.current_stage)\n",
        id="current-stage-without-mlflow",
    ),
    pytest.param("import mlflow\nself.current_stage = 'x'\n", id="current-stage-write"),
    pytest.param(
        IMPORTS + "client.set_registered_model_alias('main.default.m', 'Production', 3)\n"
        "mv = client.get_model_version_by_alias('main.default.m', 'Production')\n",
        id="migrated-client-calls",
    ),
    pytest.param(
        IMPORTS + "client.search_model_versions(\"name='main.default.m'\")\n",
        id="search-without-stage",
    ),
    pytest.param(
        'import mlflow\nmlflow.register_model("runs:/r/m", "main.default.churn")\n',
        id="register-full-name",
    ),
    pytest.param("import mlflow\nmlflow.register_model(uri, name)\n", id="register-computed-name"),
    pytest.param(
        'import mymod\nmymod.log_model(m, registered_model_name="churn")\n',
        id="log-model-of-another-library",
    ),
    pytest.param(
        "api.model_registry.create_transition_request(name='m', version='1', stage='x')\n",
        id="model-registry-of-unknown-origin",
    ),
    pytest.param('u = "/api/2.0/mlflow/unity-catalog/models/m/versions/1"\n', id="uc-rest-path"),
]


@pytest.mark.parametrize("source", NOOP)
def test_noop(source: str) -> None:
    assert codes(source) == []
    assert fixed(source) == source


def test_no_stage_tag_configured_means_alias_only() -> None:
    model_map = ModelMap(stage_tag=None)
    source = IMPORTS + 'client.transition_model_version_stage("churn", 3, "Production")\n'
    assert fixed(source, model_map) == IMPORTS + (
        'client.set_registered_model_alias(name="main.default.churn", version=3,'
        ' alias="Production")\n'
    )


def test_map_aliases_and_names_are_used() -> None:
    from types import MappingProxyType

    model_map = ModelMap(
        catalog="ml",
        schema="prod",
        models=MappingProxyType({"churn": "risk.models.churn"}),
        stage_aliases=MappingProxyType({"Production": "champion", "Staging": "challenger"}),
        default_namespace=False,
    )
    assert fixed('u = "models:/churn/Production"\n', model_map) == (
        'u = "models:/risk.models.churn@champion"\n'
    )
    assert fixed('u = "models:/fraud/Staging"\n', model_map) == (
        'u = "models:/ml.prod.fraud@challenger"\n'
    )


def test_messages_say_when_the_default_catalog_and_schema_are_used() -> None:
    from modelcatalog.rewrite.python_source import lint_source

    (finding,) = lint_source('u = "models:/churn/3"\n', ModelMap.default())
    assert "default catalog and schema main.default" in finding.message
    assert (finding.line, finding.column) == (1, 5)
