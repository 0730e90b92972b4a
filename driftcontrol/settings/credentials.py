"""Cluster credentials: which credential plugins and files a kubeconfig may use.

Kubeconfigs come through the API and `drift apply`, from whoever may configure clusters;
what they may make this server run or read is decided here, by its operator, alone.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from driftcontrol import env

KUBECONFIG_EXEC_ALLOWLIST = env.string_list(
    "KUBECONFIG_EXEC_ALLOWLIST",
    [],
    "absolute paths of the credential plugins kubeconfigs may run (exec), comma-separated",
)
for _path in KUBECONFIG_EXEC_ALLOWLIST:
    if not os.path.isabs(_path):
        raise ImproperlyConfigured(
            f"KUBECONFIG_EXEC_ALLOWLIST: {_path!r} is invalid: expected an absolute path "
            "(a kubeconfig's command is matched exactly, never looked up in PATH)"
        )

KUBECONFIG_EXEC_TIMEOUT_SECONDS = env.integer(
    "KUBECONFIG_EXEC_TIMEOUT_SECONDS",
    20,
    "longest a credential plugin may take to print its credential",
    minimum=1,
)

KUBECONFIG_FILE_ROOT = env.string(
    "KUBECONFIG_FILE_ROOT",
    "",
    "directory whose files kubeconfigs may name (tokenFile, client-certificate, ...); empty: none",
)
if KUBECONFIG_FILE_ROOT and not os.path.isabs(KUBECONFIG_FILE_ROOT):
    raise ImproperlyConfigured(
        f"KUBECONFIG_FILE_ROOT={KUBECONFIG_FILE_ROOT!r} is invalid: expected an absolute path"
    )
