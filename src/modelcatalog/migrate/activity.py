"""The "Migrated activity" section: comments, transition requests and stage history, in time
order, appended to a version's description (the catalog has no stages or comment threads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

HEADING = "## Migrated activity"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "(time unknown)"


def _who(person: str | None) -> str:
    return person or "someone"


def _said(text: str | None) -> str:
    if not text:
        return ""
    quoted = " ".join(text.split())
    return f': "{quoted}"'


def _stage(name: str | None) -> str:
    return name or "None"


def activity_lines(activity: Any) -> list[tuple[datetime | None, str]]:
    """One line per comment, transition request and stage change, with its time."""
    lines: list[tuple[datetime | None, str]] = []
    for c in getattr(activity, "comments", ()):
        lines.append((c.time, f"{_when(c.time)}, {_who(c.author)} commented{_said(c.text)}"))
    for r in getattr(activity, "transition_requests", ()):
        lines.append(
            (
                r.time,
                f"{_when(r.time)}, {_who(r.requester)} requested a transition "
                f"{_stage(r.from_stage)} → {_stage(r.to_stage)} ({r.status}){_said(r.comment)}",
            )
        )
    for s in getattr(activity, "stage_history", ()):
        lines.append(
            (
                s.time,
                f"{_when(s.time)}, {_who(s.actor)} moved the version "
                f"{_stage(s.from_stage)} → {_stage(s.to_stage)}{_said(s.comment)}",
            )
        )
    return sorted(lines, key=lambda item: (item[0] is None, item[0] or datetime.min, item[1]))


def activity_section(activity: Any) -> str:
    """The Markdown section for one version's activity; empty when there was none."""
    lines = activity_lines(activity) if activity is not None else []
    if not lines:
        return ""
    return HEADING + "\n\n" + "\n".join(f"- {text}" for _, text in lines)
