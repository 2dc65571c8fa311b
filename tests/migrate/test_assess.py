"""`migrate assess` on a real MLflow registry (SQLite and local files) built with MLflow itself."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from fakes.mlflow_sources import EXPERIMENT, log_tiny_model
from modelcatalog.cli.migrate import app as migrate_app
from modelcatalog.migrate import assess_checks
from modelcatalog.migrate.assess import AssessError, Finding, check_source_uri, run_assessment
from modelcatalog.migrate.assess_report import render_html, render_json, report_data
from modelcatalog.migrate.assess_rules import RULES
from support.cli import run_cli
from support.mlflow_stores import mlflow_database

WEBHOOK_SECRET = "whsec-do-not-leak-4711"
QUERY_TOKEN = "querytoken-do-not-leak-0815"
NON_ASCII = "Détection de fraude — 不正検出 ✓"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry with every situation assess reports, built through MLflow's client."""
    folder = tmp_path_factory.mktemp("assess-source")
    uri = mlflow_database(folder / "mlflow.db")
    saved = {k: os.environ.get(k) for k in ("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS",)}
    # MLflow resolves webhook hosts at creation; the test machine has no DNS.
    os.environ["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] = "true"
    import mlflow

    previous_tracking_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment(EXPERIMENT, str(folder / "art"))
    full = log_tiny_model(uri, "full")
    inputs_only = log_tiny_model(uri, "inputs")
    unsigned = log_tiny_model(uri, "none")
    client = MlflowClient(uri, uri)

    client.create_registered_model("churn", tags={"team": "risk"})
    for logged, stage in [
        (full, "Archived"),
        (full, "Production"),
        (full, "Production"),
        (inputs_only, "Staging"),
        (unsigned, None),
    ]:
        version = logged.register(client, "churn")
        if stage:
            client.transition_model_version_stage("churn", version.version, stage)
    client.set_registered_model_alias("churn", "Production", "2")
    client.set_registered_model_alias("churn", "champion", "3")
    client.create_registered_model("CHURN")

    client.create_registered_model(
        "Fraud Detector",
        tags={"team.name": "fraud", "owner:email": "x", "notes": "n" * 1001},
        description=NON_ASCII,
    )
    version = full.register(client, "Fraud Detector")
    for i in range(50):
        client.set_model_version_tag("Fraud Detector", version.version, f"k{i:02d}", "v")
    client.set_model_version_tag("Fraud Detector", version.version, "migrated_stage", "old")

    client.create_registered_model("broken")
    client.create_model_version("broken", str(folder / "nowhere"), None)
    not_a_model = folder / "not-a-model"
    not_a_model.mkdir()
    (not_a_model / "weights.bin").write_bytes(b"\0" * 10)
    client.create_model_version("broken", str(not_a_model), None)

    client.create_webhook(
        name="notify",
        url=f"https://hooks.example.com/services/T1/B2?token={QUERY_TOKEN}",
        events=["model_version.created", "model_version_alias.created"],
        secret=WEBHOOK_SECRET,
    )
    client.create_webhook(
        name="prompts-only", url="https://hooks.example.com/p", events=["prompt.created"]
    )
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous_tracking_uri)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def assessment(source: str):
    return run_assessment(source)


def codes(findings: list[Finding], model: str | None, version: int | None = None) -> set[str]:
    return {f.code for f in findings if f.model == model and f.version == version}


def test_every_model_and_version_is_inventoried(assessment) -> None:
    names = [m.name for m in assessment.models]
    assert names == ["CHURN", "Fraud Detector", "broken", "churn"]
    churn = next(m for m in assessment.models if m.name == "churn")
    assert [(v.source.version, v.source.stage) for v in churn.versions] == [
        (1, "Archived"),
        (2, "Production"),
        (3, "Production"),
        (4, "Staging"),
        (5, "None"),
    ]
    assert all(v.source.run_id for v in churn.versions)
    assert all(v.has_files and v.has_mlmodel for v in churn.versions)


