"""Notifications through the real server: destinations, signed webhooks to a real local HTTP
receiver, email through a real SMTP server (aiosmtpd) with authentication, retries with backoff,
the delivery log, and secrets that never leave the server in clear."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from modelcatalog.service.deployments.settings import JobSettings
from support.http import ok, unique, wait_for
from support.receivers import SmtpCapture, WebhookReceiver, mlflow_signature_valid
from support.servers import RunningServer, run_server

# The local SMTP server authenticates without TLS on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
NATIVE = "/api/modelcatalog"
DESTINATIONS = f"{NATIVE}/notification-destinations"
DELIVERIES = f"{NATIVE}/deliveries"
SMTP = f"{NATIVE}/notifications/smtp"
#: The test server does not set MODELCATALOG_DELIVERY_ATTEMPTS.
ATTEMPTS = JobSettings().delivery_attempts


@pytest.fixture
def admin(job_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=job_server.url, headers=job_server.headers(), timeout=60) as c:
        yield c


def new_user(admin: httpx.Client, job_server: RunningServer) -> httpx.Client:
    name = unique("u")
    ok(admin.post(f"{NATIVE}/principals", json={"name": name, "kind": "user"}))
    token = ok(admin.post(f"{NATIVE}/tokens", json={"principal": name}))["token"]
    return httpx.Client(base_url=job_server.url, headers=job_server.headers(token), timeout=60)


@pytest.fixture
def user(admin: httpx.Client, job_server: RunningServer) -> Iterator[httpx.Client]:
    with new_user(admin, job_server) as client:
        yield client


def webhook(client: httpx.Client, url: str, secret: str | None = None) -> str:
    name = unique("hook")
    body = {"name": name, "kind": "webhook", "address": url}
    if secret is not None:
        body["secret"] = secret
    ok(client.post(DESTINATIONS, json=body))
    return name


def delivery(client: httpx.Client, destination: str, delivery_id: str) -> dict:
    found = ok(client.get(DELIVERIES, params={"destination": destination}))["deliveries"]
    return next(d for d in found if d["id"] == delivery_id)


def settled(client: httpx.Client, destination: str, delivery_id: str) -> dict:
    """The delivery once it is DELIVERED or FAILED."""
    return wait_for(
        lambda: (d := delivery(client, destination, delivery_id))["state"] != "PENDING" and d,
        f"delivery {delivery_id} to settle",
    )


# Webhooks -----------------------------------------------------------------------------------


def test_a_webhook_is_signed_as_mlflow_signs_and_its_receiver_verifies_it(
    admin: httpx.Client,
) -> None:
    with WebhookReceiver() as hook:
        name = webhook(admin, hook.url, secret="whsec-signing")
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        (received,) = hook.wait_for(1)
    assert received.path == "/hook"
    assert received.header("Content-Type") == "application/json"
    assert received.header("X-MLflow-Delivery-Id") == queued["id"]
    assert mlflow_signature_valid("whsec-signing", received.headers, received.body)
    assert not mlflow_signature_valid("another-secret", received.headers, received.body)
    envelope = json.loads(received.body)
    assert set(envelope) == {"entity", "action", "timestamp", "data"}
    assert (envelope["entity"], envelope["action"]) == ("notification_destination", "test")
    assert envelope["data"]["event"] == "TEST"
    assert envelope["data"]["destination"] == name
    logged = settled(admin, name, queued["id"])
    assert (logged["state"], logged["attempts"], logged["last_status"]) == ("DELIVERED", 1, 200)


def test_a_webhook_without_a_secret_is_sent_unsigned(admin: httpx.Client) -> None:
    with WebhookReceiver() as hook:
        name = webhook(admin, hook.url)
        ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        (received,) = hook.wait_for(1)
    assert received.header("X-MLflow-Signature") is None
    assert (received.header("X-MLflow-Timestamp") or "").isdigit()
    assert ok(admin.get(f"{DESTINATIONS}/{name}"))["has_secret"] is False


def test_failed_attempts_are_retried_with_the_same_delivery_id_until_one_succeeds(
    admin: httpx.Client,
) -> None:
    with WebhookReceiver(answers=[500, 503]) as hook:
        name = webhook(admin, hook.url, secret="retry-secret")
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        received = hook.wait_for(3)
        logged = settled(admin, name, queued["id"])
    assert [r.answered for r in received] == [500, 503, 200]
    assert {r.header("X-MLflow-Delivery-Id") for r in received} == {queued["id"]}
    assert all(mlflow_signature_valid("retry-secret", r.headers, r.body) for r in received)
    assert len({r.body for r in received}) == 1  # a retry sends the same notification
    assert logged["state"] == "DELIVERED"
    assert (logged["attempts"], logged["last_status"], logged["last_error"]) == (3, 200, None)


def test_a_delivery_fails_for_good_after_the_configured_attempts(admin: httpx.Client) -> None:
    with WebhookReceiver(default=500) as hook:
        name = webhook(admin, hook.url)
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        logged = settled(admin, name, queued["id"])
        sent = len(hook.requests)
    assert logged["state"] == "FAILED"
    assert logged["attempts"] == ATTEMPTS == sent
    assert logged["last_status"] == 500
    assert "HTTP 500" in logged["last_error"]
    assert logged["next_attempt_at"] is None


def test_a_client_error_answer_fails_the_delivery_at_once(admin: httpx.Client) -> None:
    with WebhookReceiver(default=404) as hook:
        name = webhook(admin, hook.url)
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        logged = settled(admin, name, queued["id"])
    assert (logged["state"], logged["attempts"], logged["last_status"]) == ("FAILED", 1, 404)


def test_too_many_requests_is_retried(admin: httpx.Client) -> None:
    with WebhookReceiver(answers=[429]) as hook:
        name = webhook(admin, hook.url)
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        logged = settled(admin, name, queued["id"])
    assert (logged["state"], logged["attempts"]) == ("DELIVERED", 2)


def test_an_unreachable_receiver_is_recorded_and_retried(admin: httpx.Client) -> None:
    with WebhookReceiver() as hook:
        url = hook.url
    # The receiver is closed: nothing listens on its port any more.
    name = webhook(admin, url)
    queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
    logged = wait_for(
        lambda: (d := delivery(admin, name, queued["id"]))["attempts"] >= 2 and d,
        "two failed attempts",
    )
    assert logged["last_status"] is None
    assert "ConnectionRefused" in logged["last_error"]


def test_a_webhook_secret_is_never_returned_logged_or_stored_in_clear(
    admin: httpx.Client, job_server: RunningServer
) -> None:
    secret = "plain-" + uuid.uuid4().hex
    with WebhookReceiver() as hook:
        created = admin.post(
            DESTINATIONS,
            json={"name": unique("hook"), "kind": "webhook", "address": hook.url, "secret": secret},
        )
        name = ok(created)["name"]
        queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
        hook.wait_for(1)
        settled(admin, name, queued["id"])
    answers = [
        created.text,
        admin.get(DESTINATIONS).text,
        admin.get(f"{DESTINATIONS}/{name}").text,
        admin.get(DELIVERIES, params={"destination": name}).text,
        admin.get(f"{NATIVE}/audit", params={"securable": name}).text,
    ]
    assert ok(created)["has_secret"] is True
    assert "secret" not in ok(created)
    assert all(secret not in answer for answer in answers)
    assert name in answers[-1]  # the audit query did find the destination's records
    assert secret not in job_server.log()
    engine = create_engine(
        job_server.database_uri.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT encrypted_secret FROM notification_destinations WHERE name = :n"),
                {"n": name},
            ).scalar_one()
            audited = connection.execute(
                text("SELECT parameters FROM audit_records WHERE securable = :n"), {"n": name}
            ).scalars()
            assert all(secret not in p for p in audited)
    finally:
        engine.dispose()
    assert stored and secret not in stored
    assert secret.encode() not in base64.urlsafe_b64decode(stored + "==")


# Destinations ---------------------------------------------------------------------------------


def test_only_the_owner_or_an_admin_deletes_a_destination(
    admin: httpx.Client, user: httpx.Client, job_server: RunningServer
) -> None:
    with new_user(admin, job_server) as other:
        name = webhook(user, "http://127.0.0.1:9/hook")
        listed = ok(other.get(DESTINATIONS))["destinations"]
        assert name in [d["name"] for d in listed]  # everyone may see and name it
        refused = other.delete(f"{DESTINATIONS}/{name}")
        assert refused.status_code == 403
        assert "only the owner" in refused.json()["message"]
        assert other.post(f"{DESTINATIONS}/{name}/test").status_code == 403
    ok(user.delete(f"{DESTINATIONS}/{name}"))
    assert user.get(f"{DESTINATIONS}/{name}").status_code == 404
    again = webhook(user, "http://127.0.0.1:9/hook")
    ok(admin.delete(f"{DESTINATIONS}/{again}"))


def test_the_delivery_log_shows_the_owner_their_own_destinations_and_admins_all(
    admin: httpx.Client, user: httpx.Client, job_server: RunningServer
) -> None:
    mine = webhook(user, "http://127.0.0.1:9/hook")
    theirs = webhook(admin, "http://127.0.0.1:9/hook")
    ok(user.post(f"{DESTINATIONS}/{mine}/test"))
    ok(admin.post(f"{DESTINATIONS}/{theirs}/test"))
    seen = {d["destination"] for d in ok(user.get(DELIVERIES))["deliveries"]}
    assert seen == {mine}
    assert user.get(DELIVERIES, params={"destination": theirs}).status_code == 403
    everything = {d["destination"] for d in ok(admin.get(DELIVERIES))["deliveries"]}
    assert {mine, theirs} <= everything


def test_the_delivery_log_pages_and_filters_by_state(admin: httpx.Client) -> None:
    with WebhookReceiver(default=404) as hook:
        name = webhook(admin, hook.url)
        ids = [ok(admin.post(f"{DESTINATIONS}/{name}/test"))["id"] for _ in range(3)]
        for delivery_id in ids:
            settled(admin, name, delivery_id)
    first = ok(admin.get(DELIVERIES, params={"destination": name, "max_results": 2}))
    second = ok(
        admin.get(
            DELIVERIES,
            params={"destination": name, "max_results": 2, "page_token": first["next_page_token"]},
        )
    )
    assert "next_page_token" not in second
    paged = [d["id"] for d in first["deliveries"] + second["deliveries"]]
    assert sorted(paged) == sorted(ids)
    failed = ok(admin.get(DELIVERIES, params={"destination": name, "state": "FAILED"}))
    assert len(failed["deliveries"]) == 3
    delivered = ok(admin.get(DELIVERIES, params={"destination": name, "state": "DELIVERED"}))
    assert delivered["deliveries"] == []
    bad = admin.get(DELIVERIES, params={"state": "LOST"})
    assert bad.status_code == 400 and "PENDING, DELIVERED, FAILED" in bad.json()["message"]


@pytest.mark.parametrize(
    ("body", "field_named", "what"),
    [
        ({"name": "has space", "kind": "email", "address": "a@example.com"}, "'name'", "letters"),
        ({"name": "n", "kind": "sms", "address": "a@example.com"}, "'kind'", "email, webhook"),
        ({"name": "n", "kind": "email", "address": "a@b.com, c@d.com"}, "'address'", "one email"),
        ({"name": "n", "kind": "email", "address": "Ops <a@b.com>"}, "'address'", "one email"),
        ({"name": "n", "kind": "email", "address": "root@localhost"}, "'address'", "dot"),
        ({"name": "n", "kind": "webhook", "address": "ftp://x.example/"}, "'address'", "https"),
        (
            {"name": "n", "kind": "webhook", "address": "https://u:p@example.com/"},
            "'address'",
            "signing secret instead",
        ),
        (
            {"name": "n", "kind": "email", "address": "a@example.com", "secret": "s"},
            "'secret'",
            "webhooks only",
        ),
    ],
    ids=["name", "kind", "address-list", "display-name", "no-dot", "scheme", "userinfo", "secret"],
)
def test_bad_destinations_are_refused_naming_the_field(
    admin: httpx.Client, body: dict, field_named: str, what: str
) -> None:
    refused = admin.post(DESTINATIONS, json=body)
    assert refused.status_code == 400, refused.text
    assert field_named in refused.json()["message"]
    assert what in refused.json()["message"]


def test_a_destination_name_is_unique_whatever_its_case(admin: httpx.Client) -> None:
    name = unique("Ops")
    ok(admin.post(DESTINATIONS, json={"name": name, "kind": "email", "address": "o@example.com"}))
    again = admin.post(
        DESTINATIONS, json={"name": name.lower(), "kind": "email", "address": "p@example.com"}
    )
    assert again.status_code == 409


# Email ----------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    with SmtpCapture(username="mailer", password="smtp-" + uuid.uuid4().hex) as server:
        yield server


def configure_smtp(admin: httpx.Client, smtp_server: SmtpCapture) -> dict:
    return ok(
        admin.put(
            SMTP,
            json={
                "host": "127.0.0.1",
                "port": smtp_server.port,
                "security": "none",
                "from_address": "catalog@example.com",
                "username": smtp_server.username,
                "password": smtp_server.password,
            },
        )
    )


def test_an_email_is_sent_through_the_smtp_server_with_its_login(
    admin: httpx.Client, smtp_server: SmtpCapture
) -> None:
    configure_smtp(admin, smtp_server)
    name = unique("ops")
    to = f"{name}@example.com"
    ok(admin.post(DESTINATIONS, json={"name": name, "kind": "email", "address": to}))
    queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
    mail = smtp_server.wait_for_mail_to(to)
    assert mail.login == "mailer"
    assert mail.rcpt_tos == [to]
    assert mail.message["From"] == "catalog@example.com"
    assert mail.message["Subject"] == f"[modelcatalog] test notification: {name}"
    body = mail.message.get_content()
    assert "Event: TEST" in body and "By: admin" in body
    logged = settled(admin, name, queued["id"])
    assert (logged["state"], logged["last_status"]) == ("DELIVERED", 250)
    assert smtp_server.failed_logins == 0


def test_the_smtp_password_is_stored_encrypted_and_never_shown(
    admin: httpx.Client, smtp_server: SmtpCapture, job_server: RunningServer
) -> None:
    answer = configure_smtp(admin, smtp_server)
    shown = ok(admin.get(SMTP))
    assert shown == answer
    assert shown["has_password"] is True and "password" not in shown
    assert shown["username"] == "mailer" and shown["security"] == "none"
    engine = create_engine(
        job_server.database_uri.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT key, value FROM settings")).all()
            audited = connection.execute(
                text("SELECT parameters FROM audit_records WHERE action = 'setSmtpSettings'")
            ).scalars()
            assert all(smtp_server.password not in p for p in audited)
    finally:
        engine.dispose()
    stored = json.loads(dict(rows)["notifications.smtp"])
    assert stored["password"] and stored["password"] != smtp_server.password
    assert all(smtp_server.password not in value for _, value in rows)
    assert smtp_server.password not in job_server.log()


def test_only_metastore_admins_read_set_or_delete_the_smtp_settings(user: httpx.Client) -> None:
    body = {"host": "mail.example.com", "from_address": "c@example.com"}
    for refused in (user.get(SMTP), user.put(SMTP, json=body), user.delete(SMTP)):
        assert refused.status_code == 403
        assert "only metastore admins" in refused.json()["message"]


def test_an_email_without_an_smtp_server_fails_clearly_and_is_retried(
    admin: httpx.Client,
) -> None:
    admin.delete(SMTP)  # configured or not: afterwards there is none
    name = unique("ops")
    ok(admin.post(DESTINATIONS, json={"name": name, "kind": "email", "address": "ops@example.com"}))
    queued = ok(admin.post(f"{DESTINATIONS}/{name}/test"))
    logged = wait_for(
        lambda: (d := delivery(admin, name, queued["id"]))["attempts"] >= 2 and d,
        "two failed attempts",
    )
    assert logged["last_error"].startswith(
        "no SMTP server is configured: modelcatalog notifications smtp set"
    )
    assert admin.get(SMTP).status_code == 404


def test_bad_smtp_settings_are_refused_naming_the_field(admin: httpx.Client) -> None:
    cases = [
        ({"host": "", "from_address": "c@example.com"}, "'host'"),
        ({"host": "m.example.com", "from_address": "nobody"}, "'from_address'"),
        ({"host": "m.example.com", "from_address": "c@example.com", "port": 70000}, "'port'"),
        ({"host": "m.example.com", "from_address": "c@example.com", "port": "\u00b2"}, "'port'"),
        ({"host": "m.example.com", "from_address": "c@example.com", "security": "tls"}, "starttls"),
        ({"host": "m.example.com", "from_address": "c@example.com", "username": "u"}, "password"),
    ]
    for body, named in cases:
        refused = admin.put(SMTP, json=body)
        assert refused.status_code == 400, refused.text
        assert named in refused.json()["message"]


def test_the_smtp_port_is_read_as_a_number_a_whole_float_or_digits(admin: httpx.Client) -> None:
    base = {"host": "m.example.com", "from_address": "c@example.com", "security": "ssl"}
    try:
        for port, read in ((2525.0, 2525), (" 0587 ", 587), ("", 465), (None, 465)):
            assert ok(admin.put(SMTP, json={**base, "port": port}))["port"] == read
    finally:
        ok(admin.delete(SMTP))


# A server without the allow flags -----------------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server as deployed by default: https webhooks to public addresses only."""
    with run_server(
        tmp_path_factory.mktemp("strict"), extra_env={"MODELCATALOG_JOB_POLL_SECONDS": "0.1"}
    ) as server:
        yield server


