"""The docs pages, in a real (headless) Chromium, load nothing from outside the machine that serves them."""

from __future__ import annotations

import json

import pytest
from pytest_django.live_server_helper import LiveServer
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT_SECONDS = 30
# What each page shows once it has rendered the schema.
RENDERED = {
    "/api/redoc/": (By.XPATH, "//h2[contains(., 'List tasks')]"),
    "/api/docs/": (By.CSS_SELECTOR, "#operations-tasks-tasks_list"),
}


def requested_urls(browser: WebDriver, origin: str) -> list[str]:
    """Every URL a document from ``origin`` fetched, from Chromium's network log: not the requests the browser
    blocked before sending (the page's Content-Security-Policy), nor the browser's own start page's."""
    messages = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    blocked = {
        message["params"]["requestId"]
        for message in messages
        if message["method"] == "Network.loadingFailed" and message["params"].get("blockedReason")
    }
    return [
        message["params"]["request"]["url"]
        for message in messages
        if message["method"] == "Network.requestWillBeSent"
        and message["params"].get("documentURL", "").startswith(f"{origin}/")
        and message["params"]["requestId"] not in blocked
    ]


@pytest.mark.parametrize("page", RENDERED)
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_loads_everything_from_this_server(
    live_server: LiveServer, browser: WebDriver, page: str
) -> None:
    browser.get(f"{live_server.url}{page}")
    WebDriverWait(browser, WAIT_SECONDS).until(EC.visibility_of_element_located(RENDERED[page]))

    urls = requested_urls(browser, live_server.url)
    assert f"{live_server.url}{page}" in urls
    assert f"{live_server.url}/api/schema/docs/" in urls
    # data: URLs are inline in the page's own files: they fetch nothing.
    elsewhere = [url for url in urls if not url.startswith((f"{live_server.url}/", "data:"))]
    assert elsewhere == []


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_lists_the_task_schemas_first(live_server: LiveServer, browser: WebDriver) -> None:
    browser.get(f"{live_server.url}/api/docs/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(EC.visibility_of_element_located(RENDERED["/api/docs/"]))

    models = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, "section.models .model-container")))

    assert [model.get_attribute("id") for model in models[:2]] == ["model-Task", "model-TaskRequest"]
