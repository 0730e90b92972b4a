"""The admission webhook (`drift admission serve`, `drift admission install`): where the
API servers reach it, its certificate's life, and how fresh its picture of the lanes is."""

from driftcontrol import env

ADMISSION_PUBLIC_URL = env.string(
    "ADMISSION_PUBLIC_URL",
    "https://127.0.0.1:9443",
    "where the API servers reach `drift admission serve` (install's default --url)",
)
ADMISSION_HOSTS = env.string_list(
    "ADMISSION_HOSTS",
    ["127.0.0.1", "localhost"],
    "names and IPs the webhook's serving certificate is valid for (the URL's host is added)",
)
ADMISSION_CERT_DAYS = env.integer(
    "ADMISSION_CERT_DAYS", 90, "days a serving certificate of the webhook is valid", minimum=2
)
ADMISSION_CERT_RENEW_DAYS = env.integer(
    "ADMISSION_CERT_RENEW_DAYS",
    30,
    "days before expiry the webhook's serving certificate is replaced (same CA)",
    minimum=1,
)
ADMISSION_REFRESH_SECONDS = env.integer(
    "ADMISSION_REFRESH_SECONDS",
    2,
    "seconds between the webhook's checks for changed lanes, Git objects and verdicts",
    minimum=1,
)
ADMISSION_HEARTBEAT_SECONDS = env.integer(
    "ADMISSION_HEARTBEAT_SECONDS",
    2,
    "seconds between the webhook's heartbeats and batched decision writes",
    minimum=1,
)
ADMISSION_WEBHOOK_NAME = env.string(
    "ADMISSION_WEBHOOK_NAME",
    "driftcontrol-admission",
    "name of the ValidatingWebhookConfiguration install writes (and the namespace label value)",
)
ADMISSION_NAMESPACE = env.string(
    "ADMISSION_NAMESPACE",
    "driftcontrol",
    "DriftControl's own namespace in a cluster: never matched by the webhook",
)
ADMISSION_TIMEOUT_SECONDS = env.integer(
    "ADMISSION_TIMEOUT_SECONDS",
    2,
    "timeoutSeconds of the webhook (1 or 2): how long an API server waits before failing open",
    minimum=1,
)
