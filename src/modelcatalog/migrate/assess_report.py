"""The readiness report of `migrate assess`: JSON for machines, HTML for people, a terminal table.

All three are built from one dictionary (`report_data`), so they never disagree. Nothing secret
reaches it: URIs lose their passwords, webhook URLs their credentials and query strings, and
webhook secrets are never read into the assessment in the first place.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from modelcatalog.migrate.assess import SEVERITIES, AssessedSource, Assessment, Finding
from modelcatalog.migrate.assess_inventory import ModelInventory, VersionInventory
from modelcatalog.migrate.extras import SourceExtras

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


def _model_entry(m: ModelInventory, findings: list[Finding], blocked: set[int]) -> dict[str, Any]:
    return {
        "name": m.name,
        "target_name": m.target_name,
        "description": m.description,
        "tags": m.tags,
        "aliases": m.aliases,
        "ready": not blocked,
        "blocked_versions": len(blocked),
        # Ready still, but with something a person should read first.
        "warnings": sum(1 for f in findings if f.severity == "warning"),
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
        "findings": [_finding(f) for f in findings],
    }


def _source(source: Assessment | AssessedSource) -> dict[str, Any]:
    extras = source.extras
    return {
        "registry_uri": source.registry_uri,
        "tracking_uri": source.tracking_uri,
        "kind": extras.source_kind if extras else None,
        "extras_api": extras.api if extras else None,
    }


def _around(extras: SourceExtras | None) -> dict[str, Any]:
    return {
        "webhooks": [asdict(w) for w in extras.webhooks] if extras else [],
        "unavailable": (
            [{"capability": u.capability.value, "reason": u.reason} for u in extras.unavailable]
            if extras
            else []
        ),
    }


def report_data(assessment: Assessment) -> dict[str, Any]:
    """Everything the report says, as JSON-ready values."""
    blocked = assessment.blocked_versions()
    by_model: dict[str | None, list[Finding]] = {}
    for finding in assessment.findings:
        by_model.setdefault(finding.model, []).append(finding)
    models = [
        _model_entry(
            m,
            by_model.get(m.name, []),
            {v.source.version for v in m.versions if (m.name, v.source.version) in blocked},
        )
        for m in assessment.models
    ]
    return {
        "format": FORMAT_VERSION,
        "generated_at": assessment.generated_at.isoformat(),
        "source": _source(assessment),
        "summary": {
            "models": len(assessment.models),
            "versions": sum(len(m.versions) for m in assessment.models),
            "ready_models": sum(1 for m in models if m["ready"]),
            "blocked_versions": len(blocked),
            "findings": assessment.counts(),
        },
        "models": models,
        **_around(assessment.extras),
        "source_findings": [_finding(f) for f in by_model.get(None, [])],
        "findings": [_finding(f) for f in assessment.findings],
    }


def render_json(assessment: Assessment) -> str:
    """The report as indented JSON (UTF-8 text, non-ASCII kept as is)."""
    return json.dumps(report_data(assessment), indent=2, ensure_ascii=False, default=str) + "\n"


def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(assessment: Assessment) -> str:
    """The report as one self-contained HTML page (no external styles, scripts or fonts)."""
    template = _environment().get_template("assess_report.html.j2")
    return template.render(report=report_data(assessment), severities=SEVERITIES)


def print_summary(assessment: Assessment, console: Console) -> None:
    """A table per severity and code, and one line per model, on the terminal."""
    data = report_data(assessment)
    tally = _Tally()
    for finding in assessment.findings:
        tally.finding(finding)
    rows = [
        _model_row(m, [Finding(**f) for f in m["findings"]], m["blocked_versions"])
        for m in data["models"]
    ]
    _print_tables(data["source"], data["summary"], tally, rows, console)


# Streaming: a source of any size in bounded memory ------------------------------------------


class _Tally:
    """Findings counted by severity and code, with the first of each kind as its example."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], Finding] = {}

    def finding(self, f: Finding) -> None:
        key = (f.severity, f.code)
        self.counts[key] += 1
        self.examples.setdefault(key, f)

    def by_severity(self) -> dict[str, int]:
        found = Counter[str]()
        for (severity, _), count in self.counts.items():
            found[severity] += count
        return {severity: found.get(severity, 0) for severity in SEVERITIES}


def _model_row(m: dict[str, Any], findings: list[Finding], blocked: int) -> tuple[str, ...]:
    severities = [f.severity for f in findings]
    return (
        m["name"],
        m["target_name"],
        str(len(m["versions"])),
        str(blocked),
        str(severities.count("error")),
        str(severities.count("warning")),
    )


