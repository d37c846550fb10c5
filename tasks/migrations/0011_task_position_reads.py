from django.db import migrations

# Migration 0010's trigger read the top of a list with "parent_id IS NOT DISTINCT FROM NEW.parent_id", which matches
# neither partial position index, so PostgreSQL sorted the user's whole list for each task it placed: a single INSERT
# of 50,000 tasks of one user took minutes. Each kind of list is now read through its own index, with its conditions
# word for word (tasks/models.py, Task.Meta.constraints).
PLACE_BY_INDEX = """
    CREATE OR REPLACE FUNCTION tasks_task_position() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        first text;
    BEGIN
        IF NEW.parent_id IS NULL THEN
            SELECT position INTO first FROM tasks_task
            WHERE user_id = NEW.user_id AND parent_id IS NULL AND deleted_at IS NULL AND id <> NEW.id
            ORDER BY position LIMIT 1;
        ELSE
            SELECT position INTO first FROM tasks_task
            WHERE parent_id = NEW.parent_id AND deleted_at IS NULL AND id <> NEW.id
            ORDER BY position LIMIT 1;
        END IF;
        NEW.position := tasks_key_before(first);
        RETURN NEW;
    END
    $$
"""
PLACE_BY_SORT = """
    CREATE OR REPLACE FUNCTION tasks_task_position() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.position := tasks_key_before((
            SELECT position FROM tasks_task
            WHERE user_id = NEW.user_id AND parent_id IS NOT DISTINCT FROM NEW.parent_id AND deleted_at IS NULL
                AND id <> NEW.id
            ORDER BY position LIMIT 1
        ));
        RETURN NEW;
    END
    $$
"""


def place_by_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PLACE_BY_INDEX)


def place_by_sort(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PLACE_BY_SORT)


class Migration(migrations.Migration):

    dependencies = [
        ('tasks', '0010_task_position'),
    ]

    operations = [
        migrations.RunPython(place_by_index, place_by_sort),
    ]
