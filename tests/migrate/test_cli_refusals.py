"""`modelcatalog migrate` refuses bad options, configs, plans and sources before any write."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from modelcatalog.cli import app


def _invoke(*args: str, cwd: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["migrate", *args], env={"MODELCATALOG_CONFIG_DIR": str(cwd)})
    return result.exit_code, result.output


def test_plan_refuses_a_missing_source_database(tmp_path: Path) -> None:
    code, output = _invoke(
        "plan",
        "--source",
        f"sqlite:///{tmp_path}/absent.db",
        "--catalog",
        "c",
        "--schema",
        "s",
        "--target",
        "http://127.0.0.1:1",
        "--out",
        str(tmp_path / "plan.yaml"),
        cwd=tmp_path,
    )
    assert code == 2
    assert "absent.db does not exist" in output
    assert not (tmp_path / "plan.yaml").exists()


def test_plan_refuses_a_bad_config_naming_the_field(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("signatures: {policy: maybe}\n")
    code, output = _invoke(
        "plan",
        "--source",
        "sqlite:///x.db",
        "--catalog",
        "c",
        "--schema",
        "s",
        "--target",
        "http://127.0.0.1:1",
        "--config",
        str(tmp_path / "m.yaml"),
        "--out",
        str(tmp_path / "plan.yaml"),
        cwd=tmp_path,
    )
    assert code == 2
    assert "signatures.policy: is 'maybe' (allowed: require, infer, waive)" in output


@pytest.mark.parametrize("catalog", ["a.b", "has space"])
def test_plan_refuses_a_bad_catalog_name(tmp_path: Path, catalog: str) -> None:
    code, output = _invoke(
        "plan",
        "--source",
        "sqlite:///x.db",
        "--catalog",
        catalog,
        "--schema",
        "s",
        "--out",
        str(tmp_path / "p.yaml"),
        cwd=tmp_path,
    )
    assert code == 2 and "--catalog" in output


def test_run_refuses_a_bad_plan_naming_the_field(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nsource: {registry_uri: 'sqlite:///x.db'}\ntarget: {url: x}\n")
    code, output = _invoke("run", str(plan), cwd=tmp_path)
    assert code == 2
    assert "target.url: is 'x'" in output


def test_run_refuses_a_bad_shard(tmp_path: Path) -> None:
    code, output = _invoke("run", str(tmp_path / "plan.yaml"), "--shard", "3/2", cwd=tmp_path)
    assert code == 2 and "I must be from 1 to N" in output


def test_run_needs_the_source_password_the_plan_does_not_keep(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nsource: {registry_uri: 'postgresql://me:***@db/mlflow'}\n"
        "target: {url: 'http://127.0.0.1:1', catalog: c, schema: s}\n"
    )
    code, output = _invoke("run", str(plan), cwd=tmp_path)
    assert code == 2 and "masked password" in output