@pytest.fixture
def strict(strict_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=strict_server.url, headers=strict_server.headers(), timeout=60
    ) as client:
        yield client


def test_a_plain_http_webhook_is_refused_unless_allowed(strict: httpx.Client) -> None:
    refused = strict.post(
        DESTINATIONS, json={"name": "h", "kind": "webhook", "address": "http://example.com/hook"}
    )
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "'address' is refused: the URL's scheme is 'http'; only https:// is allowed (plain http "
        "is allowed only with MODELCATALOG_ALLOW_HTTP_WEBHOOKS=1)."
    )


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://localhost:8443/hook", "127.0.0.1"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::ffff:192.168.0.1]/hook", "::ffff:192.168.0.1"),
        ("https://224.0.0.1/hook", "224.0.0.1"),
    ],
    ids=["loopback", "localhost", "private", "link-local", "mapped-ipv6", "multicast"],
)
def test_a_webhook_to_a_private_address_is_refused_unless_allowed(
    strict: httpx.Client, url: str, address: str
) -> None:
    refused = strict.post(DESTINATIONS, json={"name": "h", "kind": "webhook", "address": url})
    assert refused.status_code == 400
    message = refused.json()["message"]
    assert message.startswith("'address' is refused: the host ")
    assert (
        f"resolves to {address}, a private, loopback, link-local, reserved or multicast" in message
    )
    assert "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS=1" in message


