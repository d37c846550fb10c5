from django.apps import AppConfig


class AuthJWTConfig(AppConfig):
    name = "authjwt"
    verbose_name = "JWT authentication"

    def ready(self) -> None:
        # Defining the extension class registers it with drf-spectacular, so its module must be imported.
        from . import schema  # noqa: F401
