"""The admin for support staff, used through HTTP as a Support member (or a superuser where stated)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import ALICE, BOB
from tasks import services
from tasks.admin import CappedCountPaginator, TaskForm
from tasks.models import Priority, Task, TaskChangeCounter

CHANGELIST = reverse("admin:tasks_task_changelist")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def change_url(task: Task) -> str:
    return reverse("admin:tasks_task_change", args=[task.pk])


def listing_of(client: Client) -> str:
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    return response.content.decode()


def listed(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [task.id for task in response.context["cl"].result_list]


@pytest.fixture
def superuser(client: Client, django_user_model: type[AbstractUser]) -> Client:
    client.force_login(django_user_model.objects.create_superuser("root"))
    return client


# The Support group and its migration


def test_support_group_has_exactly_view_and_change_task(db: None) -> None:
    group = Group.objects.get(name="Support")

    assert {(p.content_type.app_label, p.codename) for p in group.permissions.all()} == {
        ("tasks", "view_task"),
        ("tasks", "change_task"),
    }


def test_support_group_migration_creates_missing_permissions_and_reverses(db: None) -> None:
    migration = import_module("tasks.migrations.0002_support_group")
    historical_apps = MigrationExecutor(connection).loader.project_state(("tasks", "0002_support_group")).apps
    # The functions read only the schema editor's connection.
    schema_editor = SimpleNamespace(connection=connection)

    migration.delete_support_group(historical_apps, schema_editor)
    assert not Group.objects.filter(name="Support").exists()

    # As on a fresh database, where post_migrate has not created the permissions yet.
    Permission.objects.filter(content_type__app_label="tasks").delete()
    migration.create_support_group(historical_apps, schema_editor)

    codenames = Group.objects.get(name="Support").permissions.values_list("codename", flat=True)
    assert sorted(codenames) == ["change_task", "view_task"]


def test_staff_outside_the_support_group_cannot_see_tasks(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    client.force_login(django_user_model.objects.create_user("visitor", is_staff=True))

    assert client.get(CHANGELIST).status_code == 403


# The list


def test_list_shows_every_task_newest_first_deleted_ones_included(
    support: Client, make_task: Callable[..., Task]
) -> None:
    older = make_task(title="older")
    deleted = make_task(title="deleted", user_id=BOB)
    services.task_soft_delete(tasks=Task.objects.filter(pk=deleted.pk))
    newer = make_task(title="newer")

    assert listed(support.get(CHANGELIST)) == [newer.id, deleted.id, older.id]


def test_list_shows_the_support_columns_and_links_id_and_title(support: Client, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Water the plants")

    response = support.get(CHANGELIST)

    changelist = response.context["cl"]
    assert changelist.list_display == [
        "action_checkbox",
        "id",
        "title",
        "owner",
        "completed",
        "completed_time",
        "priority",
        "due",
        "repeats",
        "tag_list",
        "parent_link",
        "subtasks",
        "position",
        "created",
        "deleted",
    ]
    assert changelist.list_display_links == ["id", "title"]
    assert response.content.decode().count(f'href="{change_url(task)}"') == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", {"live", "deleted"}), ("?status=live", {"live"}), ("?status=deleted", {"deleted"})],
    ids=["all", "live", "deleted"],
)
def test_status_filter_shows_live_or_deleted_tasks(
    support: Client, make_task: Callable[..., Task], query: str, expected: set[str]
) -> None:
    make_task(title="live")
    services.tasks_soft_delete(tasks=Task.objects.filter(pk=make_task(title="deleted").pk))

    response = support.get(CHANGELIST + query)

    assert response.status_code == 200
    assert {task.title for task in response.context["cl"].result_list} == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?completed__exact=1", {"done"}),
        ("?completed__exact=0", {"urgent", "someday"}),
        (f"?priority__exact={Priority.HIGH}", {"urgent"}),
        (f"?priority__exact={Priority.LOW}&completed__exact=1", {"done"}),
    ],
)
def test_filters_by_completion_and_priority(
    support: Client, make_task: Callable[..., Task], query: str, expected: set[str]
) -> None:
    make_task(title="done", completed=True, priority=Priority.LOW)
    make_task(title="urgent", priority=Priority.HIGH)
    make_task(title="someday", priority=Priority.LOW)

    response = support.get(CHANGELIST + query)

    assert response.status_code == 200
    assert {task.title for task in response.context["cl"].result_list} == expected


@pytest.mark.parametrize("user_id", [ALICE, BOB])
def test_search_finds_a_users_tasks_by_their_exact_id(
    support: Client, make_task: Callable[..., Task], user_id: str
) -> None:
    mine = make_task(user_id=user_id, title="mine")
    make_task(user_id=f"{user_id}-impostor", title="longer id")
    make_task(user_id=user_id[:-1], title="shorter id")

    assert listed(support.get(CHANGELIST, {"q": user_id})) == [mine.id]


def test_search_never_matches_part_of_a_user_id(support: Client, make_task: Callable[..., Task]) -> None:
    make_task(user_id=ALICE)

    assert listed(support.get(CHANGELIST, {"q": "alice"})) == []


def test_search_finds_tasks_by_title_words_in_any_case(support: Client, make_task: Callable[..., Task]) -> None:
    plants = make_task(title="Water the Plants", user_id=BOB)
    make_task(title="Water the lawn")

    assert listed(support.get(CHANGELIST, {"q": "water plants"})) == [plants.id]


# The change form


def test_change_form_keeps_owner_and_timestamps_read_only(support: Client, make_task: Callable[..., Task]) -> None:
    adminform = support.get(change_url(make_task())).context["adminform"]

    assert set(adminform.form.fields) == {
        "title",
        "description",
        "completed",
        "priority",
        "due_date",
        "tags",
        "parent",
        "recurrence",
        "timezone",
        "rendered_version",
    }
    assert set(adminform.readonly_fields) == {
        "user_id",
        "created",
        "updated",
        "completed_time",
        "deleted",
        "subtasks",
        "completions",
        "position",
    }


def test_support_can_fix_a_task_and_the_change_is_logged(
    support: Client, support_user: AbstractUser, make_task: Callable[..., Task]
) -> None:
    task = make_task(title="Wter the plants")

    response = support.post(
        change_url(task),
        {
            "title": "Water the plants",
            "description": "",
            "completed": "on",
            "priority": Priority.HIGH,
            "due_date_0": "2026-12-01",
            "due_date_1": "09:30:00",
            "timezone": "UTC",
            "user_id": BOB,  # read-only: ignored
            "rendered_version": task.version,
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.completed, task.priority) == ("Water the plants", True, Priority.HIGH)
    assert task.user_id == ALICE
    entry = LogEntry.objects.get(object_id=str(task.pk))
    assert (entry.user, entry.action_flag) == (support_user, CHANGE)
    # Every old value, to undo a mistaken save from the history alone.
    assert entry.get_change_message() == (
        "Title: “Wter the plants” → “Water the plants”. Completed: no → yes. Priority: medium → high. "
        "Due date: (empty) → 2026-12-01 09:30:00 UTC."
    )
    history = support.get(reverse("admin:tasks_task_history", args=[task.pk]))
    assert html.escape(entry.get_change_message(), quote=False) in history.content.decode()


def test_a_superuser_can_add_a_task_for_a_user(superuser: Client) -> None:
    response = superuser.post(
        reverse("admin:tasks_task_add"),
        {
            "user_id": BOB,
            "title": "Call back",
            "description": "",
            "priority": Priority.MEDIUM,
            "timezone": "UTC",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    task = Task.objects.get(title="Call back")
    assert task.user_id == BOB
    assert LogEntry.objects.get(object_id=str(task.pk)).action_flag == ADDITION


# Deleting


def test_support_cannot_hard_delete_a_task(support: Client, make_task: Callable[..., Task]) -> None:
    task = make_task()
    delete_url = reverse("admin:tasks_task_delete", args=[task.pk])

    assert support.get(delete_url).status_code == 403
    assert support.post(delete_url, {"post": "yes"}).status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


def test_a_hard_delete_by_a_superuser_goes_through_the_purge_service(
    superuser: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    seen = Task.objects.get(pk=task.pk).change_seq

    superuser.post(reverse("admin:tasks_task_delete", args=[task.pk]), {"post": "yes"})

    assert not Task.objects.filter(pk=task.pk).exists()
    assert TaskChangeCounter.objects.get(pk=task.user_id).purged_seq > seen  # its deletion counted too


def test_no_one_can_hard_delete_tasks_from_the_list(superuser: Client, make_task: Callable[..., Task]) -> None:
    task = make_task()

    choices = [name for name, _ in superuser.get(CHANGELIST).context["action_form"].fields["action"].choices]
    superuser.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [task.pk], "post": "yes"})

    assert choices == ["", "mark_complete", "mark_incomplete", "soft_delete", "restore"]
    assert Task.objects.filter(pk=task.pk).exists()


# The actions


def utc(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


@pytest.mark.parametrize(
    ("action", "before", "after", "is_done", "message"),
    [
        (
            "mark_complete",
            {"completed": False},
            {"completed": True},
            lambda task: task.completed,
            lambda task: "Marked complete. Completed: no → yes.",
        ),
        (
            "mark_incomplete",
            {"completed": True},
            {},
            lambda task: not task.completed,
            lambda task: "Marked incomplete. Completed: yes → no.",
        ),
        (
            "soft_delete",
            {},
            {"deleted_at": LONG_AGO},
            lambda task: task.deleted_at is not None,
            lambda task: f"Soft-deleted. Deleted at: (empty) → {utc(task.deleted_at)}.",
        ),
        (
            "restore",
            {"deleted_at": LONG_AGO},
            {},
            lambda task: task.deleted_at is None,
            lambda task: "Restored. Deleted at: 2020-01-01 00:00:00 UTC → (empty).",
        ),
    ],
)
def test_actions_change_the_selected_tasks_and_log_each_change(
    support: Client,
    support_user: AbstractUser,
    make_task: Callable[..., Task],
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
    is_done: Callable[[Task], bool],
    message: Callable[[Task], str],
) -> None:
    selected = [make_task(title="one", **before), make_task(title="two", user_id=BOB, **before)]
    already_done = make_task(title="already done", **after)
    untouched = make_task(title="not selected", **before)
    Task.objects.update(updated_at=LONG_AGO)

    response = support.post(
        CHANGELIST, {"action": action, "_selected_action": [task.pk for task in [*selected, already_done]]}
    )

    assert response.status_code == 302
    for task in selected:
        task.refresh_from_db()
        assert is_done(task)
        # The shared queryset methods stamp the change, as the API does.
        assert task.updated_at > LONG_AGO
    for task in (already_done, untouched):
        task.refresh_from_db()
        assert task.updated_at == LONG_AGO
    assert not is_done(untouched)
    entries = LogEntry.objects.filter(user=support_user, action_flag=CHANGE)
    # Each task's own old → new value, to undo the action from its history.
    assert {(entry.object_id, entry.get_change_message()) for entry in entries} == {
        (str(task.pk), message(task)) for task in selected
    }
    assert LogEntry.objects.count() == 2


def test_soft_delete_keeps_when_an_already_deleted_task_was_deleted(
    superuser: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task(deleted_at=LONG_AGO)

    superuser.post(CHANGELIST, {"action": "soft_delete", "_selected_action": [task.pk]})

    task.refresh_from_db()
    assert task.deleted_at == LONG_AGO


def test_a_restored_task_is_back_in_the_api(support: Client, alice: APIClient, make_task: Callable[..., Task]) -> None:
    task = make_task()
    services.task_soft_delete(tasks=Task.objects.filter(pk=task.pk))

    support.post(CHANGELIST, {"action": "restore", "_selected_action": [task.pk]})

    assert alice.get(f"/api/{ALICE}/tasks/{task.pk}/").status_code == 200


# Cost of the list with many tasks


def many_tasks(count: int) -> None:
    Task.objects.bulk_create(Task(user_id=f"user-{n % 7}", title=f"task {n}") for n in range(count))


def test_list_costs_the_same_queries_for_5_and_300_tasks(
    support: Client, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    # Session, user, the user's and the group's permissions, the tag filter's bounded sample, the count,
    # the page; and the request's savepoint.
    many_tasks(5)
    with django_assert_max_num_queries(9) as few:
        assert len(listed(support.get(CHANGELIST))) == 5

    many_tasks(295)
    with django_assert_max_num_queries(9) as many:
        assert len(listed(support.get(CHANGELIST))) == 50

    assert len(many) == len(few)


def test_asking_for_facet_counts_runs_no_extra_queries(support: Client) -> None:
    many_tasks(5)
    with CaptureQueriesContext(connection) as plain:
        support.get(CHANGELIST)
    with CaptureQueriesContext(connection) as with_facets:
        support.get(CHANGELIST + "?_facets=1")

    assert len(with_facets) == len(plain)


@pytest.mark.parametrize("query", ["", "?status=live", "?q=user-3", "?completed__exact=0"])
def test_list_never_counts_more_than_the_cap(support: Client, query: str) -> None:
    many_tasks(60)

    with CaptureQueriesContext(connection) as queries:
        listed(support.get(CHANGELIST + query))

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the list should count its matches"
    assert all(f"LIMIT {CappedCountPaginator.cap + 1}" in sql for sql in counts), counts


def test_a_capped_count_pages_up_to_the_cap_and_says_so(support: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(CappedCountPaginator, "cap", 60)
    many_tasks(70)

    response = support.get(CHANGELIST)

    assert response.context["cl"].result_count == 60
    assert response.context["cl"].paginator.num_pages == 2
    assert "More than 60 tasks match" in response.content.decode()


def test_a_count_under_the_cap_is_exact_and_silent(support: Client) -> None:
    many_tasks(60)

    response = support.get(CHANGELIST)

    assert response.context["cl"].result_count == 60
    assert "tasks match" not in response.content.decode()


# Tags


def test_list_shows_and_filters_tags_in_any_case(support: Client, make_task: Callable[..., Task]) -> None:
    work = make_task(title="Report", tags=["Work", "urgent"])
    make_task(title="Groceries", tags=["home"])

    response = support.get(CHANGELIST, {"tag": "work"})

    assert listed(response) == [work.id]
    assert "Work, urgent" in response.content.decode()
    choices = [choice["display"] for choice in response.context["cl"].filter_specs[-1].choices(response.context["cl"])]
    assert {"Work", "urgent", "home"} <= set(choices)


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("rent, " + "x" * 51, "A tag is 1 to 50 characters, not all blank, without control characters."),
        ("rent, bell\x07", "A tag is 1 to 50 characters, not all blank, without control characters."),
        (", ".join(f"tag{n}" for n in range(21)), "A task has at most 20 tags."),
    ],
    ids=["too long", "control character", "too many"],
)
def test_the_change_form_refuses_tags_the_api_refuses_on_the_field(
    support: Client, make_task: Callable[..., Task], typed: str, error: str
) -> None:
    task = make_task(tags=["keep"])

    response = support.post(change_url(task), change_form(task, tags=typed))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"tags": [error]}
    assert html.escape(error) in response.content.decode()
    task.refresh_from_db()
    assert task.tags == ["keep"]


def test_tags_are_typed_separated_by_commas_and_cleaned_as_the_api_does(
    support: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task(tags=["work", "home"])
    shown = support.get(change_url(task)).content.decode()

    response = support.post(change_url(task), change_form(task, tags=" rent,urgent , Rent,"))

    assert 'name="tags" value="work, home"' in shown
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.tags == ["rent", "urgent"]
    assert LogEntry.objects.get().get_change_message() == "Tags: work, home → rent, urgent."


def test_a_tag_holding_a_comma_stays_whole_when_the_tags_are_not_edited(
    support: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task(tags=["rent, March", "home"])

    response = support.post(change_url(task), change_form(task, title="Pay the rent"))

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.tags) == ("Pay the rent", ["rent, March", "home"])


def test_the_description_is_a_multi_line_box(support: Client, make_task: Callable[..., Task]) -> None:
    task = make_task(description="Buy soil.\nThen water.")

    page = support.get(change_url(task)).content.decode()

    assert '<textarea name="description" cols="40" rows="5"' in page
    assert "Buy soil.\nThen water.</textarea>" in page


def test_times_are_labelled_utc_in_the_list_and_the_form(support: Client, make_task: Callable[..., Task]) -> None:
    task = make_task()

    listing = support.get(CHANGELIST).content.decode()
    form = support.get(change_url(task)).content.decode()

    for label in ["Completed at (UTC)", "Due date (UTC)", "Created (UTC)", "Deleted (UTC)"]:
        assert f">{label}</a>" in listing
    for label in ["Due date (UTC)", "Created (UTC)", "Updated (UTC)", "Completed at (UTC)", "Deleted (UTC)"]:
        assert f">{label}:</label>" in form
    for page in (listing, form):
        assert f"{task.created_at:%Y-%m-%d %H:%M:%S}</" in page


def test_clicking_a_user_id_lists_only_that_users_tasks(support: Client, make_task: Callable[..., Task]) -> None:
    bobs = make_task(user_id=BOB)
    make_task(user_id=ALICE)
    make_task(user_id=f"{BOB}.impostor")

    [link] = re.findall(
        r'<td class="field-owner"><a href="([^"]+)"[^>]*>' + re.escape(BOB) + "</a>", listing_of(support)
    )
    response = support.get(CHANGELIST + html.unescape(link))

    assert listed(response) == [bobs.id]
    # The filter is shown, so that it can be cleared.
    assert "By user id" in response.content.decode()


# Concurrent changes


def change_form(task: Task, **changes: Any) -> dict[str, Any]:
    """The change form as the page shows it for ``task``, with ``changes`` typed in, ready to save."""
    return {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "due_date_0": f"{task.due_date:%Y-%m-%d}" if task.due_date else "",
        "due_date_1": f"{task.due_date:%H:%M:%S}" if task.due_date else "",
        "tags": ", ".join(task.tags),
        "recurrence": task.recurrence or "",
        "timezone": task.timezone,
        "rendered_version": task.version,
        "_save": "Save",
        **changes,
    }


def test_the_change_form_refuses_to_save_over_a_change_made_through_the_api_since_it_was_loaded(
    support: Client, alice: APIClient, make_task: Callable[..., Task]
) -> None:
    task = make_task(title="Wter the plants")
    rendered = support.get(change_url(task)).context["adminform"].form.initial["rendered_version"]
    # Meanwhile, the owner completes the task and renames it through the API.
    api = alice.patch(f"/api/{ALICE}/tasks/{task.pk}/", {"title": "Water the ferns", "completed": True})
    assert api.status_code == 200

    response = support.post(change_url(task), change_form(task, title="Water the plants", rendered_version=rendered))

    assert response.status_code == 200
    assert "This task has changed since this page was loaded. Reload the page" in response.content.decode()
    task.refresh_from_db()
    assert (task.title, task.completed, task.version) == ("Water the ferns", True, 2)
    assert not LogEntry.objects.exists()


def test_the_change_form_refuses_a_save_that_does_not_say_its_version(
    support: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task(title="Keep")
    form = change_form(task, title="Changed")
    del form["rendered_version"]

    assert support.post(change_url(task), form).status_code == 200
    assert Task.objects.get(pk=task.pk).title == "Keep"


def test_a_change_form_save_makes_a_new_version(support: Client, make_task: Callable[..., Task]) -> None:
    task = make_task(title="Wter the plants", tags=["work"])

    response = support.post(change_url(task), change_form(task, title="Water the plants", tags="Home"))

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.version) == ("Water the plants", 2)
    assert list(Task.objects.tagged(["home"])) == [task]


@pytest.mark.parametrize(
    ("action", "before"),
    [
        ("mark_complete", {"completed": False}),
        ("mark_incomplete", {"completed": True}),
        ("soft_delete", {}),
        ("restore", {"deleted_at": LONG_AGO}),
    ],
)
def test_every_action_makes_a_new_version_of_each_task_it_changes(
    support: Client, make_task: Callable[..., Task], action: str, before: dict[str, Any]
) -> None:
    tasks = [make_task(**before), make_task(user_id=BOB, **before)]

    support.post(CHANGELIST, {"action": action, "_selected_action": [task.pk for task in tasks]})

    assert sorted(Task.objects.values_list("version", flat=True)) == [2, 2]


@pytest.mark.django_db(transaction=True)
def test_a_change_form_save_holds_the_task_so_that_no_write_slips_in_between_its_check_and_its_save(
    client: Client, django_user_model: type[AbstractUser], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; CI runs this on PostgreSQL")
    client.force_login(django_user_model.objects.create_superuser("root"))
    task = Task.objects.create(user_id=ALICE, title="Wter the plants")
    settings = connection.get_connection_params()
    settings.pop("context", None)
    concurrent: list[str] = []

    def clean_while_the_owner_writes(form: TaskForm) -> dict[str, Any]:
        # Another worker's write arrives just after the form's version check: it must wait for the save.
        with psycopg.connect(**settings, autocommit=True) as other:
            other.execute("SET lock_timeout = '200ms'")
            try:
                other.execute("UPDATE tasks_task SET title = 'theirs', version = version + 1 WHERE id = %s", [task.pk])
                concurrent.append("written")
            except psycopg.errors.LockNotAvailable:
                concurrent.append("waited")
        return checked(form)

    checked = TaskForm.clean
    monkeypatch.setattr(TaskForm, "clean", clean_while_the_owner_writes)

    response = client.post(change_url(task), change_form(task, title="Water the plants"))

    assert (response.status_code, concurrent) == (302, ["waited"])
    task.refresh_from_db()
    assert (task.title, task.version) == ("Water the plants", 2)


# Recurring tasks


@pytest.fixture
def recurring(db: None) -> Task:
    return services.task_create(
        user_id=ALICE,
        title="Stand-up notes",
        due_date=datetime(2030, 1, 7, 8, 0, tzinfo=UTC),  # a Monday, 09:00 in Berlin
        recurrence="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0",
        timezone="Europe/Berlin",
    )


def test_the_rule_is_shown_in_words_in_the_list_and_next_to_it_in_the_form(support: Client, recurring: Task) -> None:
    listing = listing_of(support)
    form = support.get(change_url(recurring)).content.decode()

    assert "Every weekday at 09:00 (Europe/Berlin)" in listing
    assert "In words: Every weekday at 09:00, in Europe/Berlin." in html.unescape(form)
    assert 'value="FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0"' in form


def test_support_gives_a_task_a_rule_and_a_zone_as_clients_write_them(
    support: Client, make_task: Callable[..., Task]
) -> None:
    task = make_task(due_date=datetime(2030, 1, 7, 8, 0, tzinfo=UTC))
    form = change_form(task, recurrence=" freq=weekly;byday=we,mo ", timezone="Europe/Berlin")

    response = support.post(change_url(task), form)

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.recurrence, task.timezone, task.series_wall_time) == (
        "FREQ=WEEKLY;BYDAY=MO,WE",
        "Europe/Berlin",
        "2030-01-07T09:00:00",
    )
    assert LogEntry.objects.get(object_id=str(task.pk)).get_change_message() == (
        "Recurrence: (empty) → “FREQ=WEEKLY;BYDAY=MO,WE”. Time zone: “UTC” → “Europe/Berlin”."
    )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("recurrence", "FREQ=SECONDLY", "A task recurs at most daily"),
        ("recurrence", "FREQ=DAILY;COUNT=5000000", "COUNT takes a whole number from 1 to 10000"),
        ("timezone", "Mars/Olympus_Mons", "Select a valid choice"),
    ],
)
def test_the_change_form_refuses_what_the_api_refuses_on_the_field(
    support: Client, make_task: Callable[..., Task], field: str, value: str, says: str
) -> None:
    task = make_task()

    response = support.post(change_url(task), change_form(task, **{field: value}))

    assert response.status_code == 200
    assert says in " ".join(response.context["adminform"].form.errors[field])
    assert Task.objects.get(pk=task.pk).version == task.version


def test_completing_a_recurring_task_in_the_change_form_moves_it_to_its_next_occurrence(
    support: Client, recurring: Task
) -> None:
    response = support.post(change_url(recurring), change_form(recurring, completed="on"))

    assert response.status_code == 302
    done = Task.objects.get(pk=recurring.pk)
    assert (done.completed, done.completions, done.due_date) == (False, 1, datetime(2030, 1, 8, 8, 0, tzinfo=UTC))
    assert done.completed_at is not None
    assert LogEntry.objects.get(object_id=str(done.pk)).get_change_message() == (
        "Due date: 2030-01-07 08:00:00 UTC → 2030-01-08 08:00:00 UTC. Completions: 0 → 1."
    )


def test_the_actions_complete_a_recurring_task_through_the_same_service(
    support: Client, recurring: Task, make_task: Callable[..., Task]
) -> None:
    plain = make_task()

    support.post(CHANGELIST, {"action": "mark_complete", "_selected_action": [recurring.pk, plain.pk]})

    done = Task.objects.get(pk=recurring.pk)
    assert (done.completed, done.completions, done.due_date) == (False, 1, datetime(2030, 1, 8, 8, 0, tzinfo=UTC))
    assert Task.objects.get(pk=plain.pk).completed is True
    assert dict(LogEntry.objects.values_list("object_id", "change_message")) == {
        str(recurring.pk): "Marked complete. Due date: 2030-01-07 08:00:00 UTC → 2030-01-08 08:00:00 UTC. "
        "Completions: 0 → 1.",
        str(plain.pk): "Marked complete. Completed: no → yes.",
    }


def test_marking_a_recurring_task_with_no_occurrence_left_incomplete_reopens_it(
    support: Client, make_task: Callable[..., Task]
) -> None:
    task = services.task_create(
        user_id=ALICE, title="Once more", due_date=datetime(2030, 1, 7, tzinfo=UTC), recurrence="FREQ=DAILY;COUNT=1"
    )
    support.post(CHANGELIST, {"action": "mark_complete", "_selected_action": [task.pk]})
    assert Task.objects.get(pk=task.pk).completed is True

    support.post(CHANGELIST, {"action": "mark_incomplete", "_selected_action": [task.pk]})

    reopened = Task.objects.get(pk=task.pk)
    assert (reopened.completed, reopened.completed_at, reopened.completions) == (False, None, 1)


def test_the_list_filters_recurring_tasks(support: Client, recurring: Task, make_task: Callable[..., Task]) -> None:
    plain = make_task()

    assert listed(support.get(CHANGELIST + "?recurring=yes")) == [recurring.pk]
    assert listed(support.get(CHANGELIST + "?recurring=no")) == [plain.pk]
    assert sorted(listed(support.get(CHANGELIST))) == sorted([recurring.pk, plain.pk])
