"""Model and version pages as each kind of person sees them, edits made in the browser, and
what a hostile value or a forged form can do there (nothing)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from support.browser import Cast, sign_in
from support.governance import audit_records
from support.servers import RunningServer

UC = "/api/2.1/unity-catalog"


def test_the_owner_edits_description_tags_and_aliases_and_each_edit_is_audited_as_the_api_call(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    page.goto(f"/m/{cast.model}")
    page.click("summary:has-text('Edit description')")
    page.fill("#comment", "Predicts **churn** within 30 days.")
    page.click("button:has-text('Save description')")
    expect(page.locator(".notice")).to_have_text("Description saved.")
    expect(page.locator(".description strong")).to_have_text("churn")

    page.fill("input[name=key]", "team")
    page.fill("input[name=value]", "risk")
    page.click("button:has-text('Set tag')")
    expect(page.locator(".notice")).to_have_text("Tag saved.")
    expect(page.locator("table.kv").first).to_contain_text("risk")

    page.fill("input[name=alias]", "champion")
    page.fill("input[name=version]", "2")
    page.click("button:has-text('Set alias')")
    expect(page.locator(".notice")).to_have_text("Alias set.")
    model = admin_api.get(f"{UC}/models/{cast.model}").json()
    assert model["comment"] == "Predicts **churn** within 30 days."
    assert {a["alias_name"]: a["version_num"] for a in model["aliases"]} == {"champion": 2}

    page.click("button[aria-label='Delete alias champion']")
    expect(page.locator(".notice")).to_have_text("Alias removed.")
    assert admin_api.get(f"{UC}/models/{cast.model}").json().get("aliases", []) == []

    records = audit_records(admin_api, principal=cast.owner.name, securable=cast.model)
    actions = [r["action"] for r in records if r["outcome"] == "ok"]
    for action in (
        "updateRegisteredModel",
        "updateRegisteredModelTags",
        "setRegisteredModelAlias",
        "deleteRegisteredModelAlias",
    ):
        assert action in actions, actions


def test_with_scripts_an_edit_changes_its_own_section_and_leaves_the_rest_of_the_page_alone(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    page.goto(f"/m/{cast.model}")
    # Typed but not sent: a page loaded anew would have lost it.
    page.fill("#q", "half-typed search")
    page.fill("input[name=key]", "team")
    page.fill("input[name=value]", "risk")
    page.click("button:has-text('Set tag')")
    expect(page.locator(".notice")).to_have_text("Tag saved.")
    expect(page.locator("#tags table.kv")).to_contain_text("risk")
    expect(page.locator("#q")).to_have_value("half-typed search")
    assert page.url == f"{web_server.url}/m/{cast.model}"

    # Setting an alias also changes the aliases shown above the tabs and in the versions table.
    page.fill("input[name=alias]", "champion")
    page.fill("input[name=version]", "2")
    page.click("button:has-text('Set alias')")
    expect(page.locator(".notice")).to_have_text("Alias set.")
    expect(page.locator("#model-meta")).to_contain_text("@champion")
    expect(page.locator("#newest-versions")).to_contain_text("@champion")
    expect(page.locator("#q")).to_have_value("half-typed search")

    # A refused edit shows its rule by its field, in place too.
    page.fill("input[name=alias]", "latest")
    page.fill("input[name=version]", "1")
    page.click("button:has-text('Set alias')")
    expect(page.locator("#alias-error")).to_contain_text("latest")
    expect(page.locator("#q")).to_have_value("half-typed search")


def test_without_scripts_pages_read_and_edits_work_as_plain_forms(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner, java_script_enabled=False)
    page.goto(f"/m/{cast.model}?tab=versions")
    expect(page.locator("table.versions tbody tr")).to_have_count(2)
    page.goto(f"/m/{cast.model}")
    page.fill("input[name=key]", "stage")
    page.fill("input[name=value]", "plain")
    page.click("button:has-text('Set tag')")
    expect(page.locator(".notice")).to_have_text("Tag saved.")
    assert "done=" in page.url
    tags = admin_api.get(f"{UC}/models/{cast.model}").json().get("tags", [])
    assert {"key": "stage", "value": "plain"} in tags


def test_an_invalid_tag_key_shows_the_rule_next_to_the_field_and_changes_nothing(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    page.goto(f"/m/{cast.model}")
    page.fill("input[name=key]", "a" * 300)
    page.fill("input[name=value]", "x")
    page.evaluate("document.querySelector('input[name=key]').removeAttribute('maxlength')")
    page.fill("input[name=key]", "a" * 300)
    page.click("button:has-text('Set tag')")
    expect(page.locator("#tag-error")).to_contain_text("key")
    expect(page.locator("input[name=key]")).to_have_attribute("aria-invalid", "true")
    assert admin_api.get(f"{UC}/models/{cast.model}").json().get("tags", {}) in ({}, [])


def test_an_alias_on_a_missing_version_is_refused_next_to_the_alias_field(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    page.goto(f"/m/{cast.model}")
    page.fill("input[name=alias]", "champion")
    page.fill("input[name=version]", "99")
    page.click("button:has-text('Set alias')")
    expect(page.locator("#alias-error")).to_contain_text("99")


def test_a_reader_with_execute_sees_the_model_and_no_control_to_change_it(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.goto(f"/m/{cast.model}")
    expect(page.locator("h1")).to_have_text(cast.model)
    expect(page.locator("table.versions tbody tr")).to_have_count(2)
    for control in ("Edit description", "Set tag", "Set alias", "Transfer"):
        expect(page.get_by_text(control, exact=True)).to_have_count(0)
    page.goto(f"/m/{cast.model}?tab=permissions")
    expect(page.get_by_role("button", name="Grant")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Only the owner, holders of MANAGE")


def test_a_forged_post_from_a_reader_is_refused_even_with_a_valid_token(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.goto(f"/m/{cast.model}")
    csrf = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    answer = page.request.post(
        f"/m/{cast.model}/aliases",
        form={"csrf_token": csrf, "alias": "champion", "version": "1"},
        headers={"Origin": web_server.url},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "MANAGE" in answer.text() or "ownership" in answer.text()
    assert admin_api.get(f"{UC}/models/{cast.model}").json().get("aliases", []) == []


def test_a_principal_with_no_grants_sees_no_catalog_and_the_model_as_not_found(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.nobody)
    catalog = cast.model.split(".")[0]
    expect(page.locator("main")).not_to_contain_text(catalog)
    answer = page.goto(f"/m/{cast.model}")
    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("Not found")


def _session_client(page: Page, server: RunningServer) -> httpx.Client:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return httpx.Client(base_url=server.url, cookies=cookies, follow_redirects=False)


def test_a_form_post_without_the_anti_forgery_token_or_from_another_site_is_refused(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    page.goto(f"/m/{cast.model}")
    csrf = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    with _session_client(page, web_server) as client:
        missing = client.post(f"/m/{cast.model}/aliases", data={"alias": "a", "version": "1"})
        wrong = client.post(
            f"/m/{cast.model}/aliases", data={"csrf_token": "x" * 43, "alias": "a", "version": "1"}
        )
        elsewhere = client.post(
            f"/m/{cast.model}/aliases",
            data={"csrf_token": csrf, "alias": "a", "version": "1"},
            headers={"Origin": "https://evil.example"},
        )
        same_site = client.post(
            f"/m/{cast.model}/aliases",
            data={"csrf_token": csrf, "alias": "a", "version": "1"},
            headers={"Origin": web_server.url},
        )
    assert (missing.status_code, wrong.status_code, elsewhere.status_code) == (403, 403, 403)
    assert "anti-forgery" in missing.text
    assert same_site.status_code == 303
    aliases = admin_api.get(f"{UC}/models/{cast.model}").json()["aliases"]
    assert [a["alias_name"] for a in aliases] == ["a"]


HOSTILE = [
    "<script>window.__owned = 1</script>",
    '"><img src=x onerror="window.__owned = 1">',
    "[click me](javascript:window.__owned=1)",
    "<svg onload=window.__owned=1>",
]


@pytest.mark.parametrize("value", HOSTILE, ids=["script", "img-onerror", "js-link", "svg"])
def test_a_hostile_value_in_a_description_or_tag_renders_as_text(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast, value: str
) -> None:
    admin_api.patch(f"{UC}/models/{cast.model}", json={"comment": value}).raise_for_status()
    admin_api.patch(
        f"{UC}/securable-tags/registered_model/{cast.model}",
        json={"changes": {"add_tags": [{"key": "note", "value": value}]}},
    ).raise_for_status()
    page = sign_in(browser, web_server, cast.owner)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for address in (f"/m/{cast.model}", "/search?q=note", f"/m/{cast.model}/v/1"):
        page.goto(address)
        assert page.evaluate("window.__owned") is None
        assert page.locator("main script, main img[onerror], main svg").count() == 0
        hrefs = page.locator("main a").evaluate_all("links => links.map(a => a.href)")
        assert not [h for h in hrefs if h.lower().startswith("javascript:")]
    assert dialogs == []


def test_every_page_sends_a_strict_content_security_policy_and_refuses_framing(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.owner)
    for address in ("/", f"/m/{cast.model}", f"/m/{cast.model}/v/1", "/search?q=x", "/signin"):
        answer = page.goto(address)
        assert answer is not None
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"


def test_search_finds_a_model_by_tag_value_and_says_why(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    admin_api.patch(
        f"{UC}/securable-tags/registered_model/{cast.model}",
        json={"changes": {"add_tags": [{"key": "domain", "value": "heliotrope-7"}]}},
    ).raise_for_status()
    page = sign_in(browser, web_server, cast.reader)
    page.fill("#q", "heliotrope")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r".*/search\?q=heliotrope"))
    row = page.locator("table.listing tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(cast.model)
    expect(row.locator(".reason")).to_have_text(["tag value"])
    # Someone who may not see the model does not find it either.
    other = sign_in(browser, web_server, cast.nobody)
    other.goto("/search?q=heliotrope")
    expect(other.locator("table.listing")).to_have_count(0)


def test_a_version_page_shows_its_signature_files_and_a_download_that_works(
    browser: Browser, web_server: RunningServer, cast: Cast, tmp_path: Path
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    page.goto(f"/m/{cast.model}/v/1")
    expect(page.locator("caption", has_text="Inputs")).to_be_visible()
    expect(page.locator("table.kv").first).to_contain_text("double")
    link = page.get_by_role("link", name="MLmodel")
    href = link.get_attribute("href")
    assert href is not None
    answer = page.request.get(href)
    assert answer.status == 200
    assert "signature" in answer.text()


def test_a_copied_version_shows_where_it_came_from_and_who_read_it(
    browser: Browser, web_server: RunningServer, cast: Cast, admin_api: httpx.Client
) -> None:
    catalog, schema, _ = cast.model.split(".")
    ok = admin_api.post(
        f"{UC}/models", json={"catalog_name": catalog, "schema_name": schema, "name": "promoted"}
    )
    ok.raise_for_status()
    copied = admin_api.post(
        f"{UC}/models/versions",
        json={
            "catalog_name": catalog,
            "schema_name": schema,
            "model_name": "promoted",
            "source": f"models:/{cast.model}/1",
        },
    )
    copied.raise_for_status()
    reported = admin_api.post(
        "/api/2.0/mlflow/unity-catalog/model-versions/emit-lineage",
        json={
            "name": f"{catalog}.{schema}.promoted",
            "version": "1",
            "model_version_lineage_info": {
                "entities": [{"job": {"id": "4711", "job_run_id": "99"}}],
                "direction": "DOWNSTREAM",
            },
        },
    )
    reported.raise_for_status()

    page = sign_in(browser, web_server, cast.admin)
    page.goto(f"/m/{catalog}.{schema}.promoted/v/1")
    lineage = page.locator("section", has=page.locator("#lineage-h"))
    expect(lineage).to_contain_text("Read by")
    expect(lineage).to_contain_text("job 4711 (run 99)")
    page.get_by_role("link", name=f"{cast.model} version 1").click()
    expect(page).to_have_url(re.compile(rf"/m/{re.escape(cast.model)}/v/1$"))


def test_a_search_filter_out_of_its_values_is_refused_with_the_allowed_ones(
    browser: Browser, web_server: RunningServer, cast: Cast
) -> None:
    page = sign_in(browser, web_server, cast.reader)
    answer = page.goto("/search?deployment=DEPLOYED")
    assert answer is not None and answer.status == 400
    expect(page.locator("main [role=alert]")).to_contain_text("APPROVAL")


def test_a_catalog_and_a_schema_are_edited_by_who_manages_them_and_no_one_else(
    browser: Browser, web_server: RunningServer, admin_api: httpx.Client, cast: Cast
) -> None:
    catalog = cast.model.split(".")[0]
    admin = sign_in(browser, web_server, cast.admin)
    admin.goto(f"/c/{catalog}")
    admin.click("summary:has-text('Edit description')")
    admin.fill("#comment", "Models of the **risk** team.")
    admin.click("button:has-text('Save description')")
    expect(admin.locator(".notice")).to_have_text("Description saved.")
    expect(admin.locator(".description strong")).to_have_text("risk")
    admin.goto(f"/c/{catalog}/ml")
    admin.get_by_label("Transfer ownership to").fill(cast.owner.name)
    admin.get_by_role("button", name="Transfer").click()
    expect(admin.locator(".notice")).to_have_text("Owner changed.")
    assert admin_api.get(f"{UC}/schemas/{catalog}.ml").json()["owner"] == cast.owner.name
    assert admin_api.get(f"{UC}/catalogs/{catalog}").json()["comment"] == (
        "Models of the **risk** team."
    )
    reader = sign_in(browser, web_server, cast.reader)
    for address in (f"/c/{catalog}", f"/c/{catalog}/ml"):
        reader.goto(address)
        expect(reader.get_by_text("Edit description", exact=True)).to_have_count(0)
        expect(reader.get_by_role("button", name="Transfer")).to_have_count(0)
