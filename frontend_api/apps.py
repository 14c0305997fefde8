from django.apps import AppConfig


class FrontendApiConfig(AppConfig):
    name = "frontend_api"
    label = "frontend_api"
    verbose_name = "Grove frontend API"

    def ready(self) -> None:
        from backend.log_filters import install_secret_redaction
        from frontend_api.v1 import schema  # noqa: F401  (registers the OpenAPI extension)

        install_secret_redaction()
