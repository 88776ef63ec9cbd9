"""The web page in headless chromium against the live app: key, compare, citation chunk, eval list."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
QUESTION = "How much current does the Osprey 4 draw at full load?"
METHODS = ("rag", "closed-book")  # the two fast ones; long-context and self-route would add minutes


@pytest.fixture(scope="session")
def browser():
    """The system chromium through Playwright; requested before `live_server` so a missing browser skips cheaply."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        pytest.skip("no chromium on PATH")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page (its own sessionStorage) that fails the test on any uncaught script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def enter_key(page, url: str, key: str) -> None:
    page.goto(url + "/")
    page.fill("#key-input", key)
    page.click("#key-save")


def test_compare_two_methods_and_open_a_citation(browser, live_server, page):
    from playwright.sync_api import expect

    enter_key(page, live_server.url, live_server.admin_key)
    expect(page.locator("#collection option[value='docs']")).to_have_count(1)
    page.select_option("#collection", "docs")
    boxes = page.locator("#method-list[data-collection='docs'] input[type=checkbox]")
    expect(boxes.and_(page.locator("[value='rag']"))).to_have_count(1)
    offered = [boxes.nth(i).get_attribute("value") for i in range(boxes.count())]
    assert set(METHODS) <= set(offered), offered
    for i, value in enumerate(offered):
        boxes.nth(i).set_checked(value in METHODS)
    expect(page.locator("#method-list input:checked")).to_have_count(len(METHODS))

    page.fill("#question", QUESTION)
    page.click("#ask")
    cards = page.locator("[data-testid=result-card]")
    expect(cards).to_have_count(len(METHODS), timeout=120_000)
    expect(page.locator("#busy")).to_be_hidden()
    expect(page.locator("[data-testid=card-error]")).to_have_count(0)

    rag = page.locator("[data-testid=result-card][data-method='rag']")
    expect(rag).to_have_count(1)
    expect(page.locator("[data-testid=result-card][data-method='closed-book']")).to_have_count(1)
    assert rag.locator("[data-testid=citation]").count() >= 1
    expect(rag.locator("[data-testid=latency]")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(rag.locator("[data-testid=tokens]")).to_have_text(re.compile(r"^\d+ prompt · \d+ completion$"))

    citation = rag.locator("[data-testid=citation]", has_text="osprey").first
    citation.click()
    expect(page.locator("#chunk-panel")).to_be_visible()
    expect(page.locator("#chunk-text")).to_contain_text("Osprey", timeout=10_000)

    # the eval list renders: a table of runs or the empty note, never an error
    expect(page.locator("#eval-list")).to_be_visible()
    expect(page.locator("#evals-empty:visible, #eval-table:visible")).to_have_count(1)
    expect(page.locator("#evals-empty")).not_to_contain_text("Could not")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)


def test_bad_key_shows_the_error_and_forget_key_clears_it(browser, live_server, page):
    from playwright.sync_api import expect

    enter_key(page, live_server.url, "not-a-key")
    expect(page.locator("#error")).to_contain_text("Key rejected")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('ragkit.key')") is None

    page.fill("#key-input", live_server.admin_key)
    page.click("#key-save")
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#collection option[value='docs']")).to_have_count(1)
    page.reload()  # the key survives a reload of the tab
    expect(page.locator("#collection option[value='docs']")).to_have_count(1)

    page.click("#forget-key")
    expect(page.locator("#key-input")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('ragkit.key')") is None


def test_eval_runs_are_listed_and_a_report_opens_with_its_charts(browser, live_server, page):
    from playwright.sync_api import expect

    from tests.service.test_api import wait_job
    from tests.service.test_jobs_openai import evalset_bytes

    with live_server.client(live_server.admin_key) as c:
        r = c.post("/v1/collections/docs/evals", files={"evalset": ("set.jsonl", evalset_bytes())}, data={"methods": "closed-book"})
        assert wait_job(c, r.json()["url"])["state"] == "succeeded"
    eval_id = r.json()["id"]
    enter_key(page, live_server.url, live_server.admin_key)
    page.select_option("#collection", "docs")
    row = page.locator(f"[data-testid=eval-row][data-eval-id='{eval_id}']")
    expect(row).to_have_count(1, timeout=30_000)
    row.locator("[data-testid=open-report]").click()
    expect(page.locator("#report-view")).to_be_visible()
    frame = page.frame_locator("#report-frame")
    expect(frame.locator("svg").first).to_be_visible(timeout=15_000)
    expect(frame.locator("table").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "web-report.png"), full_page=True)
