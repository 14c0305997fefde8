from django.urls import path

from frontend_api.console import views

urlpatterns = [
    path("", views.ConsoleView.as_view(), name="console"),
    path("overview.json", views.OverviewView.as_view(), name="console-overview"),
    path("series.json", views.SeriesView.as_view(), name="console-series"),
    path("config/", views.ConfigView.as_view(), name="console-config"),
    path("config/rollback", views.RollbackView.as_view(), name="console-rollback"),
    path("trees/", views.TreeLookupView.as_view(), name="console-tree-lookup"),
    path("trees/<uuid:tree_id>/", views.TreeView.as_view(), name="console-tree"),
    path(
        "trees/<uuid:tree_id>/halt",
        views.TreeStateView.as_view(),
        {"action": "halt"},
        name="console-tree-halt",
    ),
    path(
        "trees/<uuid:tree_id>/resume",
        views.TreeStateView.as_view(),
        {"action": "resume"},
        name="console-tree-resume",
    ),
    path(
        "trees/<uuid:tree_id>/messages/<uuid:message_id>/delete",
        views.MessageDeleteView.as_view(),
        name="console-message-delete",
    ),
]
