"""JSON values of the types the schema gives them. DRF's fields coerce: a CharField takes
the number 0 as "0", an IntegerField takes "7" and 7.0, a BooleanField takes "yes" and 1.
The schema says `string`, `integer`, `boolean`, and a client that sends another type has
a bug it should hear about, not a value it did not mean (a ticket id 1e3 stored as
"1000.0"). So, for request bodies, each takes its JSON type only.

Query strings are text whatever they mean: a serializer reading ``request.query_params``
(a QueryDict) keeps DRF's conversions.
"""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

ACCEPTED: dict[type[serializers.Field], tuple[type, ...]] = {  # type: ignore[type-arg]
    serializers.CharField: (str,),
    serializers.IntegerField: (int,),
    serializers.FloatField: (int, float),
    serializers.BooleanField: (bool,),
}


def _from_json(field: serializers.Field) -> bool:  # type: ignore[type-arg]
    return not isinstance(getattr(field.root, "initial_data", None), QueryDict)


def _strict(field_class: Any, accepted: tuple[type, ...]) -> None:
    lenient = field_class.to_internal_value

    def to_internal_value(self: Any, data: Any) -> Any:
        wrong = not isinstance(data, accepted) or (bool not in accepted and isinstance(data, bool))
        if wrong and _from_json(self):
            self.fail("invalid")
        return lenient(self, data)

    field_class.to_internal_value = to_internal_value


def install() -> None:
    """Once, by driftcontrol.api.parsers (loaded with the first API view)."""
    if getattr(serializers.Field, "_strict_json", False):
        return
    for field_class, accepted in ACCEPTED.items():
        _strict(field_class, accepted)
    serializers.Field._strict_json = True  # type: ignore[attr-defined]