def test_signatures_are_checked_for_inputs_and_outputs(assessment) -> None:
    churn = next(m for m in assessment.models if m.name == "churn")
    complete = {v.source.version: (v.signature_inputs, v.signature_outputs) for v in churn.versions}
    assert complete == {1: (True, True), 2: (True, True), 3: (True, True), 4: (True, False),
                        5: (False, False)}  # fmt: skip
    assert "MA204" in codes(assessment.findings, "churn", 4)
    assert "MA203" in codes(assessment.findings, "churn", 5)
    for number in (1, 2, 3):
        assert not codes(assessment.findings, "churn", number) & {"MA203", "MA204"}


def test_versions_without_files_or_mlmodel_are_blocked(assessment) -> None:
    assert "MA201" in codes(assessment.findings, "broken", 1)
    assert "MA202" in codes(assessment.findings, "broken", 2)
    assert "MA206" in codes(assessment.findings, "broken", 1)
    assert {("broken", 1), ("broken", 2)} <= assessment.blocked_versions()


def test_stages_with_several_versions_and_archived_versions(assessment) -> None:
    several = [f for f in assessment.findings if f.code == "MA207"]
    assert [(f.model, f.message) for f in several] == [
        ("churn", "2 versions are in Production: 2, 3.")
    ]
    assert "version 3, gets the alias Production" in several[0].action
    assert "MA208" in codes(assessment.findings, "churn")
    assert "MA122" in codes(assessment.findings, "churn", 2)
    assert "MA122" not in codes(assessment.findings, "churn", 3)


def test_names_the_catalog_does_not_accept_and_collisions(assessment) -> None:
    fraud = next(f for f in assessment.findings if f.code == "MA101")
    assert fraud.model == "Fraud Detector"
    assert "main.default.fraud_detector" in fraud.action
    collisions = {f.model for f in assessment.findings if f.code == "MA103"}
    assert collisions == {"churn", "CHURN"}
    assert "MA102" in codes(assessment.findings, "CHURN")
    assert "MA101" not in codes(assessment.findings, "churn")


def test_tag_rules(assessment) -> None:
    model_tags = [f for f in assessment.findings if f.code == "MA111" and f.version is None]
    assert sorted(f.message for f in model_tags) == [
        "The model: tag key 'owner:email' contains :, which tag keys may not contain.",
        "The model: tag key 'team.name' contains ., which tag keys may not contain.",
    ]
    assert "MA113" in codes(assessment.findings, "Fraud Detector")
    on_version = codes(assessment.findings, "Fraud Detector", 1)
    assert {"MA112", "MA114"} <= on_version
    too_many = next(f for f in assessment.findings if f.code == "MA112")
    assert "51 tags" in too_many.message
    assert "MA112" not in codes(assessment.findings, "churn")


def test_webhooks_are_read_without_secrets(assessment) -> None:
    hooks = assessment.extras.webhooks
    assert [(h.name, h.events, h.target) for h in hooks] == [
        (
            "notify",
            ("model_version.created", "model_version_alias.created"),
            "https://hooks.example.com/services/T1/B2",
        )
    ]
    assert hooks[0].has_secret is True
    assert {f.code for f in assessment.findings if f.model is None} >= {"MA311", "MA312", "MA331"}


def test_reports_keep_text_and_leak_no_secret(assessment) -> None:
    as_json = render_json(assessment)
    as_html = render_html(assessment)
    for text in (as_json, as_html):
        assert WEBHOOK_SECRET not in text
        assert QUERY_TOKEN not in text
    data = json.loads(as_json)
    fraud = next(m for m in data["models"] if m["name"] == "Fraud Detector")
    assert fraud["description"] == NON_ASCII
    assert NON_ASCII in as_html
    assert data["summary"]["models"] == 4 and data["summary"]["versions"] == 8
    assert data["summary"]["findings"] == assessment.counts()
    codes_in_json = {(f["code"], f["model"], f["version"]) for f in data["findings"]}
    assert ("MA203", "churn", 5) in codes_in_json
    assert "<script" not in as_html and "http://" not in as_html.split("<body>")[0]


def test_report_data_matches_findings(assessment) -> None:
    data = report_data(assessment)
    churn = next(m for m in data["models"] if m["name"] == "churn")
    assert churn["ready"] is False
    v4 = next(v for v in churn["versions"] if v["version"] == 4)
    assert v4["signature"] == {"mlmodel": True, "inputs": True, "outputs": False,
                               "complete": False}  # fmt: skip
    assert v4["artifacts"]["present"] and v4["artifacts"]["files"] >= 3


