"""What a page says after an edit brought the browser back to it (`?done=<what>`).

Only these fixed sentences are shown: a link cannot make a page say something of its own."""

from __future__ import annotations

NOTICES = {
    "description": "Description saved.",
    "tag-set": "Tag saved.",
    "tag-removed": "Tag removed.",
    "alias-set": "Alias set.",
    "alias-removed": "Alias removed.",
    "granted": "Privileges granted.",
    "revoked": "Privileges revoked.",
    "approved": "Approved: the deployment run goes on.",
    "rejected": "Rejected: the deployment run stops here.",
    "token-revoked": "Token revoked.",
    "owner": "Owner changed.",
    "principal-created": "Principal created.",
    "member-added": "Member added.",
    "member-removed": "Member removed.",
    "admin-changed": "Admin rights changed.",
}


def notice_for(done: str | None) -> str | None:
    """The sentence for an edit's outcome, or None for anything else."""
    return NOTICES.get(done or "")
