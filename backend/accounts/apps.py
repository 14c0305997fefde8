from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backend.accounts.models import ApiClient
        from backend.accounts.selectors import forget_api_clients

        post_save.connect(forget_api_clients, sender=ApiClient, dispatch_uid="forget-clients")
        post_delete.connect(forget_api_clients, sender=ApiClient, dispatch_uid="forget-clients")