def _print_tables(
    source: dict[str, Any],
    summary: dict[str, Any],
    tally: _Tally,
    rows: list[tuple[str, ...]],
    console: Console,
) -> None:
    console.print(
        f"[bold]{source['registry_uri']}[/bold]: {summary['models']} models, "
        f"{summary['versions']} versions; {summary['ready_models']} models ready, "
        f"{summary['blocked_versions']} versions blocked"
        + (f" ({source['extras_api']})" if source["extras_api"] else "")
    )
    codes = Table(title="Findings", show_lines=False)
    for column in ("severity", "code", "count", "example"):
        codes.add_column(column, overflow="fold")
    order = {s: i for i, s in enumerate(SEVERITIES)}
    for severity, code in sorted(tally.counts, key=lambda k: (order[k[0]], k[1])):
        example = tally.examples[(severity, code)]
        where = f"{example.model or 'source'}" + (
            f" v{example.version}" if example.version is not None else ""
        )
        codes.add_row(
            f"[{_SEVERITY_STYLE[severity]}]{severity}[/]",
            code,
            str(tally.counts[(severity, code)]),
            f"{where}: {example.message}",
        )
    console.print(codes)
    models = Table(title="Models")
    for column in ("model", "catalog name", "versions", "blocked", "errors", "warnings"):
        models.add_column(column, overflow="fold")
    for row in rows:
        models.add_row(*row)
    console.print(models)


@dataclass
class StreamedReport:
    """What a streamed assessment found, in totals (the models themselves are in the file)."""

    summary: dict[str, Any]
    errors: int


def write_report(
    source: AssessedSource, output: Path | None, chosen: str | None, console: Console
) -> StreamedReport:
    """Assess the source model by model and write the report (JSON or HTML) to `output`, or
    the JSON to stdout when `output` is None and `chosen` is json; print the summary.

    Each model's part of the report goes to a scratch file as soon as it is assessed, so
    memory holds one model at a time; the report is then written from that file, with the
    same content and order as the report of an assessment held in memory."""
    tally = _Tally()
    rows: list[tuple[str, ...]] = []
    totals = Counter[str]()
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8") as spool,
        tempfile.TemporaryFile("w+", encoding="utf-8") as all_findings,
    ):
        for f in source.source_findings:
            tally.finding(f)
            all_findings.write(json.dumps(_finding(f), ensure_ascii=False) + "\n")
        for assessed in source.models:
            blocked = assessed.blocked_versions()
            entry = _model_entry(assessed.inventory, assessed.findings, blocked)
            spool.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
            for f in assessed.findings:
                tally.finding(f)
                all_findings.write(json.dumps(_finding(f), ensure_ascii=False) + "\n")
            totals["models"] += 1
            totals["versions"] += len(assessed.inventory.versions)
            totals["ready_models"] += 0 if blocked else 1
            totals["blocked_versions"] += len(blocked)
            rows.append(_model_row(entry, assessed.findings, len(blocked)))
        summary: dict[str, Any] = {
            "models": totals["models"],
            "versions": totals["versions"],
            "ready_models": totals["ready_models"],
            "blocked_versions": totals["blocked_versions"],
            "findings": tally.by_severity(),
        }
        _print_tables(_source(source), summary, tally, rows, console)
        del rows
        head = {
            "format": FORMAT_VERSION,
            "generated_at": source.generated_at.isoformat(),
            "source": _source(source),
            "summary": summary,
        }
        if chosen == "html" and output is not None:
            spool.seek(0)
            report = {
                **head,
                "models": (json.loads(line) for line in spool),
                **_around(source.extras),
                "source_findings": [_finding(f) for f in source.source_findings],
            }
            template = _environment().get_template("assess_report.html.j2")
            with _replacing(output) as out:
                for chunk in template.generate(report=report, severities=SEVERITIES):
                    out.write(chunk)
        elif chosen == "json":
            tail = {
                **_around(source.extras),
                "source_findings": [_finding(f) for f in source.source_findings],
            }
            if output is None:
                _write_json(sys.stdout, head, spool, tail, all_findings)
            else:
                with _replacing(output) as out:
                    _write_json(out, head, spool, tail, all_findings)
    return StreamedReport(summary, summary["findings"]["error"])


@contextmanager
def _replacing(path: Path) -> Iterator[TextIO]:
    """A file written beside `path` and moved over it when complete (never half a report)."""
    scratch = path.with_name(f".{path.name}.tmp")
    try:
        with open(scratch, "w", encoding="utf-8") as handle:
            yield handle
        scratch.replace(path)
    finally:
        scratch.unlink(missing_ok=True)


def _write_json(
    out: TextIO,
    head: dict[str, Any],
    models: TextIO,
    tail: dict[str, Any],
    findings: TextIO,
) -> None:
    """The report, written as `json.dumps(report, indent=2)` would write it, one model at a
    time."""
    out.write("{\n")
    for key, value in head.items():
        out.write(f"  {json.dumps(key)}: {_indented(value, 2)},\n")
    _write_list(out, "models", models, last=False)
    for key, value in tail.items():
        out.write(f"  {json.dumps(key)}: {_indented(value, 2)},\n")
    _write_list(out, "findings", findings, last=True)
    out.write("}\n")


def _write_list(out: TextIO, key: str, lines: TextIO, *, last: bool) -> None:
    lines.seek(0)
    out.write(f"  {json.dumps(key)}: [")
    first = True
    for line in lines:
        out.write("\n    " if first else ",\n    ")
        out.write(_indented(json.loads(line), 4))
        first = False
    out.write("]" if first else "\n  ]")
    out.write("\n" if last else ",\n")


def _indented(value: Any, depth: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text.replace("\n", "\n" + " " * depth)


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
