"""``python manage.py mint_token USER_ID``: a token signed like the front end's, for trying the API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from authjwt.tokens import mint_token


def _claim(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--claim takes key=value, not {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


class Command(BaseCommand):
    help = "Print an HS256 JWT for USER_ID signed with the first secret in BETTER_AUTH_SECRET."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user_id")
        parser.add_argument("--ttl", type=int, default=900, help="lifetime in seconds (default 900)")
        parser.add_argument(
            "--claim",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="an extra claim; VALUE is read as JSON when it parses, else as a string",
        )

    def handle(self, *args: Any, user_id: str, ttl: int, claim: list[str], **options: Any) -> None:
        if ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds")
        if ttl > settings.JWT_MAX_TOKEN_LIFETIME:
            # The API would refuse the token: say so now rather than with a 401 later.
            raise CommandError(f"--ttl may be at most JWT_MAX_TOKEN_LIFETIME ({settings.JWT_MAX_TOKEN_LIFETIME} s)")
        claims = dict(_claim(text) for text in claim)
        self.stdout.write(mint_token(user_id, ttl=timedelta(seconds=ttl), claims=claims))
