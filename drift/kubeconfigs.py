"""What a kubeconfig may use on this server (credential plugins, files it names): the
server's own configuration decides, never the kubeconfig's author. Below both the services
and declarative configuration, which check every kubeconfig someone gives through it."""

from __future__ import annotations

from django.conf import settings

from drift import kube


def credential_policy() -> kube.CredentialPolicy:
    return kube.CredentialPolicy(
        exec_allowlist=frozenset(settings.KUBECONFIG_EXEC_ALLOWLIST),
        file_root=settings.KUBECONFIG_FILE_ROOT,
        exec_timeout=float(settings.KUBECONFIG_EXEC_TIMEOUT_SECONDS),
    )


def check_kubeconfig(kubeconfig: str, context: str | None = None) -> str:
    """The API server of a kubeconfig someone gives (API, admin, `drift apply`), once it
    is found safe and usable on this server; raises kube.BadKubeconfig naming the fields."""
    return kube.check_kubeconfig(kubeconfig, context or None, credential_policy())


def inspect_kubeconfig(kubeconfig: str) -> None:
    """Refuse (kube.BadKubeconfig) a kubeconfig that asks for a command to run or a file to
    read that this server does not allow, even one too incomplete to use yet."""
    kube.inspect_kubeconfig(kubeconfig, credential_policy())
