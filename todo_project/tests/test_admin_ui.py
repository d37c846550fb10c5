"""The admin as a support engineer sees it, in a real (headless) Chromium: its title, its forbidden page, the tags
field, a recurring task's rule and a task's history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.test import Client
from pytest_django.live_server_helper import LiveServer
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ALICE, BOB
from tasks.models import Task

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_SECONDS = 30

# The live server answers from another thread: what it reads must be committed, not inside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def support(live_server: LiveServer, browser: WebDriver, django_user_model: type[AbstractUser]) -> Iterator[WebDriver]:
    """The browser, signed in as a member of the Support group."""
    # A transactional test's flush empties the group the migration created; the permissions come back with it.
    group, _ = Group.objects.get_or_create(name="Support")
    group.permissions.set(Permission.objects.filter(codename__in=["view_task", "change_task"]))
    user = django_user_model.objects.create_user("sam", is_staff=True)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    # A cookie is set for the page's site: open one of the server's first.
    browser.get(f"{live_server.url}/admin/login/")
    browser.add_cookie(
        {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}
    )
    yield browser


def screenshot(browser: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"admin-{name}.png"))


def text_of(browser: WebDriver, selector: str) -> str:
    return (
        WebDriverWait(browser, WAIT_SECONDS).until(EC.visibility_of_element_located((By.CSS_SELECTOR, selector))).text
    )


def test_the_admin_is_titled_as_the_task_apis_admin(live_server: LiveServer, support: WebDriver) -> None:
    support.get(f"{live_server.url}/admin/")

    assert text_of(support, "#site-name") == "Task API administration"
    assert support.title == "Site administration | Task API admin"


def test_a_page_support_may_not_open_is_the_admins_forbidden_page(live_server: LiveServer, support: WebDriver) -> None:
    support.get(f"{live_server.url}/admin/auth/user/")
    screenshot(support, "forbidden")

    assert support.title == "Forbidden | Task API admin"
    assert text_of(support, "#site-name") == "Task API administration"
    assert text_of(support, "#content .errornote") == "You do not have permission to open this page."


def test_tags_are_typed_comma_separated_and_the_history_shows_old_and_new_values(
    live_server: LiveServer, support: WebDriver
) -> None:
    task = Task.objects.create(user_id=ALICE, title="Pay the rent", tags=["home"])
    change_page = f"{live_server.url}/admin/tasks/task/{task.pk}/change/"
    support.get(change_page)

    tags = support.find_element(By.NAME, "tags")
    tags.clear()
    tags.send_keys("rent, " + "x" * 51)
    support.find_element(By.NAME, "_continue").click()
    error = text_of(support, ".field-tags .errorlist")
    screenshot(support, "tags-error")
    assert error == "A tag is 1 to 50 characters, not all blank, without control characters."

    tags = support.find_element(By.NAME, "tags")
    tags.clear()
    tags.send_keys("rent, urgent")
    support.find_element(By.NAME, "_continue").click()
    text_of(support, ".messagelist .success")
    assert support.find_element(By.NAME, "tags").get_attribute("value") == "rent, urgent"
    task.refresh_from_db()
    assert task.tags == ["rent", "urgent"]

    support.get(f"{live_server.url}/admin/tasks/task/{task.pk}/history/")
    screenshot(support, "history")
    assert text_of(support, "#change-history tbody tr td:last-child") == "Tags: home → rent, urgent."


def test_a_user_id_is_read_on_one_line_and_a_click_lists_only_that_users_tasks(
    live_server: LiveServer, support: WebDriver
) -> None:
    support.set_window_size(1280, 900)
    Task.objects.create(user_id=ALICE, title="Water the plants on the balcony before the heat of the afternoon")
    bobs = Task.objects.create(user_id=BOB, title="Fix the fence")
    support.get(f"{live_server.url}/admin/tasks/task/")
    screenshot(support, "list")

    alice = support.find_element(By.LINK_TEXT, ALICE)
    line_height = float(support.execute_script("return parseFloat(getComputedStyle(arguments[0]).lineHeight)", alice))
    assert alice.size["height"] < 1.5 * line_height, "the user id is broken over lines"

    support.find_element(By.LINK_TEXT, BOB).click()
    WebDriverWait(support, WAIT_SECONDS).until(EC.url_contains("user_id="))
    assert [row.text for row in support.find_elements(By.CSS_SELECTOR, "#result_list tbody .field-title")] == [
        bobs.title
    ]


def test_a_rule_is_typed_read_back_in_words_and_an_occurrence_completed(
    live_server: LiveServer, support: WebDriver
) -> None:
    task = Task.objects.create(user_id=ALICE, title="Stand-up notes", due_date=datetime(2030, 1, 7, 8, 0, tzinfo=UTC))
    change_page = f"{live_server.url}/admin/tasks/task/{task.pk}/change/"
    support.get(change_page)

    rule = support.find_element(By.NAME, "recurrence")
    rule.send_keys("freq=weekly;byday=mo,tu,we,th,fr;byhour=9;byminute=0")
    Select(support.find_element(By.NAME, "timezone")).select_by_value("Europe/Berlin")
    support.find_element(By.NAME, "_continue").click()
    text_of(support, ".messagelist .success")
    screenshot(support, "recurrence")

    assert support.find_element(By.NAME, "recurrence").get_attribute("value") == (
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0"
    )
    assert text_of(support, ".field-recurrence .help").startswith("In words: Every weekday at 09:00, in Europe/Berlin.")

    support.find_element(By.NAME, "completed").click()
    support.find_element(By.NAME, "_continue").click()
    text_of(support, ".messagelist .success")
    task.refresh_from_db()
    assert (task.completed, task.completions, task.due_date) == (False, 1, datetime(2030, 1, 8, 8, 0, tzinfo=UTC))
    assert not support.find_element(By.NAME, "completed").is_selected()
