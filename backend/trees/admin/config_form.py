"""The admin form for a new tree-growth configuration version: one form field per parameter
of ``TreeManagerConfig``, generated from the dataclass so a new parameter appears by itself.

The form only converts input to plain values; what is valid is decided by
``TreeManagerConfig.from_dict`` (the same check ``update_config`` makes), whose per-parameter
problems become errors on the matching form fields.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms

from backend.trees.admin.parameter_help import help_text as parameter_help
from backend.trees.core.config import LABEL_WIDGETS, ConfigError, TreeManagerConfig, choices_of
from backend.trees.growth_config import active_config
from backend.trees.models import TreeGrowthConfig

PARAMETERS: tuple[dataclasses.Field, ...] = dataclasses.fields(TreeManagerConfig)
PARAMETER_NAMES: tuple[str, ...] = tuple(f.name for f in PARAMETERS)
_LABEL_ORDER = {name: i for i, name in enumerate(LABEL_WIDGETS)}
_LABEL_CHOICES = [(name, f"{name} ({widget.value})") for name, widget in LABEL_WIDGETS.items()]


def _default_of(parameter: dataclasses.Field) -> Any:
    return getattr(TreeManagerConfig(), parameter.name)


def _form_field(parameter: dataclasses.Field) -> forms.Field:
    """A form field for one parameter, chosen by its annotation (a string: the config module
    uses ``from __future__ import annotations``)."""
    default = _default_of(parameter)
    kind = str(parameter.type).replace(" ", "")
    help_text = parameter_help(parameter.name, default)
    choices = choices_of(parameter.name)
    if choices is not None:
        return forms.ChoiceField(choices=[(c, c) for c in choices], help_text=help_text)
    if kind == "bool":
        return forms.BooleanField(required=False, help_text=help_text)
    if kind == "int":
        return forms.IntegerField(help_text=help_text)
    if kind == "float":
        return forms.FloatField(help_text=help_text)
    if kind == "float|None":
        return forms.FloatField(required=False, help_text=help_text)
    if kind == "str":
        return forms.CharField(required=False, help_text=help_text)
    if kind.startswith("tuple[str"):
        return forms.MultipleChoiceField(
            required=False,
            choices=_LABEL_CHOICES,
            widget=forms.CheckboxSelectMultiple,
            help_text=help_text,
        )
    return forms.JSONField(help_text=f"JSON; {help_text}")  # a parameter of a new kind


def _ordered_labels(chosen: list[str], current: list[str]) -> list[str]:
    """Chosen labels in the active version's order, new ones after them in OA's order, so an
    unchanged selection gives an unchanged value."""
    position = {name: i for i, name in enumerate(current)}
    return sorted(
        chosen, key=lambda n: (n not in position, position.get(n, 0), _LABEL_ORDER.get(n, 0))
    )


class _ConfigVersionFormBase(forms.ModelForm):
    comment = forms.CharField(
        required=False, max_length=1024, help_text="Why this change (kept with the version)."
    )

    class Meta:
        model = TreeGrowthConfig
        fields = ["comment"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.active = active_config()
        self.config_values: dict[str, Any] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if any(name in self.errors for name in PARAMETER_NAMES):
            return cleaned
        values = {name: cleaned.get(name) for name in PARAMETER_NAMES}
        current = self.active.to_dict()
        for name, field in self.fields.items():
            if isinstance(field, forms.MultipleChoiceField) and name in values:
                values[name] = _ordered_labels(values[name] or [], current.get(name) or [])
        try:
            TreeManagerConfig.from_dict(values)
        except ConfigError as exc:
            for name, problem in sorted(exc.errors.items()):
                self.add_error(name if name in self.fields else None, f"{name}: {problem}")
            return cleaned
        self.config_values = values
        return cleaned


ConfigVersionForm: type[_ConfigVersionFormBase] = type(
    "ConfigVersionForm",
    (_ConfigVersionFormBase,),
    {parameter.name: _form_field(parameter) for parameter in PARAMETERS},
)
"""The add form: every parameter (prefilled from the active version) and a comment."""
