from django.apps import AppConfig


class FrontendApiConfig(AppConfig):
    name = "frontend_api"
    label = "frontend_api"
    verbose_name = "Grove frontend API"
