"""A deployment job's definition: the YAML a user writes, validated field by field.

name: churn-deploy
parameters: {threshold: "0.8"}          # optional; model_name and model_version are given
notifications: {on_failure: [oncall]}   # destinations, by name
tasks:
  - name: evaluate
    command: ["python", "evaluate.py", "{{model_name}}", "{{model_version}}"]
    retries: 1
    timeout_seconds: 600
  - name: approval
    depends_on: [evaluate]
    approval: {group: legal}             # any authorised approver if no group
  - name: deploy
    depends_on: [approval]
    entry_point: deploy_pkg.deploy:main  # called with model_name=..., model_version=...
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

import yaml

from modelcatalog.domain import text as text_rules
from modelcatalog.errors import InvalidParameter

NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", re.ASCII)
ENV_NAME = re.compile(r"^[A-Za-z_]\w*$", re.ASCII)
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}")
GIVEN_PARAMETERS = ("model_name", "model_version")
NOTIFY_ON = (
    "on_start",
    "on_success",
    "on_failure",
    "on_approval_requested",
    "on_approved",
    "on_rejected",
)
MAX_TASKS = 100
MAX_RETRIES = 10
MAX_TIMEOUT = 7 * 24 * 3600
TASK_FIELDS = {
    "name",
    "command",
    "entry_point",
    "approval",
    "depends_on",
    "retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "env",
    "notifications",
}
JOB_FIELDS = {"name", "description", "parameters", "notifications", "tasks"}


@dataclass(frozen=True)
class Task:
    """One node of the job's graph: a command, a Python entry point or an approval."""

    name: str
    kind: str  # command, entry_point, approval
    command: tuple[str, ...] = ()
    entry_point: str | None = None
    approval_group: str | None = None
    depends_on: tuple[str, ...] = ()
    retries: int = 0
    retry_delay_seconds: int = 10
    timeout_seconds: int = 3600
    env: dict[str, str] = field(default_factory=dict)
    notifications: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class JobDefinition:
    name: str
    description: str | None
    #: Extra parameters and their defaults; None marks one the job needs but a link cannot give.
    parameters: dict[str, str | None]
    notifications: dict[str, tuple[str, ...]]
    #: In an order where every task comes after the tasks it depends on.
    tasks: tuple[Task, ...]

    @property
    def required_parameters(self) -> list[str]:
        """Parameters with no default: a deployment run cannot supply them."""
        return [k for k, v in self.parameters.items() if v is None]

    def task(self, name: str) -> Task:
        return next(t for t in self.tasks if t.name == name)

    def destinations(self) -> set[str]:
        """Every notification destination the job names."""
        found = {d for names in self.notifications.values() for d in names}
        for task in self.tasks:
            found |= {d for names in task.notifications.values() for d in names}
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobDefinition:
        raw = json.loads(text)
        tasks = tuple(
            Task(
                **{
                    **t,
                    "command": tuple(t["command"]),
                    "depends_on": tuple(t["depends_on"]),
                    "notifications": {k: tuple(v) for k, v in t["notifications"].items()},
                }
            )
            for t in raw["tasks"]
        )
        return cls(
            raw["name"],
            raw["description"],
            raw["parameters"],
            {k: tuple(v) for k, v in raw["notifications"].items()},
            tasks,
        )


def _fail(field_path: str, message: str) -> InvalidParameter:
    return InvalidParameter(f"'{field_path}' {message}", field_path)


def _name(value: object, field_path: str) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise _fail(
            field_path,
            f"is {value!r}: expected 1 to 255 letters, digits, '_' or '-'.",
        )
    return value


def _whole(value: object, field_path: str, low: int, high: int) -> int:
    if isinstance(value, float) and value.is_integer():  # JSON does not tell 1.0 from 1
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(field_path, f"is {value!r}: expected a whole number from {low} to {high}.")
    return value


