"""`Kube`, a connection to one cluster: the transport with each part of the API on top."""

from __future__ import annotations

from drift.kube.admission import Admission
from drift.kube.discovery import Discovering
from drift.kube.reading import Reading
from drift.kube.watching import Watching
from drift.kube.writing import Writing


class Kube(Discovering, Reading, Watching, Writing, Admission):
    """A connection to one cluster, from a kubeconfig's content, an optional context and
    what the server's configuration lets kubeconfigs use (`CredentialPolicy`).

    `Transport` reads the kubeconfig (through `kubeconfig`, which refuses commands and
    files) and sends the requests; each base adds its part of the API.
    """
