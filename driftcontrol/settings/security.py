"""Signing in, cookies and the headers that keep browsers safe."""

from __future__ import annotations

from driftcontrol import env

# --- Authentication ---------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed sign-ins are counted per account (the name typed, whether it exists or not, so the
# answer never tells which names exist) and per client address (driftcontrol.lockout).
# A lock is time-boxed and never grows, and attempts refused while locked do not count: to
# keep someone locked out, an attacker must spend fresh guesses every lockout period, each
# one an audit event, and one address can lock at most 20 / 5 = 4 accounts per window.
LOGIN_FAILURES_PER_ACCOUNT = env.integer(
    "LOGIN_FAILURES_PER_ACCOUNT", 5, "failed sign-ins that lock an account for a while", minimum=1
)
LOGIN_FAILURES_PER_ADDRESS = env.integer(
    "LOGIN_FAILURES_PER_ADDRESS",
    20,
    "failed sign-ins from one address that lock the address for a while",
    minimum=1,
)
LOGIN_FAILURE_WINDOW_SECONDS = env.integer(
    "LOGIN_FAILURE_WINDOW_SECONDS", 900, "how long a failed sign-in is counted", minimum=1
)
LOGIN_LOCKOUT_SECONDS = env.integer(
    "LOGIN_LOCKOUT_SECONDS", 900, "how long a locked account or address waits", minimum=1
)
# Tokens are 256-bit random values: nobody guesses one, so these failures are a scanner or
# a broken integration; both are stopped before the token is even looked up.
TOKEN_FAILURES_PER_ADDRESS = env.integer(
    "TOKEN_FAILURES_PER_ADDRESS",
    30,
    "bad API tokens from one address per window before it gets 429 for a window",
    minimum=1,
)
TOKEN_FAILURE_WINDOW_SECONDS = env.integer(
    "TOKEN_FAILURE_WINDOW_SECONDS",
    600,
    "how long a bad API token is counted, and how long the 429s last",
    minimum=1,
)

# --- TLS, cookies and proxies -------------------------------------------------------------

BEHIND_TLS_PROXY = env.boolean(
    "BEHIND_TLS_PROXY", False, "trust X-Forwarded-Proto from a TLS proxy; implies secure cookies"
)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# TLS implies secure cookies. SECURE_COOKIES is for TLS the app cannot see (a proxy that
# sends no X-Forwarded-Proto); besides, driftcontrol.security marks every cookie of a
# request that arrived over TLS secure.
SECURE_COOKIES = (
    env.boolean("SECURE_COOKIES", False, "send session and CSRF cookies over HTTPS only")
    or BEHIND_TLS_PROXY
)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
# Per-address limits need the client's address, not the proxy's: each trusted proxy appends
# the address it saw to X-Forwarded-For, so the client is that many entries from the end.
# Entries further left are whatever the client claimed and are never trusted.
TRUSTED_PROXY_COUNT = env.integer(
    "TRUSTED_PROXY_COUNT",
    1 if BEHIND_TLS_PROXY else 0,
    "reverse proxies that append to X-Forwarded-For (1 with BEHIND_TLS_PROXY, else 0)",
    minimum=0,
)

# Django's SecurityMiddleware sends HSTS only on requests that arrived over TLS, so a
# plain-HTTP (embedded) install never sees it. Subdomains and preloading commit hosts
# this server does not know about: they are the operator's decision.
SECURE_HSTS_SECONDS = env.integer(
    "SECURE_HSTS_SECONDS", 31_536_000, "HSTS max-age sent over TLS; 0 sends none", minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", False, "HSTS covers every subdomain too"
)
SECURE_HSTS_PRELOAD = env.boolean(
    "SECURE_HSTS_PRELOAD", False, "ask browsers to preload HSTS for this domain"
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Content-Security-Policy (sent by driftcontrol.security) -------------------------------

CSP_REPORT_ONLY = env.boolean(
    "CSP_REPORT_ONLY", False, "report Content-Security-Policy violations without enforcing"
)
CSP_REPORT_URI = "/csp-report"
# Every script and stylesheet is a file of this server: no inline script, no eval (htmx is
# told so by the htmx-config meta in base.html), no inline style, nothing from elsewhere.
# Plotly would insert its rules as an inline <style>: templates/includes/plotly.html hands
# them over as static/css/plotly.css instead. It draws through the CSSOM (element.style),
# which no policy restricts, so it needs neither 'unsafe-inline' nor 'unsafe-eval'.
CONTENT_SECURITY_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
    "report-uri": [CSP_REPORT_URI],
}
# Pages of other projects that cannot work under the policy above, with the directives
# they replace; tests/browser/test_security_policy.py visits each of them.
CSP_EXCEPTIONS: dict[str, dict[str, list[str]]] = {
    # Swagger UI draws its icons as data: SVG images.
    "/api/docs/": {"img-src": ["'self'", "data:"]},
    # django-celery-beat's periodic task form explains crontabs in one inline script; this
    # hash allows that script and nothing else (the admin stays free of inline script).
    "/admin/django_celery_beat/periodictask/": {
        "script-src": ["'self'", "'sha256-QE3U2xYF7B4J2ro1/9oxiKhaWCGW39gB7ocQ/xlD0bE='"],
    },
}
