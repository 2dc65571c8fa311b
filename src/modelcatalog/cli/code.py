"""`modelcatalog code`: find and fix workloads that still use MLflow registry stages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelcatalog.cli import remote
from modelcatalog.migrate.mapping import DEFAULT_CATALOG, DEFAULT_SCHEMA, MappingError, ModelMap
from modelcatalog.rewrite.finding import FileResult
from modelcatalog.rewrite.report import OutputFormat, render_json, render_sarif, render_text

if TYPE_CHECKING:
    from modelcatalog.rewrite.engine import Mode

# The rewrite engine and its rules (libcst, about half of the CLI's start-up time) are imported
# in the commands that use them, so that every other `modelcatalog` command starts without them.

app = typer.Typer(
    help=(
        "Find and fix code, notebooks, jobs and serving configs that still use MLflow "
        "registry stages (models:/name/Production, transition_model_version_stage, ...). "
        "Reads .py (Databricks source notebooks included), .ipynb, .yaml/.yml and .json."
    ),
    no_args_is_help=True,
)

_DEFAULTS = f"{DEFAULT_CATALOG}.{DEFAULT_SCHEMA}"
PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Files or folders to check. Folders are searched for .py, .ipynb, .yaml, .yml "
        "and .json files (hidden folders, virtualenvs and caches are skipped).",
        show_default=False,
    ),
]
PlanOpt = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        help="Migration plan (YAML) to take the model-name and alias map from. "
        "Cannot be combined with --map.",
        dir_okay=False,
    ),
]
MapOpt = Annotated[
    Path | None,
    typer.Option(
        "--map",
        help="Name and alias map (YAML): catalog, schema, models {source: catalog.schema.model}, "
        "aliases {Production: ..., Staging: ...}, stage_tag. Without --plan or --map, names "
        f"without catalog and schema go to {_DEFAULTS} and stages Production and Staging "
        "become aliases of the same name.",
        dir_okay=False,
    ),
]
FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="text: one line per finding (path:line:col: CODE severity message) and a "
        "summary; json: every field; sarif: SARIF 2.1.0 for code-scanning tools.",
        case_sensitive=False,
    ),
]
OldFormatOpt = Annotated[
    OutputFormat | None,
    typer.Option("--format", hidden=True, case_sensitive=False, help="Now -o/--output."),
]


def _format(output: OutputFormat, old: OutputFormat | None) -> OutputFormat:
    """The format asked for, by -o/--output or by the earlier --format (warned about)."""
    if old is None:
        return output
    remote.renamed("--format", "-o/--output")
    return old


JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Worker processes for large trees (default: one per CPU).",
        show_default=False,
    ),
]


def _model_map(plan: Path | None, map_file: Path | None) -> ModelMap:
    if plan and map_file:
        raise typer.BadParameter("use either --plan or --map, not both", param_hint="--map")
    try:
        if plan:
            return ModelMap.from_plan_file(plan)
        if map_file:
            return ModelMap.from_map_file(map_file)
    except MappingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    return ModelMap.default()


def _print(results: list[FileResult], mode: Mode, output: OutputFormat) -> None:
    if output is OutputFormat.JSON:
        typer.echo(render_json(results, mode), nl=False)
    elif output is OutputFormat.SARIF:
        from modelcatalog.rewrite.registry import load_rules

        typer.echo(render_sarif(results, load_rules()), nl=False)
    else:
        typer.echo(render_text(results, mode), nl=False)


def _exit_code(results: list[FileResult], changes_count: bool) -> int:
    """2 for a usage error only, so that CI can tell findings from a broken invocation."""
    if any(r.usage_error for r in results):
        return 2
    if any(r.findings or r.error for r in results):
        return 1
    if changes_count and any(r.changed for r in results):
        return 1
    return 0


@app.command(
    help="Report what still uses registry stages.\n\n"
    "Exit status: 0 nothing found, 1 findings (a file that could not be read or parsed is "
    "one, MC001, at the line that stopped the parser), 2 usage error (a path that does not "
    "exist or is not a kind of file the rewriter reads, bad options, a bad map or plan)."
)
def lint(
    paths: PathsArg,
    plan: PlanOpt = None,
    map_file: MapOpt = None,
    output: FormatOpt = OutputFormat.TEXT,
    jobs: JobsOpt = None,
    old_format: OldFormatOpt = None,
) -> None:
    """Report what still uses registry stages."""
    output = _format(output, old_format)
    from modelcatalog.rewrite.engine import run

    model_map = _model_map(plan, map_file)
    results = run(paths, "lint", model_map, jobs)
    _print(results, "lint", output)
    raise typer.Exit(_exit_code(results, changes_count=False))


@app.command(
    help="Fix what can be fixed safely and report the rest.\n\n"
    "Files are rewritten in place, atomically and only if the result parses; formatting and "
    "comments are kept, and running it again changes nothing.\n\n"
    "Exit status: 0 nothing left to do, 1 findings that need a manual change remain (with "
    "--diff: also when changes would be made; a file that could not be read, parsed or "
    "written counts, and is never written), 2 usage error."
)
def fix(
    paths: PathsArg,
    plan: PlanOpt = None,
    map_file: MapOpt = None,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Print a unified diff of what would change and write nothing.",
        ),
    ] = False,
    output: FormatOpt = OutputFormat.TEXT,
    jobs: JobsOpt = None,
    old_format: OldFormatOpt = None,
) -> None:
    """Fix what can be fixed safely and report the rest."""
    output = _format(output, old_format)
    from modelcatalog.rewrite.engine import run

    model_map = _model_map(plan, map_file)
    mode: Mode = "diff" if diff else "fix"
    results = run(paths, mode, model_map, jobs)
    if diff:
        for result in results:
            if result.diff:
                typer.echo(result.diff, nl=False)
    _print(results, mode, output)
    raise typer.Exit(_exit_code(results, changes_count=diff))


@app.command("rules")
def list_rules() -> None:
    """List every finding code with its severity and what it means."""
    from modelcatalog.rewrite.registry import load_rules

    for code, rule in sorted(load_rules().items()):
        typer.echo(f"{code}  {rule.severity:<7}  {rule.name}: {rule.summary}")
