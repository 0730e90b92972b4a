#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import shlex
import sys
from pathlib import Path


def demo_environment() -> None:
    """The demo's settings for the CLI run by hand from this checkout.

    `make demo` (scripts/demo) writes the variables it gives its processes to
    var/demo.env, so that `python manage.py drift ...` reaches the running demo as printed.
    They are read only when neither SECRET_KEY nor DATABASE_URL is set, as in the demo's
    embedded mode: a production environment sets SECRET_KEY (the settings refuse to start
    without one unless DEBUG is on), so it never reads the file. Variables set win.
    """
    if os.environ.get("SECRET_KEY") or os.environ.get("DATABASE_URL"):
        return
    var = os.environ.get("DRIFTCONTROL_VAR_DIR") or Path(__file__).resolve().parent / "var"
    path = Path(var) / "demo.env"
    if not path.is_file():
        return
    taken = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = shlex.split(line)[0].partition("=")
            if name not in os.environ:
                os.environ[name] = value
                taken.append(name)
    if taken:
        print(f"manage.py: {', '.join(taken)} from {path} (make demo)", file=sys.stderr)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftcontrol.settings")
    demo_environment()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
