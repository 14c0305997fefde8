"""Migrations that add tree-growth parameters to the stored configuration versions.

Every stored version gets each new parameter at its default (a value a version already has
is kept), and loses them again when the migration is reversed: trees 0007, 0008, 0011 and
0013 each add parameters this way. Keep ``add_config_parameters`` as it is: those
migrations run it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import migrations


def add_config_parameters(new: Mapping[str, object]) -> migrations.RunPython:
    """A ``RunPython`` operation that writes ``new`` into every stored version."""
    new = dict(new)

    def forward(apps, schema_editor):
        TreeGrowthConfig = apps.get_model("trees", "TreeGrowthConfig")
        for version in TreeGrowthConfig.objects.all():
            version.values = {**new, **version.values}
            version.save(update_fields=["values"])

    def backward(apps, schema_editor):
        TreeGrowthConfig = apps.get_model("trees", "TreeGrowthConfig")
        for version in TreeGrowthConfig.objects.all():
            version.values = {k: v for k, v in version.values.items() if k not in new}
            version.save(update_fields=["values"])

    return migrations.RunPython(forward, backward)