def test_a_ready_model_with_warnings_is_shown_open_with_its_warnings(assessment) -> None:
    data = report_data(assessment)
    warned = [m for m in data["models"] if m["ready"] and m["warnings"]]
    assert warned, "the fixture registry has a ready model with warnings (a rename)"
    html = render_html(assessment)
    for model in warned:
        section = html.split(f"<h3>{model['name']}</h3>")[0].rsplit("<details", 1)[1]
        assert "open" in section
        after = html.split(f"<h3>{model['name']}</h3>")[1].split("</summary>")[0]
        assert f"ready, {model['warnings']} warning" in after and "badge ready" not in after
    quiet = [m for m in data["models"] if m["ready"] and not m["warnings"]]
    for model in quiet:
        after = html.split(f"<h3>{model['name']}</h3>")[1].split("</summary>")[0]
        assert "badge ready" in after


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("", "--source is empty"),
        ("ftp://host/x", "has the scheme 'ftp'"),
        ("/no/such/folder", "the folder '/no/such/folder' does not exist"),
        ("https://", "has no host"),
        ("sqlite://relative.db", "a SQLite URI is sqlite:///relative.db"),
        ("postgres-ql://u:hunter2@h/db", "has the scheme 'postgres-ql'"),
    ],
)
def test_bad_source_uris_are_refused_precisely(uri: str, expected: str) -> None:
    with pytest.raises(AssessError) as error:
        check_source_uri(uri)
    assert expected in str(error.value)
    assert "hunter2" not in str(error.value)


def test_a_missing_sqlite_file_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(AssessError, match="does not exist"):
        run_assessment(f"sqlite:///{missing}")
    assert not missing.exists()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("migrate", "assess", *args, env=os.environ, cwd=cwd)


def test_cli_writes_html_and_json_and_exits_1_on_errors(source: str, tmp_path: Path) -> None:
    result = _cli("--source", source, "--out", "report.html", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "Fraud Detector" in html
    assert "MA207" in result.stdout and "Findings" in result.stdout
    result = _cli("--source", source, "-o", "json", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["summary"]["models"] == 4


def test_the_earlier_spellings_still_work_and_say_what_replaces_them(
    source: str, tmp_path: Path
) -> None:
    as_file = _cli("--source", source, "-o", "old.html", cwd=tmp_path)
    assert as_file.returncode == 1 and (tmp_path / "old.html").exists()
    assert "-o/--output FILE is now --out FILE" in " ".join(as_file.stderr.split())
    as_format = _cli("--source", source, "--format", "json", cwd=tmp_path)
    assert json.loads(as_format.stdout)["summary"]["models"] == 4
    assert "--format is now -o/--output" in " ".join(as_format.stderr.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--out", "report.txt"), "ends in '.txt', which names no report format"),
        (("--out", "report.json", "-o", "html"), "ends in .json but -o is html"),
        (("-o", "html"), "-o html needs a file to write"),
        (("--format", "xml"), "-o/--output is 'xml'; allowed: html, json"),
        (("--source-auth-users", "a,,b"), "--source-auth-users is 'a,,b'"),
    ],
)
def test_cli_refuses_bad_options(
    source: str, tmp_path: Path, args: tuple[str, ...], message: str, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(migrate_app, ["assess", "--source", source, *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert not list(tmp_path.iterdir())


def test_each_finding_has_one_code_and_one_severity_listed_by_migrate_rules(
    assessment, tmp_path: Path
) -> None:
    source_text = (Path(assess_checks.__file__)).read_text(encoding="utf-8")
    used = set(re.findall(r'"(MA\d{3})"', source_text))
    assert used == set(RULES), sorted(used ^ set(RULES))
    for finding in assessment.findings:
        assert finding.severity == RULES[finding.code].severity, finding
    listed = run_cli("migrate", "rules", "-o", "json", env=os.environ, cwd=tmp_path)
    rows = json.loads(listed.stdout)["rules"]
    assert [r["code"] for r in rows] == list(RULES)
    assert all(r["severity"] in ("error", "warning", "info") and r["finding"] for r in rows)
