"""The readiness report of `migrate assess`: JSON for machines, HTML for people, a terminal table.

All three are built from one dictionary (`report_data`), so they never disagree. Nothing secret
reaches it: URIs lose their passwords, webhook URLs their credentials and query strings, and
webhook secrets are never read into the assessment in the first place.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from modelcatalog.migrate.assess import SEVERITIES, Assessment, Finding
from modelcatalog.migrate.assess_inventory import VersionInventory

FORMAT_VERSION = "modelcatalog.assess/1"
FORMATS = ("html", "json")
_TEMPLATES = Path(__file__).parent / "templates"
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _finding(f: Finding) -> dict[str, Any]:
    return asdict(f)


def _version(v: VersionInventory) -> dict[str, Any]:
    s = v.source
    activity = v.activity
    return {
        "version": s.version,
        "stage": s.stage,
        "status": s.status,
        "description": s.description,
        "tags": s.tags,
        "aliases": list(s.aliases),
        "run_id": s.run_id,
        "created_by": s.user_id,
        "artifacts": {"present": v.has_files, "files": v.files, "bytes": v.size},
        "signature": {
            "mlmodel": v.has_mlmodel,
            "inputs": v.signature_inputs,
            "outputs": v.signature_outputs,
            "complete": v.signature_inputs and v.signature_outputs,
        },
        "comments": [
            {"author": c.author, "time": _time(c.time), "text": c.text} for c in activity.comments
        ],
        "transition_requests": [
            {
                "from_stage": r.from_stage,
                "to_stage": r.to_stage,
                "requester": r.requester,
                "time": _time(r.time),
                "status": r.status,
                "comment": r.comment,
            }
            for r in activity.transition_requests
        ],
        "stage_history": [
            {
                "from_stage": c.from_stage,
                "to_stage": c.to_stage,
                "actor": c.actor,
                "time": _time(c.time),
                "comment": c.comment,
            }
            for c in activity.stage_history
        ],
    }


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def report_data(assessment: Assessment) -> dict[str, Any]:
    """Everything the report says, as JSON-ready values."""
    extras = assessment.extras
    blocked = assessment.blocked_versions()
    by_model: dict[str | None, list[Finding]] = {}
    for finding in assessment.findings:
        by_model.setdefault(finding.model, []).append(finding)
    versions_total = sum(len(m.versions) for m in assessment.models)
    models = []
    for m in assessment.models:
        model_blocked = sum(1 for v in m.versions if (m.name, v.source.version) in blocked)
        models.append(
            {
                "name": m.name,
                "target_name": m.target_name,
                "description": m.description,
                "tags": m.tags,
                "aliases": m.aliases,
                "ready": model_blocked == 0,
                "blocked_versions": model_blocked,
                # Ready still, but with something a person should read first.
                "warnings": sum(1 for f in by_model.get(m.name, []) if f.severity == "warning"),
                "permissions": [
                    {
                        "principal": p.principal,
                        "kind": p.kind.value,
                        "level": p.level.value,
                        "source_level": p.source_level,
                        "inherited": p.inherited,
                    }
                    for p in m.permissions
                ],
                "unmapped_permissions": [asdict(p) for p in m.unmapped_permissions],
                "webhooks": [w.id for w in m.webhooks],
                "versions": [_version(v) for v in m.versions],
                "findings": [_finding(f) for f in by_model.get(m.name, [])],
            }
        )
    return {
        "format": FORMAT_VERSION,
        "generated_at": assessment.generated_at.isoformat(),
        "source": {
            "registry_uri": assessment.registry_uri,
            "tracking_uri": assessment.tracking_uri,
            "kind": extras.source_kind if extras else None,
            "extras_api": extras.api if extras else None,
        },
        "summary": {
            "models": len(assessment.models),
            "versions": versions_total,
            "ready_models": sum(1 for m in models if m["ready"]),
            "blocked_versions": len(blocked),
            "findings": assessment.counts(),
        },
        "models": models,
        "webhooks": [asdict(w) for w in extras.webhooks] if extras else [],
        "unavailable": (
            [{"capability": u.capability.value, "reason": u.reason} for u in extras.unavailable]
            if extras
            else []
        ),
        "source_findings": [_finding(f) for f in by_model.get(None, [])],
        "findings": [_finding(f) for f in assessment.findings],
    }


def render_json(assessment: Assessment) -> str:
    """The report as indented JSON (UTF-8 text, non-ASCII kept as is)."""
    return json.dumps(report_data(assessment), indent=2, ensure_ascii=False, default=str) + "\n"


def render_html(assessment: Assessment) -> str:
    """The report as one self-contained HTML page (no external styles, scripts or fonts)."""
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = env.get_template("assess_report.html.j2")
    return template.render(report=report_data(assessment), severities=SEVERITIES)


def print_summary(assessment: Assessment, console: Console) -> None:
    """A table per severity and code, and one line per model, on the terminal."""
    data = report_data(assessment)
    summary = data["summary"]
    console.print(
        f"[bold]{data['source']['registry_uri']}[/bold]: {summary['models']} models, "
        f"{summary['versions']} versions; {summary['ready_models']} models ready, "
        f"{summary['blocked_versions']} versions blocked"
        + (f" ({data['source']['extras_api']})" if data["source"]["extras_api"] else "")
    )
    codes = Table(title="Findings", show_lines=False)
    for column in ("severity", "code", "count", "example"):
        codes.add_column(column, overflow="fold")
    seen: dict[tuple[str, str], list[Finding]] = {}
    for f in assessment.findings:
        seen.setdefault((f.severity, f.code), []).append(f)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    for (severity, code), found in sorted(seen.items(), key=lambda k: (order[k[0][0]], k[0][1])):
        example = found[0]
        where = f"{example.model or 'source'}" + (
            f" v{example.version}" if example.version is not None else ""
        )
        codes.add_row(
            f"[{_SEVERITY_STYLE[severity]}]{severity}[/]",
            code,
            str(len(found)),
            f"{where}: {example.message}",
        )
    console.print(codes)
    models = Table(title="Models")
    for column in ("model", "catalog name", "versions", "blocked", "errors", "warnings"):
        models.add_column(column, overflow="fold")
    for m in data["models"]:
        severities = [f["severity"] for f in m["findings"]]
        models.add_row(
            m["name"],
            m["target_name"],
            str(len(m["versions"])),
            str(m["blocked_versions"]),
            str(severities.count("error")),
            str(severities.count("warning")),
        )
    console.print(models)


def choose_format(output: Path | None, requested: str | None) -> str | None:
    """The report format from -o/--output and the suffix of --out; ValueError says what clashes.

    None means no file and no format: only the terminal summary."""
    if requested is not None and requested.lower() not in FORMATS:
        raise ValueError(f"-o/--output is {requested!r}; allowed: {', '.join(FORMATS)}")
    chosen = requested.lower() if requested else None
    if output is None:
        if chosen == "html":
            raise ValueError("-o html needs a file to write: add --out report.html")
        return chosen
    suffix = output.suffix.lower().lstrip(".")
    suffix = "html" if suffix == "htm" else suffix
    if chosen is None:
        if suffix not in FORMATS:
            raise ValueError(
                f"--out {output.name!r} ends in {output.suffix or 'no suffix'!r}, which "
                "names no report format; use .html or .json, or give -o html|json"
            )
        return suffix
    if suffix in FORMATS and suffix != chosen:
        raise ValueError(
            f"--out {output.name!r} ends in .{suffix} but -o is {chosen}; make them agree"
        )
    return chosen
