"""Websocket routes (consumers arrive with the websocket issue)."""

websocket_urlpatterns: list = []
