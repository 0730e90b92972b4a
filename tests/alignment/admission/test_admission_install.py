"""The webhook's configuration as install writes it (fail open, never kube-system or
DriftControl's own namespace, only the namespaces labelled for it), and which namespaces
carry those labels."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from alignment import lane_labels
from alignment.admission import install
from alignment.models import AdmissionInstallation
from alignment.rules import LaneSpec
from tests.factories import ClusterFactory

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
URL = "https://admission.example.com:9443/validate/prod"
NAME = "driftcontrol-admission"
LANES = (
    LaneSpec("controlled", ("shop", "payments-*")),
    LaneSpec("fast", ("sandbox-*",)),
)


def webhook(configuration: dict[str, Any]) -> dict[str, Any]:
    (only,) = configuration["webhooks"]
    return only


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}}}


def test_the_configuration_fails_open_within_two_seconds_without_side_effects(settings):
    settings.ADMISSION_TIMEOUT_SECONDS = 2

    configuration = install.configuration(NAME, URL, CA)

    assert configuration["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert configuration["kind"] == "ValidatingWebhookConfiguration"
    assert configuration["metadata"]["name"] == NAME
    found = webhook(configuration)
    assert found["name"] == "lanes.admission.driftcontrol.io"
    assert found["failurePolicy"] == "Ignore"
    assert found["timeoutSeconds"] == 2
    assert found["sideEffects"] == "None"
    assert found["admissionReviewVersions"] == ["v1"]
    assert found["matchPolicy"] == "Equivalent"
    assert found["clientConfig"] == {"url": URL, "caBundle": base64.b64encode(CA.encode()).decode()}


@pytest.mark.parametrize(("configured", "written"), [(1, 1), (2, 2), (10, 2)])
def test_the_timeout_is_never_above_two_seconds(settings, configured, written):
    settings.ADMISSION_TIMEOUT_SECONDS = configured

    assert webhook(install.configuration(NAME, URL, CA))["timeoutSeconds"] == written


def test_the_selector_matches_its_own_label_and_never_the_control_plane_or_driftcontrol(
    settings,
):
    settings.ADMISSION_NAMESPACE = "platform-driftcontrol"

    selector = webhook(install.configuration("dc-staging", URL, CA))["namespaceSelector"]

    assert selector == {
        "matchExpressions": [
            {"key": "driftcontrol.io/admission", "operator": "In", "values": ["dc-staging"]},
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": ["kube-system", "platform-driftcontrol"],
            },
        ]
    }


def test_the_rules_judge_changes_to_what_a_lane_runs_but_not_the_control_planes_bookkeeping():
    rules = webhook(install.configuration(NAME, URL, CA))["rules"]

    covered = {(group, resource) for rule in rules for group in rule["apiGroups"]
               for resource in rule["resources"]}  # fmt: skip
    assert {("apps", "deployments"), ("apps", "deployments/scale"), ("", "secrets"),
            ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "rolebindings"),
            ("networking.k8s.io", "networkpolicies"), ("batch", "cronjobs"),
            ("policy", "poddisruptionbudgets"),
            ("autoscaling", "horizontalpodautoscalers")} <= covered  # fmt: skip
    assert not {resource for _, resource in covered} & {"events", "leases", "endpoints"}
    assert {(tuple(rule["operations"]), rule["scope"]) for rule in rules} == {
        (("CREATE", "UPDATE", "DELETE"), "Namespaced")
    }


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://admission.example.com:9443", URL),
        ("https://admission.example.com:9443/", URL),
        (
            "https://gw.example.com/driftcontrol",
            "https://gw.example.com/driftcontrol/validate/prod",
        ),
    ],
)
def test_the_url_names_the_cluster(base, expected):
    assert install.webhook_url(base, "prod") == expected


@pytest.mark.parametrize(
    ("base", "said"),
    [
        ("http://admission.example.com:9443", "must be https"),
        ("admission.example.com:9443", "must be https"),
        ("https://admission.example.com/?cluster=prod", "no query"),
        ("https://user:pw@admission.example.com", "no query, fragment or user"),
    ],
)
def test_a_url_the_api_server_would_not_call_is_refused(base, said):
    with pytest.raises(install.InstallError, match=said):
        install.webhook_url(base, "prod")


def test_each_namespace_of_one_lane_is_labelled_with_the_configuration_and_its_lane():
    listed = [namespace("shop"), namespace("payments-eu"), namespace("sandbox-7"),
              namespace("default")]  # fmt: skip

    planned = lane_labels.plan(listed, LANES, NAME, ("kube-system", "driftcontrol"))

    assert planned.matched == {"shop": "controlled", "payments-eu": "controlled",
                               "sandbox-7": "fast"}  # fmt: skip
    assert planned.label == planned.matched
    assert planned.unlabel == ()


def test_namespaces_labelled_already_are_left_alone():
    labels = {"driftcontrol.io/admission": NAME, "driftcontrol.io/lane": "controlled"}
    listed = [namespace("shop", **labels), namespace("sandbox-7", **labels)]

    planned = lane_labels.plan(listed, LANES, NAME, ("kube-system",))

    # shop is labelled as it must be; sandbox-7 carries another lane's name.
    assert planned.label == {"sandbox-7": "fast"}
    assert planned.matched == {"shop": "controlled", "sandbox-7": "fast"}


def test_a_namespace_no_lane_owns_any_more_loses_the_labels_of_this_configuration_only():
    ours = {"driftcontrol.io/admission": NAME, "driftcontrol.io/lane": "controlled"}
    theirs = {"driftcontrol.io/admission": "another-driftcontrol", "driftcontrol.io/lane": "x"}
    listed = [namespace("old-shop", **ours), namespace("elsewhere", **theirs)]

    planned = lane_labels.plan(listed, LANES, NAME, ("kube-system",))

    assert planned.unlabel == ("old-shop",)
    assert planned.matched == {}


def test_kube_system_and_driftcontrols_namespace_are_never_labelled_even_by_a_catch_all_lane():
    everything = (LaneSpec("platform", ("*",)),)
    ours = {"driftcontrol.io/admission": NAME, "driftcontrol.io/lane": "platform"}
    listed = [namespace("kube-system", **ours), namespace("driftcontrol"), namespace("web")]

    planned = lane_labels.plan(listed, everything, NAME, ("driftcontrol", "kube-system"))

    assert planned.matched == {"web": "platform"}
    assert planned.unlabel == ("kube-system",)  # someone labelled it by hand: taken off


def test_a_namespace_two_lanes_own_is_not_matched():
    overlapping = (*LANES, LaneSpec("other", ("shop",)))
    ours = {"driftcontrol.io/admission": NAME, "driftcontrol.io/lane": "controlled"}

    planned = lane_labels.plan([namespace("shop", **ours)], overlapping, NAME, ())

    assert planned.matched == {}
    assert planned.contested == {"shop": ("controlled", "other")}
    assert planned.unlabel == ("shop",)


@pytest.mark.django_db
def test_a_scan_keeps_no_labels_where_the_webhook_is_not_installed(settings):
    settings.ADMISSION_WEBHOOK_NAME = NAME
    cluster = ClusterFactory()
    AdmissionInstallation.objects.create(
        cluster=cluster, name="another-name", url=URL, mode="deny", installed_at="2026-01-01T00:00Z"
    )

    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"the cluster was asked for {name}")

    assert lane_labels.keep(cluster, Untouchable()) is None  # type: ignore[arg-type]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Upper", "x" * 64, "with space", "-leading"])
def test_a_configuration_name_that_cannot_be_a_label_value_is_refused(settings, name):
    settings.ADMISSION_WEBHOOK_NAME = name

    with pytest.raises(install.InstallError, match="ADMISSION_WEBHOOK_NAME"):
        install.install(ClusterFactory(), URL.removesuffix("/validate/prod"))
