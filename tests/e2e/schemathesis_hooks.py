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
    # Where notifications would go: only ever this machine (a closed port, the local SMTP
    # port), never another host.
    "smtp-host": st.just("127.0.0.1"),
    "destination-address": st.sampled_from(["ops@example.com", "http://127.0.0.1:9/hook"]),
}

for name, strategy in FORMATS.items():
    schemathesis.openapi.format(name, strategy)

# The bulk upload's body is a tar stream; any bytes make a (mostly refused) one.
schemathesis.openapi.media_type("application/x-tar", st.binary(max_size=4096))
