"""The benchmark database: created fresh, migrated by our own manage.py, seeded with bulk SQL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent

# Realistic words for titles and descriptions: the rows are read and rendered, so their size matters.
_VERBS = ["Buy", "Call", "Email", "Review", "Fix", "Write", "Plan", "Book", "Pay", "Clean", "Prepare", "Renew"]
_OBJECTS = [
    "groceries for the week",
    "the dentist about the appointment",
    "quarterly report draft",
    "flaky login test",
    "slides for Monday's demo",
    "train tickets to Lyon",
    "electricity bill",
    "the garage and the attic",
    "passport application",
    "notes from the design review",
    "birthday present for Sam",
    "car insurance",
]
_TAGS = ["home", "work", "errands", "urgent", "health", "finance"]
_SENTENCE = "Remember to check the details twice and ask for a receipt; follow up if nobody answers by Friday. "

# One INSERT … SELECT for any number of tasks: ~10 tasks per user, timestamps spread over two years,
# ~30% completed, ~40% with a due date, ~2% soft-deleted (some rows never), priorities weighted towards medium. Rows are
# inserted in random order, so one user's tasks are scattered over the table as they would be in real life.
_INSERT_TASKS = """
INSERT INTO tasks_task (user_id, title, description, completed, priority, due_date, created_at, updated_at,
                        deleted_at{tag_columns})
SELECT {user_expr},
       (%(verbs)s::text[])[1 + floor(r_verb * 12)::int] || ' ' || (%(objects)s::text[])[1 + floor(r_obj * 12)::int],
       CASE WHEN r_desc < 0.4 THEN '' ELSE left(repeat(%(sentence)s, 3), 20 + floor(r_desc * 220)::int) END,
       r_done < 0.3,
       CASE WHEN r_pri < 0.2 THEN 1 WHEN r_pri < 0.75 THEN 2 ELSE 3 END,
       CASE WHEN r_due < 0.4 THEN created + r_due * interval '100 days' END,
       created,
       created + r_upd * interval '3 days',
       CASE WHEN r_del < 0.02 AND i > %(always_live)s THEN created + interval '5 days' END{tag_values}
FROM (
    SELECT i, random() AS r_verb, random() AS r_obj, random() AS r_desc, random() AS r_done, random() AS r_pri,
           random() AS r_due, random() AS r_upd, random() AS r_del,
           random() AS r_tag, 1 + floor(random() * 6)::int AS tag, now() - random() * interval '730 days' AS created
    FROM generate_series(%(first)s::int, %(last)s::int) AS i
) AS r
ORDER BY random()
"""


def admin_url(database_url: str) -> str:
    """The same server's maintenance database, to create and drop the benchmark one from."""
    return database_url.rsplit("/", 1)[0] + "/postgres"


