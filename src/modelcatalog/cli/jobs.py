"""`modelcatalog jobs`: deployment jobs, their links to models, runs, approvals and approvers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from modelcatalog.cli import remote
from modelcatalog.cli.remote import OutputFormat, OutputOption, UrlOption
from modelcatalog.client.http import CATALOG_API, UC_API, segment

app = typer.Typer(
    help="Deployment jobs: a graph of tasks (evaluation, approval, deployment) that each new "
    "READY version of a linked model runs.",
    no_args_is_help=True,
)
approvers = typer.Typer(
    help="Who may approve a model's deployment runs besides its owner and MANAGE holders.",
    no_args_is_help=True,
)
app.add_typer(approvers, name="approvers")

JOB_COLUMNS: list[remote.Column] = [
    ("name", "name"),
    ("id", "id"),
    ("owner", "owner"),
    ("tasks", lambda j: " → ".join(t["name"] for t in j["definition"]["tasks"])),
    ("linked models", lambda j: ", ".join(j.get("linked_models") or [])),
    ("updated", remote.updated),
]
RUN_COLUMNS: list[remote.Column] = [
    ("run id", "run_id"),
    ("version", "version"),
    ("state", "state"),
    ("current task", lambda r: r.get("current_task_name") or ""),
    ("started", lambda r: remote.timestamp(r.get("started_at"))),
    ("ended", lambda r: remote.timestamp(r.get("ended_at"))),
    ("message", lambda r: r.get("state_message") or ""),
]


def _took(item: dict[str, Any]) -> str:
    """How long a task took (or has been going), in seconds."""
    started, ended = item.get("started_at"), item.get("ended_at")
    if not started:
        return ""
    return f"{((ended or started) - started) / 1000:.1f} s" if ended else "…"


TASK_COLUMNS: list[remote.Column] = [
    ("task", "name"),
    ("state", "state"),
    ("attempt", "attempt"),
    ("exit", lambda t: "" if t.get("exit_code") is None else t["exit_code"]),
    ("took", _took),
    ("message", lambda t: t.get("message") or ""),
]

JobArgument = Annotated[str, typer.Argument(metavar="JOB", help="The job's name or id.")]
ModelArgument = Annotated[
    str, typer.Argument(metavar="CATALOG.SCHEMA.MODEL", help="A registered model's full name.")
]
RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="A run id (see `jobs runs`).")]


def _definition(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc.strerror}", param_hint="'FILE'"
        ) from exc


def _model(value: str) -> str:
    return ".".join(remote.model_full_name(value))


def _job_segment(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("a job name or id is required.", param_hint="'JOB'")
    return segment(value.strip())


@app.command("create")
def create(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The job's YAML definition.")],
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Create a deployment job from a YAML file (metastore admins: tasks run commands)."""
    text = _definition(file)
    with remote.connect(url) as client:
        job = client.post(f"{CATALOG_API}/jobs", {"definition": text})
    if output is OutputFormat.json:
        remote.print_json(job)
        return
    print(job["id"])
    remote.done(
        f"Created deployment job {job['name']} ({job['id']}). Link it to a model with: "
        f"modelcatalog jobs link {job['name']} CATALOG.SCHEMA.MODEL"
    )


@app.command("update")
def update(
    job: JobArgument,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The job's new YAML definition.")],
    url: UrlOption = None,
) -> None:
    """Replace a job's definition; runs under way finish with the one they started with."""
    text = _definition(file)
    with remote.connect(url) as client:
        client.put(f"{CATALOG_API}/jobs/{_job_segment(job)}", {"definition": text})
    remote.done(f"Updated deployment job {job}.")


