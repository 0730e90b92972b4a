"""The demo's admission webhook: `drift admission serve` runs with the demo's other
processes (scripts/demo, on 127.0.0.1:DEMO_ADMISSION_PORT); once it answers, lane
`controlled` is put in mode warn with a break-glass group `sre`, the webhook is installed
on east, and two people change the shop through the API server: alice (not one of the
lane's deployers) scales a Deployment Git manages and kubectl prints the webhook's warning;
sam, on call in group `sre`, scales another through break-glass, which the webhook lets
through and raises as a lane.break-glass finding. The Admission page then has both.

Once per story (a marker in var/), like the rest of the seed: later starts leave the
installation and the lane as they are.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
DEVCLUSTER = str(ROOT / "scripts" / "devcluster")
CLUSTER = "east"
LANE = "controlled"
NAMESPACE = "shop"
ON_CALL = "sre"
# The break-glass group may edit the shop, as the on-call engineers' group would.
ON_CALL_BINDING = f"""apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: shop-on-call, namespace: {NAMESPACE}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}}
subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: Group, name: {ON_CALL}}}]
"""


def say(text: str) -> None:
    print(f"demo: {text}", flush=True)


def answering(port: int) -> bool:
    """Whether the server answers /healthz with 200: it holds every cluster's lanes. Its
    certificate is signed by DriftControl's own CA, which this check does not need."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/healthz", timeout=2, context=context
        ) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def kubectl(*args: str, user: str = "admin") -> str:
    """kubectl on east as ``user``; what it printed on stderr (the webhook's warnings)."""
    done = subprocess.run(
        [DEVCLUSTER, "kubectl", "--name", CLUSTER, "--user", user, "--", *args],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(
            f"demo: kubectl {' '.join(args)} failed on {CLUSTER}: "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stderr


def warn_in_lane() -> None:
    """Lane controlled in mode warn, group sre its break-glass group, as `drift apply`
    would set them."""
    from drift import declarative
    from drift.declarative import export
    from drift.models import Lane

    document = export.lane(Lane.objects.get(name=LANE))
    document["spec"]["admission"] = {"mode": "warn", "breakGlassGroups": [ON_CALL]}
    declarative.apply([document], "system:demo")


def install(port: int) -> None:
    """`drift admission install` as a person types it (the demo's settings in the env), with
    east's admin credentials for the one change: DriftControl's own identity there may only
    read, and writing a webhook configuration takes more."""
    admin = subprocess.run(
        [DEVCLUSTER, "kubeconfig", "--name", CLUSTER, "--user", "admin"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "drift", "admission", "install", "--cluster", CLUSTER,
         "--url", f"https://127.0.0.1:{port}", "--mode", "warn", "--kubeconfig", admin],
        cwd=ROOT, check=True,
    )  # fmt: skip


def changes_by_hand() -> None:
    """alice scales adservice (warned); sam of group sre scales cartservice (break-glass).
    The admin's kubeconfig impersonates sam, as `kubectl --as` does for anyone allowed to."""
    printed = kubectl("scale", "-n", NAMESPACE, "deployment/adservice", "--replicas=2",
                      user="alice")  # fmt: skip
    for line in printed.splitlines():
        if line.startswith("Warning:"):
            say(f"kubectl told alice: {line}")
    kubectl("scale", "-n", NAMESPACE, "deployment/cartservice", "--replicas=2",
            "--as=sam", f"--as-group={ON_CALL}")  # fmt: skip


def after_start(port: int) -> None:
    """Once the admission server answers: the lane in warn mode, the webhook on east, and
    two changes through it (see the module's text). Once per story."""
    from django.db import connection

    marker = Path(settings.VAR_DIR) / "demo-admission"
    if marker.exists():
        return
    try:
        _tell(port, marker)
    finally:
        connection.close()  # this thread's own


def _tell(port: int, marker: Path) -> None:
    deadline = time.monotonic() + 300
    while not answering(port):
        if time.monotonic() >= deadline:
            say(f"the admission server on 127.0.0.1:{port} did not answer; not installing it")
            return
        time.sleep(1)
    warn_in_lane()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as binding:
        binding.write(ON_CALL_BINDING)
        binding.flush()
        kubectl("apply", "-f", binding.name)
    install(port)
    # The server rebuilds east's world when the lane changed (ADMISSION_REFRESH_SECONDS).
    time.sleep(3 * settings.ADMISSION_REFRESH_SECONDS)
    changes_by_hand()
    say("admission webhook installed on east, lane controlled in warn mode: alice's scale "
        "was warned, sam's went through break-glass (a lane.break-glass finding); "
        "see /admission/")  # fmt: skip
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