def _names(value: object, field_path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _fail(field_path, f"is {value!r}: expected a list of names.")
    return tuple(_name(v, f"{field_path}[{i}]") for i, v in enumerate(value))


def _notifications(value: object, field_path: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(field_path, "must be a mapping of " + ", ".join(NOTIFY_ON) + " to names.")
    found = {}
    for key, names in value.items():
        if key not in NOTIFY_ON:
            raise _fail(
                f"{field_path}.{key}", "is not known; expected one of " + ", ".join(NOTIFY_ON)
            )
        found[key] = _names(names, f"{field_path}.{key}")
    return found


def _command(value: object, field_path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise _fail(field_path, f"cannot be split into arguments: {exc}.") from None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in value)
    ):
        raise _fail(
            field_path, "must be a command line: a string or a non-empty list of arguments."
        )
    return tuple(str(a) for a in value)


def _task(raw: object, index: int, parameters: dict[str, str | None]) -> Task:
    where = f"tasks[{index}]"
    if not isinstance(raw, dict):
        raise _fail(
            where, "must be a mapping with a name and one of command, entry_point, approval."
        )
    unknown = sorted(set(raw) - TASK_FIELDS)
    if unknown:
        raise _fail(
            f"{where}.{unknown[0]}",
            "is not a task field; expected " + ", ".join(sorted(TASK_FIELDS)),
        )
    name = _name(raw.get("name"), f"{where}.name")
    where = f"tasks[{index}] ({name})"
    kinds = [k for k in ("command", "entry_point", "approval") if k in raw]
    if len(kinds) != 1:
        raise _fail(where, "must have exactly one of command, entry_point, approval.")
    kind = kinds[0]
    task: dict[str, Any] = {"name": name, "kind": kind}
    if kind == "command":
        task["command"] = _command(raw["command"], f"{where}.command")
        for arg in task["command"]:
            for used in TEMPLATE.findall(arg):
                if used not in GIVEN_PARAMETERS and used not in parameters:
                    raise _fail(
                        f"{where}.command",
                        f"uses {{{{{used}}}}}, which is neither model_name, model_version nor "
                        "one of the job's parameters.",
                    )
    elif kind == "entry_point":
        value = raw["entry_point"]
        if not isinstance(value, str) or not ENTRY_POINT.fullmatch(value):
            raise _fail(
                f"{where}.entry_point", f"is {value!r}: expected 'package.module:function'."
            )
        task["entry_point"] = value
    else:
        approval = raw["approval"]
        if approval is None or approval is True:
            approval = {}
        if not isinstance(approval, dict) or set(approval) - {"group"}:
            raise _fail(f"{where}.approval", "must be empty or {group: <group name>}.")
        if "group" in approval:
            task["approval_group"] = _name(approval["group"], f"{where}.approval.group")
        for key in ("retries", "timeout_seconds", "env"):
            if key in raw:
                raise _fail(f"{where}.{key}", "does not apply to an approval task.")
    task["depends_on"] = _names(raw.get("depends_on", []), f"{where}.depends_on")
    if "retries" in raw:
        task["retries"] = _whole(raw["retries"], f"{where}.retries", 0, MAX_RETRIES)
    if "retry_delay_seconds" in raw:
        task["retry_delay_seconds"] = _whole(
            raw["retry_delay_seconds"], f"{where}.retry_delay_seconds", 0, 86_400
        )
    if "timeout_seconds" in raw:
        task["timeout_seconds"] = _whole(
            raw["timeout_seconds"], f"{where}.timeout_seconds", 1, MAX_TIMEOUT
        )
    env = {} if raw.get("env") is None else raw["env"]
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and ENV_NAME.fullmatch(k) and isinstance(v, (str, int, float))
        for k, v in env.items()
    ):
        raise _fail(f"{where}.env", "must map variable names to values.")
    task["env"] = {k: str(v) for k, v in env.items()}
    task["notifications"] = _notifications(raw.get("notifications"), f"{where}.notifications")
    return Task(**task)


def parse(raw: object) -> JobDefinition:
    """A validated definition from parsed YAML or JSON; InvalidParameter names the field."""
    if not isinstance(raw, dict):
        raise InvalidParameter(
            "A job definition must be a mapping with a name and tasks.", "definition"
        )
    unknown = sorted(set(raw) - JOB_FIELDS)
    if unknown:
        raise _fail(unknown[0], "is not a job field; expected " + ", ".join(sorted(JOB_FIELDS)))
    name = _name(raw.get("name"), "name")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail("description", "must be text.")
    if description is not None:
        problem = text_rules.problem(description, text_rules.FIELDS["description"])
        if problem is not None:
            raise _fail("description", problem + ".")
    params_raw = {} if raw.get("parameters") is None else raw["parameters"]
    if not isinstance(params_raw, dict):
        raise _fail("parameters", "must map parameter names to default values (null: required).")
    parameters: dict[str, str | None] = {}
    for key, value in params_raw.items():
        _name(key, f"parameters.{key}")
        if key in GIVEN_PARAMETERS:
            raise _fail(f"parameters.{key}", "is given to every run; do not declare it.")
        if value is not None and not isinstance(value, (str, int, float)):
            raise _fail(f"parameters.{key}", "must be a text or number default, or null.")
        parameters[key] = None if value is None else str(value)
    tasks_raw = raw.get("tasks")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        raise _fail("tasks", "must be a non-empty list of tasks.")
    if len(tasks_raw) > MAX_TASKS:
        raise _fail("tasks", f"has {len(tasks_raw)} tasks; at most {MAX_TASKS} are allowed.")
    tasks = [_task(t, i, parameters) for i, t in enumerate(tasks_raw)]
    by_name: dict[str, Task] = {}
    for task in tasks:
        if task.name in by_name:
            raise _fail("tasks", f"names '{task.name}' twice; task names must be unique.")
        by_name[task.name] = task
    for task in tasks:
        for dep in task.depends_on:
            if dep not in by_name:
                raise _fail(
                    f"tasks ({task.name}).depends_on", f"names '{dep}', which is not a task."
                )
            if dep == task.name:
                raise _fail(f"tasks ({task.name}).depends_on", "names the task itself.")
    sorter = TopologicalSorter({t.name: t.depends_on for t in tasks})
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = " → ".join(exc.args[1])
        raise _fail("tasks", f"depend on each other in a cycle: {cycle}.") from None
    position = {t.name: i for i, t in enumerate(tasks)}
    ordered: list[Task] = []
    # Dependencies first; among tasks ready together, the order they were written in.
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=position.__getitem__)
        ordered += [by_name[n] for n in ready]
        sorter.done(*ready)
    return JobDefinition(
        name,
        description,
        parameters,
        _notifications(raw.get("notifications"), "notifications"),
        tuple(ordered),
    )


def parse_yaml(text: str) -> JobDefinition:
    """A validated definition from YAML text."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InvalidParameter(
            f"The job definition is not valid YAML{where}.", "definition"
        ) from None
    # YAML escapes can spell any character: the text a JSON definition is held to, checked here.
    problem = text_rules.first_problem(raw, "definition")
    if problem is not None:
        raise InvalidParameter(problem, "definition")
    return parse(raw)
