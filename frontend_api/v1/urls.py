"""Open-Assistant v1 protocol routes, mounted under /api/v1/."""

urlpatterns: list = []
