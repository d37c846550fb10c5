"""``python manage.py create_support_user NAME``: a staff account in the Support group (``make support-user``)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

SUPPORT_GROUP = "Support"  # created by tasks/migrations/0002_support_group.py
PASSWORD_ATTEMPTS = 3


class Command(BaseCommand):
    help = "Create a staff user in the Support group, asking for its password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User._default_manager.filter(username=username).exists():
            raise CommandError(
                f"{username!r} already exists; to set its password: make manage ARGS='changepassword {username}'"
            )
        group = Group.objects.filter(name=SUPPORT_GROUP).first()
        if group is None:
            raise CommandError(
                f"There is no {SUPPORT_GROUP} group: run the migrations first (python manage.py migrate)."
            )
        user = User(username=username, is_staff=True)
        # Asked before the transaction opens: on PostgreSQL a transaction left idle while someone types is cut
        # by DATABASE_IDLE_IN_TRANSACTION_TIMEOUT.
        user.set_password(self._ask_password(user))
        with transaction.atomic():
            user.save()
            user.groups.add(group)
        self.stdout.write(f"Support user {username!r} created: sign in at /admin/.")

    def _ask_password(self, user: Any) -> str:
        for _ in range(PASSWORD_ATTEMPTS):
            password = getpass.getpass(f"Password for {user.username}: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The passwords do not match.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as error:
                self.stderr.write("\n".join(error.messages))
                continue
            return password
        raise CommandError(f"No password after {PASSWORD_ATTEMPTS} attempts; nothing was created.")
