"""drift.engine.displaced: the live list items a key edit put in place of declared ones."""

from __future__ import annotations

import copy

import yaml

from drift.engine.displaced import displaced

SERVICE = yaml.safe_load("""
apiVersion: v1
kind: Service
metadata: {name: checkout}
spec:
  selector: {app: checkout}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: grpc, port: 9999, targetPort: grpc}
""")


def live_of(manifest):
    """As the server keeps it: protocols filled in, a cluster IP, node ports."""
    live = copy.deepcopy(manifest)
    for port in live["spec"].get("ports", []):
        port.setdefault("protocol", "TCP")
    live["spec"]["clusterIP"] = "10.0.0.9"
    return live


def test_a_port_whose_number_was_edited_live_is_displaced():
    live = live_of(SERVICE)
    live["spec"]["ports"][1]["port"] = 9998

    [found] = displaced(SERVICE, live)

    assert found.pointer == "/spec/ports/1"
    assert found.keys == {"port": 9998, "protocol": "TCP"}
    assert found.replaces == SERVICE["spec"]["ports"][1]
    assert found.patch() == [
        {"op": "test", "path": "/spec/ports/1/port", "value": 9998},
        {"op": "test", "path": "/spec/ports/1/protocol", "value": "TCP"},
        {"op": "remove", "path": "/spec/ports/1"},
        {"op": "add", "path": "/spec/ports/1", "value": SERVICE["spec"]["ports"][1]},
    ]


def test_nothing_is_displaced_when_live_holds_every_declared_item():
    live = live_of(SERVICE)
    live["spec"]["ports"].append({"name": "metrics", "port": 9090, "protocol": "TCP"})

    assert displaced(SERVICE, live_of(SERVICE)) == []
    assert displaced(SERVICE, live) == []  # an added port is not in the way


def test_a_renamed_container_is_displaced_but_an_injected_sidecar_is_not():
    deployment = yaml.safe_load("""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        spec:
          containers:
          - {name: web, image: shop/web:1, ports: [{containerPort: 8080}]}
    """)
    renamed = copy.deepcopy(deployment)
    renamed["spec"]["template"]["spec"]["containers"][0]["name"] = "web-debug"
    with_sidecar = copy.deepcopy(deployment)
    with_sidecar["spec"]["template"]["spec"]["containers"].append({"name": "proxy", "image": "p"})

    [found] = displaced(deployment, renamed)
    assert (found.pointer, found.keys) == (
        "/spec/template/spec/containers/0",
        {"name": "web-debug"},
    )
    assert displaced(deployment, with_sidecar) == []


def test_a_port_inside_a_container_is_found_and_the_last_items_come_first():
    deployment = yaml.safe_load("""
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      template:
        spec:
          containers:
          - name: web
            image: shop/web:1
            ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]
    """)
    live = copy.deepcopy(deployment)
    ports = live["spec"]["template"]["spec"]["containers"][0]["ports"]
    ports[0]["containerPort"], ports[1]["containerPort"] = 8081, 9091

    found = displaced(deployment, live)

    assert [d.pointer for d in found] == [
        "/spec/template/spec/containers/0/ports/1",
        "/spec/template/spec/containers/0/ports/0",
    ]


def test_two_unnamed_items_changed_at_once_are_left_to_the_server():
    service = yaml.safe_load("""
    apiVersion: v1
    kind: Service
    metadata: {name: dns}
    spec:
      ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
    """)
    live = live_of(service)
    live["spec"]["ports"][0]["port"] = 5353
    live["spec"]["ports"][1]["port"] = 5354

    assert displaced(service, live) == []  # no way to tell which stands in for which


def test_what_a_dry_run_can_take_and_what_the_sync_will_make_of_it():
    from drift.engine.displaced import with_replacements, without_replaced

    live = live_of(SERVICE)
    live["spec"]["ports"][1]["port"] = 9998
    found = displaced(SERVICE, live)

    trimmed = without_replaced(SERVICE, found)
    assert trimmed["spec"]["ports"] == [SERVICE["spec"]["ports"][0]]
    assert len(SERVICE["spec"]["ports"]) == 2  # the declared object itself is not changed

    after = with_replacements(live, found)
    assert after["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "grpc", "port": 9999, "targetPort": "grpc"},
    ]
    assert live["spec"]["ports"][1]["port"] == 9998