@app.command("list")
def list_(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """List deployment jobs with their tasks and linked models."""
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/jobs").get("jobs", [])
    remote.print_list(found, JOB_COLUMNS, output, "jobs")


@app.command("get")
@app.command("show", hidden=True)  # the earlier name, kept working
def show(job: JobArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """Show a job: its tasks, their dependencies and its linked models."""
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/jobs/{_job_segment(job)}")
    remote.print_object(found, JOB_COLUMNS, output)


@app.command("delete")
def delete(job: JobArgument, url: UrlOption = None) -> None:
    """Delete a job; linked models show NOT_FOUND until linked again."""
    with remote.connect(url) as client:
        client.delete(f"{CATALOG_API}/jobs/{_job_segment(job)}")
    remote.done(f"Deleted deployment job {job}.")


@app.command("link")
def link(job: JobArgument, model: ModelArgument, url: UrlOption = None) -> None:
    """Link a job to a model: each new READY version starts a run (owner or MANAGE)."""
    full_name = _model(model)
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/jobs/{_job_segment(job)}")
        shown = client.patch(
            f"{UC_API}/models/{segment(full_name)}", {"deployment_job_id": found["id"]}
        )
    remote.done(
        f"Linked deployment job {found['name']} to {full_name} "
        f"({shown.get('deployment_job_state', 'CONNECTED')})."
    )


@app.command("unlink")
def unlink(model: ModelArgument, url: UrlOption = None) -> None:
    """Remove a model's deployment job; runs under way go on."""
    full_name = _model(model)
    with remote.connect(url) as client:
        client.patch(f"{UC_API}/models/{segment(full_name)}", {"deployment_job_id": ""})
    remote.done(f"{full_name} has no deployment job now.")


@app.command("runs")
def runs(
    model: ModelArgument,
    version: Annotated[
        str | None, typer.Option("--version", help="Only this version's runs.", show_default=False)
    ] = None,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """List a model's deployment runs, newest first."""
    full_name = _model(model)
    params: dict[str, Any] = {}
    if version is not None:
        params["version"] = remote.version_number(version, "'--version'")
    with remote.connect(url) as client:
        found = list(
            client.paginate(
                f"{CATALOG_API}/models/{segment(full_name)}/deployment-runs", "runs", **params
            )
        )
    remote.print_list(found, RUN_COLUMNS, output, "runs")


def _print_run(found: dict[str, Any], output: OutputFormat, *, with_output: bool = False) -> None:
    if output is OutputFormat.json:
        remote.print_json(found)
        return
    # Names and messages are printed as written: escaped, never read as markup.
    remote.stdout.print(
        f"[bold]{escape(found['model_name'])}[/bold] version {found['version']}: run "
        f"{escape(found['run_id'])} of {escape(found['job_name'])} is "
        f"[bold]{escape(found['state'])}[/bold]"
        + (f" ({escape(found['state_message'])})" if found.get("state_message") else ""),
        highlight=False,
    )
    remote.print_list(found["tasks"], TASK_COLUMNS, OutputFormat.text, "tasks")
    if with_output:
        for task in found["tasks"]:
            for attempt in task.get("attempts") or []:
                if attempt.get("output"):
                    remote.stdout.rule(f"{task['name']}, attempt {attempt['attempt']}")
                    remote.stdout.print(attempt["output"], markup=False, highlight=False)


@app.command("run")
def run(
    run_id: RunArgument,
    show_output: Annotated[
        bool, typer.Option("--output-log", help="Also print each attempt's output.")
    ] = False,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Show a run: each task's state, attempts, exit status and timing."""
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/deployment-runs/{segment(run_id)}")
    _print_run(found, output, with_output=show_output)


@app.command("start")
def start(
    model: ModelArgument,
    version: Annotated[str, typer.Argument(metavar="VERSION", help="A READY version.")],
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Start the model's deployment job for a version by hand (owner or MANAGE)."""
    full_name = _model(model)
    number = remote.version_number(version)
    with remote.connect(url) as client:
        found = client.post(
            f"{CATALOG_API}/models/{segment(full_name)}/versions/{number}/deployment-runs", {}
        )
    _print_run(found, output)


def _run_action(run_id: str, action: str, url: str | None, output: OutputFormat) -> None:
    with remote.connect(url) as client:
        path = f"{CATALOG_API}/deployment-runs/{segment(run_id)}"
        found = client.post(f"{path}/{action}", {}) or client.get(path)
    _print_run(found, output)


@app.command("cancel")
def cancel(
    run_id: RunArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Cancel a run; a running task's process is stopped."""
    _run_action(run_id, "cancel", url, output)


@app.command("repair")
def repair(
    run_id: RunArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """Run again what failed (or was cancelled or rejected) in an ended run."""
    _run_action(run_id, "repair", url, output)


TaskArgument = Annotated[str, typer.Argument(metavar="TASK", help="The approval task's name.")]


APPROVAL_COLUMNS: list[remote.Column] = [
    ("model", "model_name"),
    ("version", "version"),
    ("run", "run_id"),
    ("task", "task_name"),
    ("job", "job_name"),
    ("for group", "approval_group"),
    ("waiting since", lambda a: remote.timestamp(a.get("waiting_since"))),
    (
        "evidence",
        lambda a: "; ".join(
            f"{e['task_name']} {e['state'].lower()}"
            + (f" (exit {e['exit_code']})" if e.get("exit_code") is not None else "")
            for e in a.get("evidence") or []
        ),
    ),
]


@app.command("approvals")
def approvals_inbox(url: UrlOption = None, output: OutputOption = OutputFormat.text) -> None:
    """List every approval waiting for your decision, across all models, oldest first.

    Decide one with `modelcatalog jobs approve RUN TASK` (or reject); --output json includes
    the output of the tasks each approval depends on (the evaluation)."""
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/approvals")
    remote.print_list(found.get("approvals") or [], APPROVAL_COLUMNS, output, "approvals")


@app.command("approve")
def approve(
    run_id: RunArgument,
    task: TaskArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Approve an approval task of a run (owner, MANAGE, an approver, or the task's group)."""
    _run_action(run_id, f"tasks/{segment(task)}/approve", url, output)


@app.command("reject")
def reject(
    run_id: RunArgument,
    task: TaskArgument,
    url: UrlOption = None,
    output: OutputOption = OutputFormat.text,
) -> None:
    """Reject an approval task of a run: the run fails, and nothing after the task runs."""
    _run_action(run_id, f"tasks/{segment(task)}/reject", url, output)


PrincipalArgument = Annotated[
    str, typer.Argument(metavar="PRINCIPAL", help="A user, service principal or group.")
]


@approvers.command("list")
def approvers_list(
    model: ModelArgument, url: UrlOption = None, output: OutputOption = OutputFormat.text
) -> None:
    """List a model's deployment approvers."""
    full_name = _model(model)
    with remote.connect(url) as client:
        found = client.get(f"{CATALOG_API}/models/{segment(full_name)}/deployment-approvers")
    rows = [{"principal": name} for name in found.get("approvers", [])]
    remote.print_list(rows, [("principal", "principal")], output, "approvers")


@approvers.command("add")
def approvers_add(
    model: ModelArgument, principal: PrincipalArgument, url: UrlOption = None
) -> None:
    """Let a principal (or a group's members) approve the model's deployment runs."""
    full_name = _model(model)
    with remote.connect(url) as client:
        client.put(
            f"{CATALOG_API}/models/{segment(full_name)}/deployment-approvers/{segment(principal)}",
            {},
        )
    remote.done(f"{principal} may now approve deployment runs of {full_name}.")


@approvers.command("remove")
def approvers_remove(
    model: ModelArgument, principal: PrincipalArgument, url: UrlOption = None
) -> None:
    """Take back a principal's right to approve the model's deployment runs."""
    full_name = _model(model)
    with remote.connect(url) as client:
        client.delete(
            f"{CATALOG_API}/models/{segment(full_name)}/deployment-approvers/{segment(principal)}"
        )
    remote.done(f"{principal} may no longer approve deployment runs of {full_name}.")
