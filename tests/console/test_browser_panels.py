"""The console's other panels in headless Chromium: the live log tail with its reasons and
filters, the sources' status and counts, and the identity graph."""

from __future__ import annotations

import pytest

from tests.acceptance.conftest import OpenpushServer
from tests.console.conftest import Browser, playwright_api

expect = playwright_api().expect

pytestmark = pytest.mark.acceptance

P = "ConsoleProvider"
EMAIL = "Email Security Provider"


def push(server: OpenpushServer, source: str, document_id: str, ordering_id: int) -> None:
    response = server.http.put(
        server.push_url(source, "/documents"),
        params={"documentId": document_id, "orderingId": str(ordering_id)},
        json={"data": f"version {ordering_id}"},
    )
    assert response.status_code == 202, response.text


def test_the_live_tail_shows_new_outcomes_and_their_reasons(
    server: OpenpushServer, browser: Browser
) -> None:
    page = browser.page
    source = server.create_source("tail-docs", visibility="SHARED")
    other = server.create_source("tail-other", visibility="SHARED")
    browser.login(server)
    page.get_by_test_id("tab-logs").click()
    page.get_by_test_id("logs-source").select_option(source)
    page.get_by_test_id("logs-tail").check()
    expect(page.get_by_test_id("logs-status")).to_contain_text("live: polled")
    expect(page.get_by_test_id("log-entry")).to_have_count(0)

    # pushed after the tail started: the rows arrive without another click
    doc = "https://tail.test/a"
    push(server, source, doc, 10)
    push(server, source, doc, 5)  # older than what the item holds: SKIPPED, and why
    push(server, other, "https://tail.test/elsewhere", 1)  # another source: filtered out
    skipped = page.locator('[data-testid=log-entry][data-result="SKIPPED"]')
    expect(skipped).to_have_count(1)
    expect(skipped.get_by_test_id("log-reason")).to_contain_text("orderingId 10")
    completed = page.locator('[data-testid=log-entry][data-result="COMPLETED"]')
    expect(completed).to_have_count(1)
    expect(completed).to_contain_text(doc)
    expect(page.get_by_test_id("log-entry")).to_have_count(2)
    # newest on top
    expect(page.get_by_test_id("log-entry").first).to_have_attribute("data-result", "SKIPPED")

    # a later push shows up too, once
    push(server, source, "https://tail.test/b", 20)
    expect(page.get_by_test_id("log-entry")).to_have_count(3)
    page.wait_for_timeout(2500)  # a few more polls: nothing is repeated
    expect(page.get_by_test_id("log-entry")).to_have_count(3)

    # the result filter, without the tail
    page.get_by_test_id("logs-tail").uncheck()
    page.get_by_test_id("logs-result").select_option("SKIPPED")
    page.get_by_test_id("logs-search").click()
    expect(page.get_by_test_id("log-entry")).to_have_count(1)
    expect(page.get_by_test_id("log-entry").first).to_have_attribute("data-result", "SKIPPED")


def test_sources_show_status_activity_and_item_counts(
    server: OpenpushServer, browser: Browser
) -> None:
    page = browser.page
    source = server.create_source("counted-docs", visibility="SHARED")
    for number in range(2):
        server.put_document(source, f"https://count.test/{number}", {"data": "x"})
    server.wait_for_all(source, [f"https://count.test/{n}" for n in range(2)], "indexed")
    started = server.http.post(server.push_url(source, "/status"), params={"statusType": "REBUILD"})
    assert started.status_code == 201, started.text

    browser.login(server)
    page.get_by_test_id("tab-sources").click()
    row = page.locator(f'#sources-rows tr[data-source-id="{source}"]')
    expect(row).to_contain_text("counted-docs")
    expect(row.get_by_test_id("source-items")).to_have_text("2")
    expect(row).to_contain_text("REFRESHING")
    expect(row).to_contain_text("REBUILD")
    row.click()
    detail = page.get_by_test_id("source-detail")
    expect(detail).to_contain_text("Recent history")
    expect(detail).to_contain_text("https://count.test/0")
    expect(detail).to_contain_text("https://count.test/1")

    # the panel refreshes by itself: a third item and the end of the rebuild show up
    server.put_document(source, "https://count.test/2", {"data": "x"})
    server.wait_for_state(source, "https://count.test/2", "indexed")
    idle = server.http.post(server.push_url(source, "/status"), params={"statusType": "IDLE"})
    assert idle.status_code == 201, idle.text
    expect(row.get_by_test_id("source-items")).to_have_text("3")
    expect(row).to_contain_text("IDLE")
    expect(detail).to_contain_text("https://count.test/2")


def identity(server: OpenpushServer, path: str, body: dict) -> None:
    response = server.http.put(
        server.url(f"/push/v1/organizations/{server.org}/providers/{P}/{path}"), json=body
    )
    assert response.status_code == 202, response.text


def test_identities_members_parents_and_aliases(server: OpenpushServer, browser: Browser) -> None:
    page = browser.page
    created = server.http.post(
        server.url(f"/rest/organizations/{server.org}/securityproviders"),
        json={"id": P, "type": "EXPANDED", "cascadingSecurityProviders": {EMAIL: {"id": EMAIL}}},
    )
    assert created.status_code == 201, created.text
    alice = {"name": "alice", "type": "USER"}
    eng = {"name": "Eng", "type": "GROUP"}
    identity(server, "permissions", {"identity": eng, "members": [alice]})
    identity(server, "mappings", {"identity": alice, "mappings": [{"name": "alice@id.test"}]})
    url = server.url(f"/rest/organizations/{server.org}/securitycache/entities/{P}")
    for _ in range(300):
        if server.http.get(url).json()["totalEntries"] >= 2:
            break
        page.wait_for_timeout(50)

    browser.login(server)
    page.get_by_test_id("tab-identities").click()
    page.get_by_test_id("identities-provider").select_option(P)
    expect(page.get_by_test_id("identity-row")).to_have_count(2)
    page.locator('[data-testid=identity-row][data-name="Eng"]').click()
    detail = page.get_by_test_id("identity-detail")
    expect(detail.get_by_test_id("identity-children")).to_contain_text("alice")
    expect(detail.get_by_test_id("identity-parents")).to_have_text("none")

    # follow the member: its parents and its alias
    detail.get_by_test_id("identity-children").get_by_role("button", name="alice").click()
    expect(detail.get_by_test_id("identity-parents")).to_contain_text("Eng")
    aliases = detail.get_by_test_id("identity-aliases")
    expect(aliases).to_contain_text("alice@id.test")
    expect(aliases).to_contain_text(EMAIL)
    expect(detail.get_by_test_id("identity-children")).to_have_text("none")
