"""Values for the string formats /openapi.json uses for fields that name something that must
exist or be issued by the server (a principal, a page token, a deployment job...), or that the
server checks beyond any pattern (an email address, a webhook URL it resolves): a shape alone
cannot make them valid, so the fuzzer draws them from what a fresh server has, plus the one
notification destination the test creates before the run."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

ADMIN = "admin"
DESTINATION = "fuzz-destination"
"""A webhook destination (to a closed port on this machine) the test creates before the run."""
WEBHOOK = "http://127.0.0.1:9/hook"

JOB_DEFINITIONS = [
    "name: fuzz-approval\ntasks:\n  - name: approve\n    approval: {}\n",
    f"""name: fuzz-command
parameters: {{threshold: "0.8"}}
notifications: {{on_failure: [{DESTINATION}]}}
tasks:
  - name: evaluate
    command: ["true", "{{{{model_name}}}}", "{{{{threshold}}}}"]
    retries: 1
  - name: approve
    depends_on: evaluate
    approval: {{group: reviewers}}
""",
]

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
    "email-address": st.just("ops@example.com"),
    "webhook-url": st.just(WEBHOOK),
    "notification-destination": st.just(DESTINATION),
    # Whole job definitions as YAML text (the JSON form is described field by field).
    "job-definition-yaml": st.sampled_from(JOB_DEFINITIONS),
}

for name, strategy in FORMATS.items():
    schemathesis.openapi.format(name, strategy)

# The bulk upload's body is a tar stream; any bytes make a (mostly refused) one.
schemathesis.openapi.media_type("application/x-tar", st.binary(max_size=4096))
