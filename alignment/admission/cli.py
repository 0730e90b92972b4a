"""`manage.py drift admission serve|install|uninstall|status`: the admission webhook's
process, its configuration in a cluster, and whether it is there and answering."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from alignment.admission import install as installing
from alignment.admission.availability import GRACE_HEARTBEATS
from alignment.models import AdmissionCertificate, AdmissionInstallation, AdmissionServer
from drift.models import Cluster
from driftcontrol.cli.base import Command, Console, Group, cli_actor

OK, ERROR = 0, 1


def _serve_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9443, help="port to listen on (TLS)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the port (SO_REUSEPORT), each deciding on a core of its own",
    )


def serve(options: Namespace, console: Console) -> int | None:
    # Imported here: the server's modules (asyncio, TLS) are for this command alone.
    from alignment.admission.serving import serve as run

    return run(options, console)


def _credentials_argument(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="credentials for this one change (an administrator's; never stored): writing "
        "a ValidatingWebhookConfiguration and labelling namespaces needs more than the "
        "cluster's scanner identity may do",
    )


def _uninstall_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--cluster", required=True, metavar="NAME")
    _credentials_argument(parser)


def _install_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--cluster", required=True, metavar="NAME")
    _credentials_argument(parser)
    parser.add_argument(
        "--url",
        help="https://HOST[:PORT] where the cluster's API server reaches `drift admission "
        "serve` (default: ADMISSION_PUBLIC_URL)",
    )
    parser.add_argument(
        "--mode",
        choices=installing.MODES,
        default="deny",
        help="warn caps every lane at warn on this cluster (default: deny, as each lane says)",
    )


def install(options: Namespace, console: Console) -> int:
    cluster = _cluster(options.cluster, console)
    if cluster is None:
        return ERROR
    try:
        kubeconfig = _read(options.kubeconfig)
        done = installing.install(cluster, options.url, options.mode, cli_actor(), kubeconfig)
    except (installing.InstallError, OSError) as error:
        console.warn(str(error))
        return ERROR
    installation, planned = done.installation, done.plan
    console.success(
        f"cluster {cluster.name}: ValidatingWebhookConfiguration {installation.name} calls "
        f"{installation.url} (mode {installation.mode}, failurePolicy Ignore)"
    )
    for namespace, lane in sorted(planned.matched.items()):
        changed = " (labelled now)" if namespace in planned.label else ""
        console.print(f"  {namespace}\tlane {lane}{changed}")
    for namespace in planned.unlabel:
        console.print(f"  {namespace}\tno lane's any more: labels removed")
    for namespace, lanes in sorted(planned.contested.items()):
        console.warn(
            f"  {namespace}: owned by lanes {', '.join(lanes)}; not matched until one lane "
            "owns it (its lane.namespace finding says which)"
        )
    if not planned.matched:
        console.warn(
            f"no namespace of cluster {cluster.name} belongs to one of its lanes: the "
            "webhook is installed but judges nothing yet"
        )
    return OK


def uninstall(options: Namespace, console: Console) -> int:
    cluster = _cluster(options.cluster, console)
    if cluster is None:
        return ERROR
    try:
        done = installing.uninstall(cluster, cli_actor(), _read(options.kubeconfig))
    except (installing.InstallError, OSError) as error:
        console.warn(str(error))
        return ERROR
    said = "removed" if done.removed else "was not installed"
    console.success(
        f"cluster {cluster.name}: the admission webhook {said}; labels removed from "
        f"{len(done.unlabelled)} namespace(s)"
    )
    return OK


def status(options: Namespace, console: Console) -> int:
    installations = AdmissionInstallation.objects.select_related("cluster")
    if options.cluster:
        cluster = _cluster(options.cluster, console)
        if cluster is None:
            return ERROR
        installations = installations.filter(cluster=cluster)
    now = timezone.now()
    shown = installations.filter(removed_at=None).order_by("cluster__name", "name")
    for row in shown:
        console.print(
            f"{row.cluster.name}\t{row.name}\tmode {row.mode}\t{row.url}\t"
            f"{len(row.namespaces)} namespace(s)\tsince {row.installed_at:%Y-%m-%d %H:%M} "
            f"by {row.installed_by or 'unknown'}"
        )
    if not shown:
        where = f"cluster {options.cluster}" if options.cluster else "any cluster"
        console.print(f"the admission webhook is not installed on {where}")
    serving = AdmissionCertificate.objects.filter(role="serving").first()
    if serving is None:
        console.print("serving certificate: none yet (`drift admission serve` creates it)")
    else:
        left = (serving.not_after - now).days
        console.print(
            f"serving certificate: valid until {serving.not_after:%Y-%m-%d %H:%M} UTC "
            f"({left} days), for {', '.join(serving.hosts) or 'no host'}"
        )
    console.print(_server_line(now))
    return OK


def _server_line(now: datetime) -> str:
    server = AdmissionServer.objects.order_by("-seen_at").first()
    if server is None:
        return "server: `drift admission serve` has never run"
    ago = int((now - server.seen_at).total_seconds())
    if server.stopped_at is not None:
        return f"server: {server.address} stopped at {server.stopped_at:%Y-%m-%d %H:%M:%S} UTC"
    silent = ago > GRACE_HEARTBEATS * settings.ADMISSION_HEARTBEAT_SECONDS
    state = "silent (gone?)" if silent else "answering"
    return (
        f"server: {server.address} on {server.hostname or '?'}, last heartbeat {ago}s ago ({state})"
    )


def _cluster(name: str, console: Console) -> Cluster | None:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        console.warn(f"no cluster named {name!r} (`drift export` lists the clusters)")
    return cluster


GROUP = Group(
    "admission",
    "The admission webhook: serve it, install it into a cluster, see its state",
    [
        Command("serve", "run the webhook (TLS AdmissionReview v1)", serve, _serve_arguments),
        Command(
            "install",
            "write the ValidatingWebhookConfiguration and label the lane namespaces",
            install,
            _install_arguments,
        ),
        Command(
            "uninstall",
            "remove the configuration and the namespace labels",
            uninstall,
            _uninstall_arguments,
        ),
        Command(
            "status",
            "installations, the serving certificate's expiry, the server's last heartbeat",
            status,
            lambda parser: parser.add_argument("--cluster", metavar="NAME"),
        ),
    ],
)


def _read(path: Path | None) -> str | None:
    """The kubeconfig file's text (OSError names the file when it cannot be read)."""
    return path.read_text() if path is not None else None
