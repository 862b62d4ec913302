"""The console in headless Chromium: log in, find a pushed item in the log browser, open it in
the content browser, and see it trimmed when searching as a user it is not shared with."""

from __future__ import annotations

from typing import Any

import pytest

from tests.acceptance.conftest import OpenpushServer
from tests.console.conftest import Browser, playwright_api

expect = playwright_api().expect

pytestmark = pytest.mark.acceptance

DOC = "https://console.test/reports/q3"
TEXT = "The console shows quarterly numbers."
SHARED_WITH = "alice@console.test"
NOT_SHARED_WITH = "bob@console.test"


def push_report(server: OpenpushServer) -> str:
    source = server.create_source("console-docs", visibility="SECURED")
    allowed = [{"identity": SHARED_WITH, "identityType": "User"}]
    server.put_document(
        source,
        DOC,
        {
            "title": "Console report",
            "author": "Ann",
            "data": TEXT,
            "permissions": [{"allowedPermissions": allowed}],
        },
    )
    server.wait_for_state(source, DOC, "indexed")
    return source


def search_as(page: Any, user: str | None, query: str) -> None:
    page.get_by_test_id("content-q").fill(query)
    if user is None:
        page.get_by_test_id("content-as-key").check()
    else:
        page.get_by_test_id("content-user").fill(user)
        page.get_by_test_id("content-as-user").check()
    page.get_by_test_id("content-search").click()


def test_log_in_find_the_push_in_the_logs_open_it_and_see_it_trimmed(
    server: OpenpushServer, browser: Browser
) -> None:
    page = browser.page
    page.goto(server.url("/console"))
    page.get_by_test_id("api-key").fill("not-a-key-of-this-server")
    page.get_by_test_id("login").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("unknown or disabled")
    expect(page.get_by_test_id("whoami")).to_be_hidden()
    browser.login(server)

    source = push_report(server)

    # the log browser finds the push, with its reason
    page.get_by_test_id("tab-logs").click()
    page.get_by_test_id("logs-document").fill(DOC)
    page.get_by_test_id("logs-search").click()
    entries = page.get_by_test_id("log-entry")
    expect(entries).to_have_count(1)
    entry = entries.first
    expect(entry).to_have_attribute("data-document-id", DOC)
    expect(entry).to_have_attribute("data-result", "COMPLETED")
    expect(entry.get_by_test_id("log-reason")).to_have_text("indexed")
    expect(entry).to_contain_text("console-docs")  # the source, by name
    expect(entry).to_contain_text("ADD")

    # opened from there in the content browser: metadata, permission model, fields, text
    entry.get_by_test_id("log-document").click()
    expect(page.get_by_test_id("tab-content")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("item-title")).to_have_text("Console report")
    summary = page.get_by_test_id("item-summary")
    expect(summary).to_contain_text(source)
    expect(summary).to_contain_text("indexed")
    expect(page.get_by_test_id("item-metadata")).to_contain_text("Ann")
    model = page.get_by_test_id("permission-model")
    expect(model).to_contain_text(f"allowed: {SHARED_WITH} (User)")
    expect(model).not_to_contain_text(NOT_SHARED_WITH)
    expect(page.get_by_test_id("item-fields")).to_contain_text("console-docs")
    expect(page.get_by_test_id("item-text")).to_have_text(TEXT)

    # as the key (view all content) the query finds it: a miss below is trimming, not the query
    search_as(page, None, "quarterly")
    expect(page.get_by_test_id("content-total")).to_have_attribute("data-total", "1")
    expect(page.locator(f'[data-testid=content-result][data-document-id="{DOC}"]')).to_have_count(1)

    # as a user it is not shared with: hidden, and not counted
    search_as(page, NOT_SHARED_WITH, "quarterly")
    expect(page.get_by_test_id("content-total")).to_contain_text(f"visible to {NOT_SHARED_WITH}")
    expect(page.get_by_test_id("content-total")).to_have_attribute("data-total", "0")
    expect(page.get_by_test_id("content-result")).to_have_count(0)

    # as the user it is shared with: visible
    search_as(page, SHARED_WITH, "quarterly")
    expect(page.get_by_test_id("content-total")).to_contain_text(f"visible to {SHARED_WITH}")
    expect(page.get_by_test_id("content-total")).to_have_attribute("data-total", "1")
    result = page.locator(f'[data-testid=content-result][data-document-id="{DOC}"]')
    expect(result).to_have_count(1)

    # the explain-access verdict agrees, for both users
    result.click()
    expect(page.get_by_test_id("explain-user")).to_have_value(SHARED_WITH)
    page.get_by_test_id("explain-run").click()
    verdict = page.get_by_test_id("explain-verdict")
    expect(verdict).to_have_attribute("data-visible", "true")
    expect(verdict).to_contain_text("VISIBLE")
    page.get_by_test_id("explain-user").fill(NOT_SHARED_WITH)
    page.get_by_test_id("explain-run").click()
    expect(verdict).to_have_attribute("data-visible", "false")
    expect(verdict).to_contain_text("NOT VISIBLE")
    expect(verdict).to_contain_text(NOT_SHARED_WITH)


def test_a_session_survives_a_reload_and_ends_with_logout_or_a_disabled_key(
    server: OpenpushServer, browser: Browser
) -> None:
    page = browser.page
    created = server.http.post(
        server.url(f"/rest/organizations/{server.org}/apikeys"),
        json={
            "displayName": "log reader",
            "privileges": [
                {"owner": "PLATFORM", "targetDomain": "LOGS", "type": "VIEW"},
                {"owner": "PLATFORM", "targetDomain": "SOURCE", "type": "VIEW"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    key = created.json()
    browser.login(server, key["value"])
    expect(page.get_by_test_id("whoami")).to_contain_text("log reader")
    # scoped to the key's privileges: no search, no identities
    expect(page.get_by_test_id("tab-sources")).to_be_enabled()
    expect(page.get_by_test_id("tab-logs")).to_be_enabled()
    expect(page.get_by_test_id("tab-content")).to_be_disabled()
    expect(page.get_by_test_id("tab-identities")).to_be_disabled()
    # the key is kept for the tab only, never in a cookie
    assert page.context.cookies() == []
    stored = page.evaluate("() => sessionStorage.getItem('openpush.console.session')")
    assert key["value"] in stored
    page.reload()
    expect(page.get_by_test_id("whoami")).to_contain_text("log reader")

    disabled = server.http.put(
        server.url(f"/rest/organizations/{server.org}/apikeys/{key['id']}/disable")
    )
    assert disabled.status_code == 200, disabled.text
    page.get_by_test_id("tab-logs").click()  # its next call is refused: back to the login
    expect(page.get_by_test_id("login-error")).to_contain_text("session ended")
    expect(page.get_by_test_id("login-error")).to_contain_text("unknown or disabled")
    expect(page.get_by_test_id("log-entry")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.getItem('openpush.console.session')") is None

    browser.login(server)
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Logged out.")
    expect(page.get_by_test_id("api-key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('openpush.console.session')") is None
    page.reload()
    expect(page.get_by_test_id("api-key")).to_be_visible()
    expect(page.get_by_test_id("whoami")).to_be_hidden()
