"""`modelcatalog migrate`: move a stage-based MLflow registry into the catalog.

plan (reviewable YAML) → run (idempotent, resumable) → verify (source and target compared).
Exit codes: 0 done, 1 something failed or differs, 2 the command line, config or plan is wrong
(caught before anything is written).

The migration toolkit (planner, runner, verifier, assessment, targets) is imported inside the
command that uses it, so that `modelcatalog --help` and the other commands do not load it.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from modelcatalog.cli import remote
from modelcatalog.client import CatalogClientError
from modelcatalog.migrate.assess_rules import RULES
from modelcatalog.migrate.mapping import MappingError
from modelcatalog.migrate.targets.protocol import Target, TargetError

app = typer.Typer(
    help="Migrate a stage-based MLflow model registry into the catalog: plan, run, verify.",
    no_args_is_help=True,
)

PlanArgument = Annotated[
    Path, typer.Argument(metavar="PLAN", help="A plan written by `migrate plan`.")
]
WorkersOption = Annotated[
    int,
    typer.Option("--workers", min=1, max=64, help="Versions handled at the same time (1 to 64)."),
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Handle only shard I of N (models split by a stable hash of their source name).",
        show_default=False,
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Source registry URI, when the plan's has a masked password (***).",
        show_default=False,
    ),
]
SourceTrackingOption = Annotated[
    str | None,
    typer.Option(
        "--source-tracking-uri",
        help="Tracking URI of the source runs. Default: the source registry URI.",
        show_default=False,
    ),
]


def _usage(message: str) -> typer.Exit:
    return remote.fail(message, code=2)


def _shard(text: str | None) -> Any:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.shard import Shard

    if text is None:
        return Shard()
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--shard'") from exc


def _open_source(registry_uri: str, tracking_uri: str | None) -> Any:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.source import SourceError, SourceRegistry

    if "***" in registry_uri or (tracking_uri and "***" in tracking_uri):
        raise _usage(
            "the plan's source URI has a masked password; give the full URI with --source "
            "(and --source-tracking-uri if the runs live elsewhere)"
        )
    try:
        return SourceRegistry(registry_uri, tracking_uri)
    except SourceError as exc:
        raise _usage(str(exc)) from exc


def _open_plan(path: Path) -> Any:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.plan_file import open_plan

    try:
        return open_plan(path)
    except MappingError as exc:
        raise _usage(str(exc)) from exc


def _read_plan(path: Path) -> Any:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.plan_file import read_plan

    try:
        return read_plan(path)
    except MappingError as exc:
        raise _usage(str(exc)) from exc


def _open_target(stack: ExitStack, built: Any, workers: int) -> Target:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.targets.opening import open_target

    try:
        return stack.enter_context(open_target(built.target_url, built, workers=workers))
    except TargetError as exc:
        raise _usage(str(exc)) from exc


@app.command("plan")
def plan(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Source registry URI (sqlite:///mlflow.db, postgresql://..., "
            "http://mlflow:5000, databricks, ...).",
            show_default=False,
        ),
    ],
    catalog: Annotated[str, typer.Option("--catalog", help="Target catalog.", show_default=False)],
    schema: Annotated[str, typer.Option("--schema", help="Target schema.", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the plan (YAML).", show_default=False),
    ] = None,
    old_out: Annotated[
        Path | None, typer.Option("--output", "-o", hidden=True, help="Now --out.")
    ] = None,
    source_tracking_uri: SourceTrackingOption = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="Catalog server URL (default: $MODELCATALOG_URL, else the last login's), or "
            "databricks-uc / databricks-uc://PROFILE for a Unity Catalog reached with MLflow's "
            "databricks-uc client (DATABRICKS_HOST and DATABRICKS_TOKEN, or the profile).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="migration.yaml with names, policies and principals."),
    ] = None,
    skip_extras: Annotated[
        bool,
        typer.Option(
            "--skip-extras",
            help="Do not read permissions, comments, transition requests and webhooks.",
        ),
    ] = False,
) -> None:
    """Read the source registry and write a reviewable plan (nothing is written anywhere else)."""
    if old_out is not None:
        remote.renamed("-o/--output PLAN", "--out PLAN")
        if out is not None:
            raise _usage("give --out once (-o/--output is its earlier name)")
    output = out or old_out
    if output is None:
        raise _usage("--out is required: where to write the plan (plan.yaml)")
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.config import MigrationConfig
    from modelcatalog.migrate.plan import PlanError, build_plan
    from modelcatalog.migrate.plan_file import PlanWriter
    from modelcatalog.migrate.signatures import Skip
    from modelcatalog.migrate.source import SourceError

    catalog_name = remote.catalog_name(catalog, "'--catalog'")
    schema_name = remote.catalog_name(schema, "'--schema'")
    target_url = _target_url(target)
    try:
        settings = MigrationConfig.load(config)
    except MappingError as exc:
        raise _usage(str(exc)) from exc
    registry = _open_source(source, source_tracking_uri)
    reader = None if skip_extras else _extras_reader(registry)
    writer = PlanWriter(output)
    try:
        with remote.stderr.status("reading the source registry") as status:
            built = build_plan(
                registry,
                settings,
                target_url=target_url,
                catalog=catalog_name,
                schema=schema_name,
                read_extras=reader,
                progress=lambda name: status.update(f"reading {name}"),
                on_model=writer.model,
            )
        writer.finish(built)
    except (PlanError, SourceError, Skip) as exc:
        raise _usage(str(exc)) from exc
    finally:
        writer.close()
    _print_plan_summary(built, writer.summary, output)


def _target_url(target: str | None) -> str:
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.plan_model import TARGET_URL_FORMS, UC_TARGET, target_url_problem

    if target is None or not target.startswith(UC_TARGET):
        return remote.server_url(target)
    problem = target_url_problem(target)
    if problem:
        raise typer.BadParameter(f"{problem}: {TARGET_URL_FORMS}", param_hint="'--target'")
    return target


def _extras_reader(registry: Any) -> Any:
    def read(versions_by_model: list[tuple[str, list[str]]]) -> Any:
        # Deferred: the migration toolkit.
        from modelcatalog.migrate.extras import ExtrasError, read_extras

        try:
            return read_extras(registry.registry_uri, registry.tracking_uri, versions_by_model)
        except ExtrasError as exc:
            raise _usage(f"{exc} (--skip-extras plans without them)") from exc

    return read


def _print_plan_summary(built: Any, summary: dict[str, int], output: Path) -> None:
    remote.done(
        f"Wrote {output}: {summary['models']} models, {summary['versions']} versions to copy, "
        f"{summary['skipped_versions']} skipped, {len(built.all_grants())} grants."
    )
    for model in built.models:
        for s in model.skipped:
            remote.done(f"  skip {model.source} v{s.version}: {s.reason}")
        for note in model.notes:
            remote.done(f"  note {model.source}: {note}")
    statements = [g.statement() for g in built.all_grants()]
    if statements:
        remote.done("Grants:")
        for statement in statements:
            remote.done(f"  {statement}")


@app.command("run")
def run(
    plan_file: PlanArgument,
    workers: WorkersOption = 4,
    shard: ShardOption = None,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            help="Run log (JSON lines). Default: <plan>.run.jsonl, or "
            "<plan>.run-<I>of<N>.jsonl for a shard.",
            show_default=False,
        ),
    ] = None,
    source: SourceOption = None,
    source_tracking_uri: SourceTrackingOption = None,
) -> None:
    """Execute a plan: copy versions with their numbers, files, tags, aliases and grants."""
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.plan_model import UC_TARGET
    from modelcatalog.migrate.progress import RichProgress, summary_table
    from modelcatalog.migrate.run import RunError, Runner
    from modelcatalog.migrate.runlog import RunLog

    chosen = _shard(shard)
    opened = _open_plan(plan_file)
    built = opened.plan
    if built.target_url.startswith(UC_TARGET):
        # Unity Catalog numbers versions itself: its target creates each model's versions in
        # the plan's order, which it learns from the whole plan.
        built.models = list(opened.models())
    registry = _open_source(
        source or built.source_registry, source_tracking_uri or built.source_tracking
    )
    suffix = "" if chosen.count == 1 else f"-{chosen.index}of{chosen.count}"
    log_path = log or plan_file.with_name(f"{plan_file.stem}.run{suffix}.jsonl")
    with ExitStack() as stack:
        target = _open_target(stack, built, workers)
        run_log = RunLog(log_path)
        stack.callback(run_log.close)
        progress = stack.enter_context(RichProgress(remote.stderr))
        runner = Runner(
            built,
            registry,
            target,
            run_log,
            workers=workers,
            shard=chosen,
            observer=progress,
            models=opened.models,
        )
        try:
            summary = runner.run()
        except (RunError, MappingError) as exc:
            raise _usage(str(exc)) from exc
        except CatalogClientError as exc:
            raise remote.fail(exc.message) from exc
    remote.stderr.print(summary_table(summary))
    if summary.grants_note:
        remote.done(f"grants: {summary.grants_not_applied} {summary.grants_note}")
    for note in summary.hook_notes:
        remote.stderr.print(note, markup=False, highlight=False)
    for failure in summary.failures:
        remote.stderr.print(f"failed: {failure}", markup=False, highlight=False)
    remote.done(f"Run log: {log_path}")
    if not summary.ok:
        raise typer.Exit(1)


@app.command("verify")
def verify(
    plan_file: PlanArgument,
    workers: WorkersOption = 4,
    shard: ShardOption = None,
    source: SourceOption = None,
    source_tracking_uri: SourceTrackingOption = None,
) -> None:
    """Compare source and target, file checksums included; exit 1 with a report if they differ."""
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.progress import verify_table
    from modelcatalog.migrate.verify import Verifier

    chosen = _shard(shard)
    built = _read_plan(plan_file)
    registry = _open_source(
        source or built.source_registry, source_tracking_uri or built.source_tracking
    )
    with ExitStack() as stack:
        target = _open_target(stack, built, workers)
        try:
            with remote.stderr.status("comparing source and target"):
                report = Verifier(built, registry, target, workers=workers, shard=chosen).verify()
        except CatalogClientError as exc:
            raise remote.fail(exc.message) from exc
    remote.done(
        f"Checked {report.models} models, {report.versions} versions, {report.files} files "
        f"({report.bytes / (1 << 20):,.1f} MiB)."
    )
    if not report.ok:
        remote.stderr.print(verify_table(report))
        raise remote.fail(f"{len(report.differences)} difference(s) between source and target")
    remote.done("Source and target match.")


@app.command("rules")
def rules(output: remote.OutputOption = remote.OutputFormat.text) -> None:
    """List what `migrate assess` can find: each code, its severity and what it means."""
    table = [asdict(rule) for rule in RULES.values()]
    remote.print_list(
        table, [("code", "code"), ("severity", "severity"), ("finding", "finding")], output, "rules"
    )


@app.command(
    "assess",
    help="Report what in a source registry will not move cleanly: every model and version with "
    "its stage, tags, files and signature; names and tags the catalog does not accept; several "
    "versions in one stage; comments, transition requests, webhooks and permissions. Each "
    "finding has a code, a severity, a message and what the migration will do.\n\n"
    "Credentials come from the variables MLflow's clients read: MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) for an MLflow server (permissions of "
    "its auth app need an admin), DATABRICKS_HOST and DATABRICKS_TOKEN (or a profile) for "
    "Databricks.\n\n"
    "Exit status: 0 nothing blocks the migration, 1 some models or versions would not migrate "
    "as they are (error findings), 2 bad options or a source that cannot be read.",
)
def assess(
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="Registry URI: an MLflow file-store folder, file:///path, sqlite:///path.db, "
            "postgresql://..., http(s)://mlflow-server, databricks or databricks://<profile>.",
            show_default=False,
        ),
    ],
    source_tracking_uri: SourceTrackingOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the report here: .html for people, .json for machines. Without it "
            "only the summary is printed (or the JSON, with -o json).",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    report_format: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="html or json (default: from the suffix of --out).",
            show_default=False,
        ),
    ] = None,
    old_format: Annotated[
        str | None, typer.Option("--format", hidden=True, help="Now -o/--output.")
    ] = None,
    auth_users: Annotated[
        str | None,
        typer.Option(
            "--source-auth-users",
            help="Comma-separated user names whose permissions to read, for MLflow auth apps "
            "of 3.12 and earlier, which cannot list their users.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Report what in a source registry will not move cleanly."""
    # Deferred: the migration toolkit.
    from modelcatalog.migrate.assess import AssessError, assess_source
    from modelcatalog.migrate.assess_report import choose_format, write_report

    output = out
    if report_format is not None and report_format.lower() not in ("html", "json"):
        # The earlier -o/--output named the report file.
        remote.renamed("-o/--output FILE", "--out FILE")
        if out is not None:
            raise _usage(f"-o is {report_format!r}: the report format is html or json")
        output, report_format = Path(report_format), None
    if old_format is not None:
        remote.renamed("--format", "-o/--output")
        if report_format is not None:
            raise _usage("give -o/--output once (--format is its earlier name)")
        report_format = old_format
    try:
        chosen = choose_format(output, report_format)
    except ValueError as exc:
        raise _usage(str(exc)) from exc
    users = [u.strip() for u in auth_users.split(",")] if auth_users is not None else None
    if users is not None and not all(users):
        raise _usage(f"--source-auth-users is {auth_users!r}: user names separated by commas")
    json_to_stdout = chosen == "json" and output is None
    try:
        source_found = assess_source(source, source_tracking_uri, users)
        report = write_report(source_found, output, chosen, Console(stderr=json_to_stdout))
    except AssessError as exc:
        raise _usage(str(exc)) from exc
    except OSError as exc:
        raise _usage(f"--out {output}: {exc.strerror or exc}") from exc
    if output is not None:
        remote.done(f"Wrote {output}.")
    raise typer.Exit(1 if report.errors else 0)
