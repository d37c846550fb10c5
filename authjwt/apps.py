from django.apps import AppConfig


class AuthJWTConfig(AppConfig):
    name = "authjwt"
    verbose_name = "JWT authentication"
