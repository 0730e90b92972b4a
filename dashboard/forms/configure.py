"""What every configuration form shares: it becomes a driftcontrol.io/v1alpha1 document,
and the problems `drift.services.configuration` finds in that document come back next to
the fields their paths name.

Inputs name their hint and their error through Django's own aria-describedby
(`<id>_helptext`, `<id>_error`): templates/includes/form_field.html gives those ids to
the texts, so a screen reader reads the error with the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms

from drift import declarative
from drift.services import editing
from driftcontrol.exceptions import FieldProblem, Invalid

# `spec.lanes[0]`, `spec.namespaces[2].x` -> the list they are items of.
_ITEM = re.compile(r"\[\d+\].*$")


class DocumentForm(forms.Form):
    """A form for one configuration document; ``paths`` maps document paths to fields."""

    paths: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")  # labels read "Name", not "Name:"
        super().__init__(*args, **kwargs)

    def add_problems(self, problems: Iterable[FieldProblem]) -> None:
        """Each problem next to the field its path names; the rest above the form."""
        for problem in problems:
            field = self.paths.get(_ITEM.sub("", problem.path))
            if field in self.fields and not self.fields[field].disabled:
                self.add_error(field, problem.message)
            else:
                self.add_error(None, f"{problem.path}: {problem.message}")

    def save_document(
        self, document: dict[str, Any], actor: Any, name: str | None
    ) -> declarative.Applied | None:
        """Save the document as a new object (``name`` None) or as the object called
        ``name``; None when it is refused, its problems then on the form's fields."""
        try:
            if name is None:
                return editing.create(document, actor)
            return editing.update(document, actor, name)
        except Invalid as invalid:
            self.add_problems(invalid.problems)
            return None
