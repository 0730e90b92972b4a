"""IPv6 spellings of IPv4 addresses are judged by the IPv4 address inside (issue 12):
NAT64, 6to4, IPv4-compatible, IPv4-mapped and Teredo forms of loopback or private
addresses are refused; the same forms of a public address are not."""

from __future__ import annotations

import re
from typing import Any

import pytest

from driftcontrol import webhooks
from driftcontrol.webhooks import targets
from driftcontrol.webhooks.targets import TargetRefused, target_of


@pytest.fixture(autouse=True)
def _public_targets_only(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("[64:ff9b::7f00:1]", "(IPv4 127.0.0.1), a loopback address"),  # NAT64
        ("[64:ff9b::a9fe:a9fe]", "(IPv4 169.254.169.254), a link-local address"),
        ("[64:ff9b:1::7f00:1]", "a local-use NAT64 address"),  # RFC 8215
        ("[2002:7f00:1::]", "(IPv4 127.0.0.1), a loopback address"),  # 6to4
        ("[2002:a00:1::]", "(IPv4 10.0.0.1), a private address"),
        ("[::127.0.0.1]", "(IPv4 127.0.0.1), a loopback address"),  # IPv4-compatible
        ("[::ffff:127.0.0.1]", "(IPv4 127.0.0.1), a loopback address"),  # IPv4-mapped
        ("[::ffff:192.168.1.1]", "(IPv4 192.168.1.1), a private address"),
        ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "a private address"),  # Teredo
        ("[::1]", "::1, a loopback address"),
        ("[::]", "::, an unspecified address"),
    ],
)
def test_ipv6_forms_of_local_addresses_are_refused(host: str, says: str) -> None:
    with pytest.raises(TargetRefused, match=r"resolves to .*" + re.escape(says)):
        target_of(f"http://{host}/hook")


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::808:808", "2002:808:808::", "::ffff:8.8.8.8", "2606:4700:4700::1111"],
)
def test_ipv6_forms_of_public_addresses_are_allowed(address: str) -> None:
    assert target_of(f"https://[{address}]/hook").addresses == (address,)


def test_a_name_resolving_to_a_nat64_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["64:ff9b::7f00:1"])

    problem = webhooks.url_problem("https://hooks.example.com/x")

    assert problem is not None
    assert problem.startswith("hooks.example.com resolves to 64:ff9b::7f00:1 (IPv4 127.0.0.1)")


def test_private_targets_may_be_allowed(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True

    assert target_of("http://[64:ff9b::7f00:1]/hook").addresses == ("64:ff9b::7f00:1",)
