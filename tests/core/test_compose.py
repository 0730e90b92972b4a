"""No Docker engine runs here, so the compose file is checked against the code instead:
every service, variable and command it names must exist."""

import re
import shlex
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

from driftcontrol import env
from driftcontrol.celery import QUEUES
from driftcontrol.management.commands.drift import registered

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = {name: s for name, s in SERVICES.items() if "build" in s}
REQUIRED = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS"}


def words(command):
    if isinstance(command, str):
        return shlex.split(command)
    if command[0] == "CMD-SHELL":
        return shlex.split(command[1])
    return list(command[1:] if command[0] == "CMD" else command)


def assert_runs(argv):
    """The program and arguments name things that exist in this code base."""
    program, *args = argv
    if program == "gunicorn":
        module, _, attribute = args[0].partition(":")
        assert hasattr(import_module(module), attribute or "application")
    elif program == "celery":
        assert args[:2] == ["-A", "driftcontrol"]
        assert args[2] in {"worker", "beat", "inspect"}
        if "-Q" in args:
            assert set(args[args.index("-Q") + 1].split(",")) <= set(QUEUES)
    elif program == "python" and args[0] == "manage.py":
        assert args[1] in get_commands(), f"no management command {args[1]!r}"
        if args[1] == "drift":
            entries, verbs = registered(), args[2:]
            while entries:  # walk groups until a command; what follows are its arguments
                match = [e for e in entries if e.name == verbs[0]]
                assert match, f"`drift` has no verb {verbs[0]!r}"
                entries, verbs = getattr(match[0], "commands", []), verbs[1:]
    elif program == "python" and args[0] == "-c":
        for path in re.findall(r"http://127\.0\.0\.1:8000(/[\w/]*)", args[1]):
            resolve(path)
    else:
        pytest.fail(f"unexpected program {program!r} in {argv}")


def test_it_has_the_services_of_the_design():
    assert set(SERVICES) >= {"postgres", "redis", "migrate", "web", "worker", "beat", "watcher"}
    assert "admission" in SERVICES


def test_the_admission_service_is_checked_where_it_listens_and_published_there():
    service = SERVICES["admission"]
    command = words(service["command"])
    port = command[command.index("--port") + 1]

    assert command[command.index("--host") + 1] == "0.0.0.0"  # reachable from outside
    assert service["ports"] == [f"{port}:{port}"]
    assert f"https://127.0.0.1:{port}/healthz" in words(service["healthcheck"]["test"])[-1]
    assert "ADMISSION_PUBLIC_URL" in service["environment"]


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {"migrate"}))
def test_every_long_running_service_has_a_healthcheck(name):
    assert words(SERVICES[name]["healthcheck"]["test"])


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_run_commands_that_exist(name):
    service = APP_SERVICES[name]

    assert_runs(words(service["command"]))
    if "healthcheck" in service:
        assert_runs(words(service["healthcheck"]["test"]))


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_set_only_variables_the_settings_read(name):
    variables = set(APP_SERVICES[name]["environment"])

    assert variables <= set(env.KNOWN), sorted(variables - set(env.KNOWN))
    assert variables >= REQUIRED


def test_dependencies_name_existing_services():
    for name, service in SERVICES.items():
        assert set(service.get("depends_on", {})) <= set(SERVICES), name


def test_the_image_and_the_example_env_file_exist():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (ROOT / copied).exists(), copied
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = set(re.findall(r"^(\w+)=", (ROOT / ".env.example").read_text(), re.M))
    assert required <= example
