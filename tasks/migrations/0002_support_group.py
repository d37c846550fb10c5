"""The Support group: staff who view and fix tasks in the admin, and never hard-delete them."""
from __future__ import annotations

from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

SUPPORT_GROUP = "Support"
SUPPORT_PERMISSIONS = ["view_task", "change_task"]


def create_support_group(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    db = schema_editor.connection.alias
    # On a fresh database, permissions are created by post_migrate, after every migration: too late
    # for this one, so create them now. create_permissions skips an app config without a models
    # module, which a migration's historical app configs never have.
    tasks = apps.get_app_config("tasks")
    tasks.models_module = True
    try:
        create_permissions(tasks, verbosity=0, using=db, apps=apps)
    finally:
        tasks.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(db).get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(
        Permission.objects.using(db).filter(
            content_type__app_label="tasks", content_type__model="task", codename__in=SUPPORT_PERMISSIONS
        )
    )


def delete_support_group(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=SUPPORT_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("tasks", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_support_group, delete_support_group)]
