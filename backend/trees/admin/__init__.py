"""Django admin for the tree engine: inspect trees, moderate, export, tune tree growth.

Every change made here goes through the same service functions as the v1 API (the admin
never saves a row itself), so it is validated and journaled with ``django-admin:<user>``."""

from backend.trees.admin import growth_config, messages, records, trees

__all__ = ["growth_config", "messages", "records", "trees"]
