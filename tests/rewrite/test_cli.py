"""The real `modelcatalog code` command on real files."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

STAGE_CODE = (
    'import mlflow\n\nmodel = mlflow.pyfunc.load_model("models:/churn/Production")  # live\n'
)
FIXED_CODE = (
    'import mlflow\n\nmodel = mlflow.pyfunc.load_model("models:/main.default.churn@Production")'
    "  # live\n"
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_lint_clean_tree_exits_0(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "a.py", "x = 1\n")
    done = run_cli("lint", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "0 finding(s)" in done.stdout


def test_lint_findings_exit_1_with_path_line_col_code(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "job.py", STAGE_CODE)
    done = run_cli("lint", str(tmp_path))
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'job.py'}:3:34: MC101 error ")
    assert "models:/main.default.churn@Production" in first


def test_missing_path_and_conflicting_options_exit_2(tmp_path: Path, run_cli) -> None:
    assert run_cli("lint", str(tmp_path / "absent")).returncode == 2
    write(tmp_path / "m.yaml", "catalog: a\n")
    both = run_cli(
        "lint", str(tmp_path), "--plan", str(tmp_path / "m.yaml"), "--map", str(tmp_path / "m.yaml")
    )
    assert both.returncode == 2
    assert "either --plan or --map" in both.stderr


def test_unparseable_file_is_a_finding_at_its_line_exit_1_and_not_touched(
    tmp_path: Path, run_cli
) -> None:
    broken = write(tmp_path / "broken.py", 'u = "models:/churn/Production"\ndef (:\n')
    good = write(tmp_path / "good.py", STAGE_CODE)
    done = run_cli("fix", str(tmp_path))
    assert done.returncode == 1, done.stdout
    assert f"{broken}:2:5: MC001 error could not be parsed: " in done.stdout
    assert "'def (:'" in done.stdout
    assert broken.read_text() == 'u = "models:/churn/Production"\ndef (:\n'
    assert good.read_text() == FIXED_CODE


def test_lint_of_an_unparseable_file_alone_exits_1_not_2(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "broken.py", "import mlflow\nmlflow.set_registry_uri(\n")
    done = run_cli("lint", str(tmp_path), "-o", "json")
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["code"], finding["line"]) == ("MC001", 3)


def test_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path, run_cli) -> None:
    job = write(tmp_path / "job.py", STAGE_CODE)
    done = run_cli("fix", "--diff", str(job))
    assert done.returncode == 1
    shown = str(job).lstrip("/")
    assert f"--- a/{shown}" in done.stdout and f"+++ b/{shown}" in done.stdout
    assert '-model = mlflow.pyfunc.load_model("models:/churn/Production")  # live' in done.stdout
    assert job.read_text() == STAGE_CODE
    assert list(tmp_path.iterdir()) == [job]


def test_fix_writes_once_and_a_second_run_changes_nothing(tmp_path: Path, run_cli) -> None:
    job = write(tmp_path / "pkg" / "job.py", STAGE_CODE)
    job.chmod(0o750)
    first = run_cli("fix", str(tmp_path))
    assert first.returncode == 0, first.stdout
    assert job.read_text() == FIXED_CODE
    assert job.stat().st_mode & 0o777 == 0o750
    second = run_cli("fix", str(tmp_path), "--format", "json")
    assert second.returncode == 0
    assert json.loads(second.stdout)["summary"]["files_changed"] == 0
    assert sorted(p.name for p in job.parent.iterdir()) == ["job.py"]


def test_fix_exit_1_when_findings_need_a_manual_change(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "a.py", 'u = "models:/churn/latest"\n')
    done = run_cli("fix", str(tmp_path))
    assert done.returncode == 1
    assert "MC102 warning" in done.stdout


def test_ipynb_outputs_are_untouched(tmp_path: Path, run_cli) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("m = load('models:/churn/Staging')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="models:/churn/Staging")]
    nb.cells.append(cell)
    path = write(tmp_path / "nb.ipynb", nbformat.writes(nb))
    lint = run_cli("lint", str(path))
    assert f"{path}:cell 1:1:10: MC101" in lint.stdout
    assert run_cli("fix", str(path)).returncode == 0
    after = nbformat.read(path, as_version=4)
    assert after.cells[0].source == "m = load('models:/main.default.churn@Staging')"
    assert after.cells[0].outputs == cell.outputs


def test_json_format_has_every_field(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "a.py", STAGE_CODE)
    report = json.loads(run_cli("lint", str(tmp_path), "--format", "json").stdout)
    (finding,) = report["findings"]
    assert set(finding) == {
        "code",
        "rule",
        "severity",
        "path",
        "cell",
        "line",
        "column",
        "message",
        "fixable",
    }
    assert report["summary"]["findings"] == 1


def test_sarif_has_the_2_1_0_shape_with_rules(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "a.py", STAGE_CODE)
    write(tmp_path / "endpoint.yaml", "served_entities:\n  - entity_name: churn\n")
    done = run_cli("lint", str(tmp_path), "-o", "sarif")
    assert done.returncode == 1
    log = json.loads(done.stdout)
    earlier = run_cli("lint", str(tmp_path), "--format", "sarif")  # the earlier spelling
    assert json.loads(earlier.stdout) == log and "--format is now -o/--output" in earlier.stderr
    assert log["version"] == "2.1.0" and "sarif" in log["$schema"]
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert {"MC101", "MC201"} <= {r["id"] for r in rules}
    assert all(r["shortDescription"]["text"] for r in rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_map_file_is_used(tmp_path: Path, run_cli) -> None:
    job = write(tmp_path / "src" / "job.py", STAGE_CODE)
    mapping = write(
        tmp_path / "map.yaml",
        "catalog: ml\nschema: prod\nmodels: {churn: risk.models.churn}\n"
        "aliases: {Production: champion}\n",
    )
    assert run_cli("fix", str(job), "--map", str(mapping)).returncode == 0
    assert "models:/risk.models.churn@champion" in job.read_text()


def test_plan_file_is_used(tmp_path: Path, run_cli) -> None:
    job = write(tmp_path / "src" / "job.py", STAGE_CODE)
    plan = write(
        tmp_path / "plan.yaml",
        "version: 1\ntarget: {catalog: ml, schema: migrated}\n"
        "stage_policy: {aliases: {Production: live}, stage_tag: null}\nmodels: []\n",
    )
    done = run_cli("lint", str(job), "--plan", str(plan))
    assert "models:/ml.migrated.churn@live" in done.stdout
    assert "default catalog and schema" not in done.stdout


def test_bad_map_file_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "a.py", STAGE_CODE)
    mapping = write(tmp_path / "map.yaml", "aliases: {Production: latest}\n")
    done = run_cli("lint", str(tmp_path / "a.py"), "--map", str(mapping))
    assert done.returncode == 2
    assert f"{mapping}: aliases.Production: alias 'latest' is reserved" in done.stderr


def test_bad_plan_file_is_a_clear_error(tmp_path: Path, run_cli) -> None:
    plan = write(tmp_path / "plan.yaml", "version: 1\ntarget: {catalog: ml}\n")
    done = run_cli("lint", str(tmp_path), "--plan", str(plan))
    assert done.returncode == 2
    assert "target.schema: is missing" in done.stderr


def test_many_files_go_through_the_process_pool(tmp_path: Path, run_cli) -> None:
    for i in range(80):
        write(tmp_path / f"m{i}.py", STAGE_CODE if i % 8 == 0 else "x = 1\n")
    done = run_cli("lint", str(tmp_path), "--jobs", "2", "--format", "json")
    assert json.loads(done.stdout)["summary"]["findings"] == 10


def test_help_documents_the_default_namespace(run_cli) -> None:
    done = run_cli("lint", "--help")
    assert done.returncode == 0
    assert "main.default" in done.stdout


def test_notebook_cell_that_does_not_parse_is_a_finding_with_cell_and_line(
    tmp_path: Path, run_cli
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import mlflow\nmlflow.set_registry_uri?"),
    ]
    path = write(tmp_path / "nb.ipynb", nbformat.writes(nb))
    done = run_cli("lint", str(path), "-o", "json")
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["code"], finding["cell"], finding["line"]) == ("MC001", 2, 2)
    assert "'mlflow.set_registry_uri?'" in finding["message"]


def test_databricks_source_findings_name_their_cell(tmp_path: Path, run_cli) -> None:
    path = write(
        tmp_path / "job.py",
        "# Databricks notebook source\nfrom mlflow import MlflowClient\nc = MlflowClient()\n"
        "\n# COMMAND ----------\n\nc.transition_model_version_stage('m', 1, 'Archived')\n",
    )
    done = run_cli("lint", str(path))
    assert done.returncode == 1
    assert done.stdout.startswith(f"{path}:7:1: MC105 error ")
    assert done.stdout.splitlines()[0].endswith("(cell 2)")


def test_config_that_does_not_parse_is_a_finding_at_its_line(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path / "endpoint.yaml", "name: x\nserved_entities:\n  - entity_name: [churn\n")
    done = run_cli("lint", str(path), "-o", "json")
    assert done.returncode == 1
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["code"] == "MC001" and finding["line"] >= 3


def test_exit_codes_tell_findings_from_usage_errors(tmp_path: Path, run_cli) -> None:
    write(tmp_path / "clean.py", "x = 1\n")
    write(tmp_path / "broken.py", "import mlflow\nmlflow.set_registry_uri(\n")
    assert run_cli("lint", str(tmp_path / "clean.py")).returncode == 0
    assert run_cli("lint", str(tmp_path / "broken.py")).returncode == 1
    assert run_cli("lint", str(tmp_path / "broken.py"), str(tmp_path / "absent.py")).returncode == 2
    write(tmp_path / "notes.txt", "models:/churn/Production\n")
    assert run_cli("lint", str(tmp_path / "notes.txt")).returncode == 2
