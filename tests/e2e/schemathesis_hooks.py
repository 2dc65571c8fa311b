"""Values for the string formats /openapi.json uses for fields that name something that must
exist or be issued by the server (a principal, a page token, a deployment job...): a shape alone
cannot make them valid, so the fuzzer draws them from what a fresh server has."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

ADMIN = "admin"

FORMATS = {
    # The first page: the only token a client can make up.
    "page-token": st.just(""),
    # The one principal every fresh server has.
    "principal": st.just(ADMIN),
    # Empty: no deployment job (none exists on a fresh server).
    "deployment-job": st.just(""),
}

for name, strategy in FORMATS.items():
    schemathesis.openapi.format(name, strategy)
