import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from driftcontrol.models import AuditEvent
from driftcontrol.permissions import Role, role_of

pytestmark = pytest.mark.django_db


def test_user_add_creates_a_user_with_a_role_and_prints_a_password(capsys):
    call_command("drift", "user", "add", "bob", "--role", "approver")

    out = capsys.readouterr().out
    password = out.split("password: ")[1].strip()
    bob = get_user_model().objects.get(username="bob")
    assert role_of(bob) is Role.APPROVER
    assert bob.check_password(password)
    event = AuditEvent.objects.get(action="user.created")
    assert (event.object_repr, event.data) == ("bob", {"role": "approver"})
    assert event.actor.startswith("cli")


def test_user_add_reads_a_password_from_stdin_and_validates_it(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    with pytest.raises(CommandError, match="password refused: This password is too common"):
        call_command("drift", "user", "add", "bob", "--role", "viewer", "--password-stdin")
    assert not get_user_model().objects.filter(username="bob").exists()

    monkeypatch.setattr("sys.stdin", io.StringIO("a much better passphrase\n"))
    call_command("drift", "user", "add", "bob", "--role", "viewer", "--password-stdin")
    assert "password:" not in capsys.readouterr().out
    assert get_user_model().objects.get(username="bob").check_password("a much better passphrase")


def test_user_add_refuses_an_existing_name(viewer):
    with pytest.raises(CommandError, match="user 'vera' already exists"):
        call_command("drift", "user", "add", "vera", "--role", "admin")
    assert role_of(viewer) is Role.VIEWER


def test_user_add_refuses_an_unknown_role():
    with pytest.raises(CommandError, match="invalid choice: 'god'"):
        call_command("drift", "user", "add", "bob", "--role", "god")


def test_set_role_changes_the_role_and_audits_it(viewer, capsys):
    call_command("drift", "user", "set-role", "vera", "operator")

    viewer.refresh_from_db()
    assert role_of(viewer) is Role.OPERATOR
    event = AuditEvent.objects.get(action="user.role_changed")
    assert event.data == {"from": "viewer", "to": "operator"}


def test_user_list_shows_roles(viewer, approver, capsys):
    call_command("drift", "user", "list")

    lines = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["anna", "approver", "yes"] for line in lines)
    assert any(line.split() == ["vera", "viewer", "yes"] for line in lines)
