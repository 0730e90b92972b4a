"""How apps extend the core without the core importing them.

An installed app contributes by convention: verbs to the `drift` command line in
`<app>/cli.py` (``COMMANDS``), resources to the REST API in `<app>/api/routes.py`
(``VIEWSETS`` and ``VIEWS``), findings to each scan in `<app>/scanning.py`
(``observe(reading)``, a drift.services.scanning.Reading: alignment's rules), and notes on
drift observations before they are recorded in `<app>/annotating.py`
(``annotate(cluster, observations)``: alignment's, on changes its admission webhook let
through while down). The core finds them by name, the way Django finds `admin.py`, so the
dependency arrows keep pointing from the apps to the core.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from django.apps import apps


def app_modules(submodule: str) -> list[ModuleType]:
    """`<app>.<submodule>` of every installed app that has one, in INSTALLED_APPS order."""
    found = []
    for config in apps.get_app_configs():
        name = f"{config.name}.{submodule}"
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the app has no parent package of that name
            continue
        if spec is not None:
            found.append(importlib.import_module(name))
    return found