def test_the_address_is_checked_again_before_each_attempt(tmp_path: Path) -> None:
    """A destination accepted under other rules (or another DNS answer) is not called."""
    data_dir = tmp_path / "srv"
    quick = {"MODELCATALOG_JOB_POLL_SECONDS": "0.1", "MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1"}
    with WebhookReceiver() as hook:
        with run_server(
            data_dir, extra_env={**quick, "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1"}
        ) as server:
            with httpx.Client(base_url=server.url, headers=server.headers()) as client:
                name = webhook(client, hook.url)
        with run_server(data_dir, extra_env=quick) as server:
            with httpx.Client(base_url=server.url, headers=server.headers()) as client:
                queued = ok(client.post(f"{DESTINATIONS}/{name}/test"))
                logged = wait_for(
                    lambda: (d := delivery(client, name, queued["id"]))["attempts"] >= 1 and d,
                    "a refused attempt",
                )
        assert hook.requests == []
    assert logged["last_error"].startswith("refused: the host '127.0.0.1' resolves to 127.0.0.1")


def test_two_server_processes_send_each_delivery_exactly_once(tmp_path: Path) -> None:
    """Both workers run an engine over one database; the claim lets only one send."""
    quick = {
        "MODELCATALOG_JOB_POLL_SECONDS": "0.05",
        "MODELCATALOG_ALLOW_HTTP_WEBHOOKS": "1",
        "MODELCATALOG_ALLOW_PRIVATE_WEBHOOKS": "1",
    }
    with WebhookReceiver() as hook, run_server(tmp_path / "srv", workers=2, extra_env=quick) as s:
        with httpx.Client(base_url=s.url, headers=s.headers(), timeout=60) as client:
            name = webhook(client, hook.url)
            ids = [ok(client.post(f"{DESTINATIONS}/{name}/test"))["id"] for _ in range(30)]
            wait_for(
                lambda: (
                    len(
                        ok(
                            client.get(
                                DELIVERIES, params={"destination": name, "state": "DELIVERED"}
                            )
                        )["deliveries"]
                    )
                    == len(ids)
                ),
                "every delivery to be DELIVERED",
            )
        sent = [r.header("X-MLflow-Delivery-Id") for r in hook.requests]
    assert sorted(sent) == sorted(ids)
