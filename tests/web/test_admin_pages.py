"""The pages for admins and for everyone's own tokens: the audit log, its export, the chain
check, principals, tokens; and the weight of a page of 100 models."""

from __future__ import annotations

import json

import httpx
from playwright.sync_api import Browser, expect

from support.browser import Cast, sign_in
from support.servers import RunningServer
from support.versions import create_model

UC = "/api/2.1/unity-catalog"


def test_an_admin_filters_the_audit_log_exports_it_and_verifies_the_chain(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.admin)
    page.goto("/audit")
    page.get_by_label("Securable").fill(cast.model)
    page.get_by_label("Outcome").select_option("ok")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows.first).to_contain_text(cast.model)
    assert all(cast.model in text for text in rows.all_inner_texts())
    with page.expect_download() as download:
        page.get_by_text("Export these records as JSON lines").click()
    lines = download.value.path().read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records and {(r["securable"], r["outcome"]) for r in records} == {(cast.model, "ok")}
    assert "createRegisteredModel" in {r["action"] for r in records}
    assert all(len(r["hash"]) == 64 for r in records)
    page.get_by_text("Verify the chain").click()
    expect(page.locator("main [role=status]")).to_contain_text("intact")


def test_the_audit_log_opens_on_what_just_happened_and_pages_back_in_time(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    for _ in range(101):  # more than a page of records, whatever ran before
        admin_api.get(f"{UC}/models/{cast.model}").raise_for_status()
    newest = admin_api.get(
        "/api/modelcatalog/audit", params={"order": "newest_first", "max_results": "1"}
    ).json()["records"][0]["seq"]
    page = sign_in(browser, web_server, cast.admin)
    page.goto("/audit")
    first_column = page.locator("table.audit tbody tr td:first-child")
    numbers = [int(n) for n in first_column.all_inner_texts()]
    assert len(numbers) == 100 and numbers == sorted(numbers, reverse=True)
    assert numbers[0] > newest
    page.get_by_text("Earlier records →").click()
    # The whole cell: "62" is also inside "162", on the page before the link was followed.
    expect(first_column.first).to_have_text(str(numbers[-1] - 1))
    page.get_by_label("Order").select_option("oldest_first")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr td:first-child").first).to_have_text("1")


def test_someone_who_is_not_an_admin_is_refused_the_audit_log_and_cannot_change_principals(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    expect(page.locator("header nav")).not_to_contain_text("Audit")
    for address in ("/audit", "/audit/export"):
        answer = page.goto(address)
        assert answer is not None and answer.status == 403, address
        expect(page.locator("h1")).to_have_text("Not allowed")
    # The directory may be read (grants name principals), but not changed.
    page.goto("/admin/principals")
    expect(page.locator("table.listing")).to_contain_text(cast.owner.name)
    expect(page.get_by_role("button", name="Create")).to_have_count(0)
    expect(page.get_by_role("button", name="Add")).to_have_count(0)


def test_a_new_token_is_shown_once_works_and_can_be_revoked(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.goto("/me/tokens")
    page.get_by_label("Comment").fill("notebook")
    page.get_by_label("Lifetime in days").fill("1")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("code.secret").inner_text()
    me = httpx.get(
        f"{web_server.url}/api/modelcatalog/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.status_code == 200 and me.json()["name"] == cast.reader.name
    page.goto("/me/tokens")
    expect(page.locator("code.secret")).to_have_count(0)
    row = page.locator("table.listing tbody tr", has_text="notebook")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".notice")).to_have_text("Token revoked.")
    refused = httpx.get(
        f"{web_server.url}/api/modelcatalog/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401


def test_a_lifetime_that_is_not_a_number_is_refused_next_to_its_field(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.goto("/me/tokens")
    page.get_by_label("Lifetime in days").fill("soon")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#lifetime-error")).to_contain_text("lifetime_seconds")
    expect(page.locator("code.secret")).to_have_count(0)


def test_a_page_of_100_models_weighs_under_150_kilobytes(
    web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    schema = cast.model.rsplit(".", 1)[0]
    for index in range(100):
        create_model(admin_api, f"{schema}.model_with_a_fairly_long_name_{index:03d}")
    catalog, schema_name = schema.split(".")
    with httpx.Client(base_url=web_server.url, follow_redirects=False) as client:
        form = client.get("/signin")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        signed_in = client.post(
            "/signin",
            data={"csrf_token": csrf, "token": cast.admin.token, "next": "/"},
            headers={"Origin": web_server.url},
        )
        assert signed_in.status_code == 303
        listed = client.get(f"/c/{catalog}/{schema_name}")
    assert listed.status_code == 200
    assert listed.text.count('href="/m/') == 100
    assert len(listed.content) < 150 * 1024, len(listed.content)


def test_an_admin_creates_a_group_adds_a_member_and_the_member_gains_the_groups_grant(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    group = f"readers-{cast.model.split('.')[0]}"
    page = sign_in(browser, web_server, cast.admin)
    page.goto("/admin/principals")
    page.get_by_label("Name").fill(group)
    page.get_by_label("Kind").select_option("group")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".notice")).to_have_text("Principal created.")
    page.get_by_label(f"Member to add to {group}").fill(cast.nobody.name)
    page.get_by_label(f"Member to add to {group}").press("Enter")
    expect(page.locator(".notice")).to_have_text("Member added.")
    catalog = cast.model.split(".")[0]
    for securable_type, name, privileges in (
        ("catalog", catalog, ["USE CATALOG", "USE SCHEMA"]),
        ("registered_model", cast.model, ["EXECUTE"]),
    ):
        admin_api.patch(
            f"{UC}/permissions/{securable_type}/{name}",
            json={"changes": [{"principal": group, "add": privileges}]},
        ).raise_for_status()
    member = sign_in(browser, web_server, cast.nobody)
    member.goto(f"/m/{cast.model}?tab=permissions")
    expect(member.locator("main")).to_contain_text(f"through group {group}")


def test_a_duplicate_principal_is_refused_with_the_reason(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.admin)
    page.goto("/admin/principals")
    page.get_by_label("Name").fill(cast.owner.name)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#principal-error")).to_contain_text("already exists")


def test_the_automation_page_lists_jobs_with_their_linked_models(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    name = f"deploy-{cast.model.split('.')[0]}"
    job = admin_api.post(
        "/api/modelcatalog/jobs",
        json={"definition": f"name: {name}\ntasks:\n  - name: review\n    approval: {{}}\n"},
    )
    job.raise_for_status()
    admin_api.patch(
        f"{UC}/models/{cast.model}", json={"deployment_job_id": job.json()["id"]}
    ).raise_for_status()
    page = sign_in(browser, web_server, cast.reader)
    page.goto("/automation")
    row = page.locator("table.listing tbody tr", has_text=name)
    expect(row).to_contain_text("review")
    expect(row.get_by_role("link", name=cast.model)).to_be_visible()
