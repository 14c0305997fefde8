from django.apps import AppConfig


class TreesConfig(AppConfig):
    name = "backend.trees"
    label = "trees"
    default_auto_field = "django.db.models.BigAutoField"