def recreate(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate(env: dict[str, str]) -> None:
    """Our own migrations, so the benchmark's table and indexes are exactly the deployed ones."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


# Half the tasks have no tag, a third one, the rest two; ``tag_keys`` is what Task.save() derives from them.
_TAG_VALUES = """,
       CASE WHEN r_tag < 0.5 THEN '[]'::jsonb WHEN r_tag < 0.85 THEN jsonb_build_array(tg[tag])
            ELSE jsonb_build_array(tg[tag], tg[1 + mod(tag, 6)]) END,
       CASE WHEN r_tag < 0.5 THEN '' WHEN r_tag < 0.85 THEN chr(31) || tg[tag] || chr(31)
            ELSE chr(31) || tg[tag] || chr(31) || chr(31) || tg[1 + mod(tag, 6)] || chr(31) END"""


def columns(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'tasks_task'")
    return {row[0] for row in rows}


def insert_tasks(conn: psycopg.Connection, *, user_expr: str, first: int, last: int, always_live: int = 0) -> None:
    """Insert tasks ``first`` to ``last``; those up to ``always_live`` are never soft-deleted."""
    params = {"verbs": _VERBS, "objects": _OBJECTS, "sentence": _SENTENCE, "first": first, "last": last}
    params["always_live"] = always_live
    # Tags are new in the model: seeded when the migrated table has them, so the bench follows the schema.
    has_tags = "tags" in columns(conn)
    query = _INSERT_TASKS.format(
        user_expr=user_expr,
        tag_columns=", tags, tag_keys" if has_tags else "",
        tag_values=_TAG_VALUES.replace("tg[", "(%(tags)s::text[])[") if has_tags else "",
    )
    conn.execute(query, {**params, "tags": _TAGS} if has_tags else params)


def other_users_expr(users: int) -> str:
    # A 32-character id per user, like Better Auth's; task i belongs to user i % users.
    return f"left(md5('user-' || mod(i, {users})), 32)"


def seed(database_url: str, *, bench_user: str, bench_tasks: int, other_users: int, other_tasks: int) -> None:
    # One shuffled insert: the benchmark user's tasks are scattered among the others' in the heap and
    # in the id sequence, as years of interleaved use would leave them; no lucky locality.
    user_expr = f"CASE WHEN i <= {bench_tasks} THEN {sql.quote(bench_user)} ELSE {other_users_expr(other_users)} END"
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The benchmark user's tasks are all live, so the list's count is theirs exactly.
        insert_tasks(conn, user_expr=user_expr, first=1, last=bench_tasks + other_tasks, always_live=bench_tasks)
        snapshot(conn, bench_user)
        conn.execute("VACUUM ANALYZE tasks_task")


def snapshot(conn: psycopg.Connection, bench_user: str) -> None:
    """Keep a copy of the benchmark user's tasks, so writes can be undone between scenarios."""
    conn.execute("DROP TABLE IF EXISTS bench_seed")
    conn.execute("CREATE TABLE bench_seed AS SELECT * FROM tasks_task WHERE user_id = %s", [bench_user])


def reset(database_url: str, bench_user: str, attempts: int = 5) -> None:
    """Undo a write scenario: drop created tasks, restore edited ones, and vacuum so index-only scans stay so."""
    for attempt in range(attempts):
        try:
            _reset(database_url, bench_user)
            return
        except psycopg.errors.DeadlockDetected:
            # A write wrk left in flight holds its task's row and waits for the user's change counter, which this
            # UPDATE's triggers hold while it waits for that row. The write commits once one side gives way: again.
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _reset(database_url: str, bench_user: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """DELETE FROM tasks_task t
               WHERE t.user_id = %s AND NOT EXISTS (SELECT 1 FROM bench_seed s WHERE s.id = t.id)""",
            [bench_user],
        )
        conn.execute(
            # The version and completion time too: the representation shows them, so the second server's write
            # must start from the very row the first one's did.
            """UPDATE tasks_task t SET title = s.title, description = s.description, completed = s.completed,
                   priority = s.priority, due_date = s.due_date, updated_at = s.updated_at, deleted_at = s.deleted_at,
                   completed_at = s.completed_at, version = s.version
               FROM bench_seed s WHERE t.id = s.id"""
        )
        if "tags" in columns(conn):
            conn.execute(
                "UPDATE tasks_task t SET tags = s.tags, tag_keys = s.tag_keys FROM bench_seed s WHERE t.id = s.id"
            )
        conn.execute("VACUUM ANALYZE tasks_task")


def grow(database_url: str, *, other_users: int, extra_tasks: int, first: int) -> None:
    """More tasks for the other users (the benchmark user's own stay as they are)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        insert_tasks(conn, user_expr=other_users_expr(other_users), first=first, last=first + extra_tasks - 1)
        conn.execute("VACUUM ANALYZE tasks_task")


def bench_task_ids(database_url: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT id FROM bench_seed ORDER BY id").fetchall()
    return [row[0] for row in rows]


def table_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM tasks_task").fetchone()[0]


def explain(database_url: str, query: str) -> str:
    """The plan of a statement captured from our app, its parameters already in place.

    Run twice on one connection, the second one shown: the servers' connections are warm too.
    """
    with psycopg.connect(database_url) as conn:
        conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query)
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query).fetchall()
    return "\n".join(row[0] for row in rows)


def server_version(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]
