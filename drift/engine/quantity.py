"""Kubernetes resource quantities, compared by value: "2000m" == "2", "1Gi" == "1024Mi".

The API server rewrites quantities into its canonical form, so comparing the text would
report drift on every object whose manifest uses another spelling.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

# Keys whose values are quantities in the built-in kinds (resources, limits, quotas,
# emptyDir sizes, PVC storage). Other strings are never read as quantities, so a label
# value of "1k" stays different from "1000".
QUANTITY_PARENTS = frozenset(
    {
        "limits",
        "requests",
        "hard",
        "capacity",
        "default",
        "defaultRequest",
        "max",
        "min",
        "maxLimitRequestRatio",
        "overhead",
    }
)
QUANTITY_KEYS = frozenset({"sizeLimit", "storage"})


@lru_cache(maxsize=4096)
def parse(text: str) -> Decimal | None:
    """The value of a quantity string, or None when it is not one."""
    match = _QUANTITY.match(text.strip())
    if not match:
        return None
    number, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    if not suffix:
        return value
    if suffix in _BINARY:
        return value * Decimal(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return value.scaleb(_DECIMAL[suffix])
    return value.scaleb(int(suffix[1:]))


def equal(a: object, b: object) -> bool:
    """Whether two quantity values (strings or numbers) are the same amount."""
    left = parse(str(a)) if not isinstance(a, bool) else None
    right = parse(str(b)) if not isinstance(b, bool) else None
    return left is not None and left == right
