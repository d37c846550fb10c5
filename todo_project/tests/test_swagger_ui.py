"""Swagger UI in a real (headless) Chromium: authorize with a token, try the list operation, see the user's task."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_django.live_server_helper import LiveServer
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from authjwt.tokens import mint_token
from conftest import ALICE
from tasks.models import Task

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "swagger-ui.png"
# Swagger UI's own markup: operation blocks are "operations-<tag>-<operationId>".
LIST_OPERATION = "#operations-tasks-tasks_list"
LOGOUT = ".auth-container button[aria-label='Remove authorization']"
WAIT_SECONDS = 30


def click(wait: WebDriverWait, selector: str) -> None:
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, selector))).click()


@pytest.mark.django_db(transaction=True)
def test_a_user_authorizes_and_lists_their_tasks_in_swagger_ui(live_server: LiveServer, browser: WebDriver) -> None:
    # The live server answers from another thread, so the task must be committed, not inside a test transaction.
    Task.objects.create(user_id=ALICE, title="Water the plants seen in Swagger UI")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    browser.get(f"{live_server.url}/api/docs/")

    try:
        click(wait, ".auth-wrapper button.authorize")
        token = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container input")))
        token.send_keys(mint_token(ALICE))
        click(wait, ".auth-container button.authorize")
        # Once the token is stored the dialog offers "Logout" in place of "Authorize".
        wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, LOGOUT)))
        click(wait, ".auth-container button.btn-done")
        wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux")))

        click(wait, f"{LIST_OPERATION} .opblock-summary")
        click(wait, f"{LIST_OPERATION} button.try-out__btn")
        user_id = wait.until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, f"{LIST_OPERATION} tr[data-param-name='user_id'] input"))
        )
        user_id.send_keys(ALICE)
        click(wait, f"{LIST_OPERATION} button.execute")

        live_response = f"{LIST_OPERATION} .live-responses-table .response"
        status = wait.until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, f"{live_response} .response-col_status"))
        )
        body = browser.find_element(By.CSS_SELECTOR, f"{live_response} .response-col_description pre")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", body)
        assert status.text.strip() == "200", body.text
        assert "Water the plants seen in Swagger UI" in body.text
        assert f'"user_id": "{ALICE}"' in body.text
    finally:
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
