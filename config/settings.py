"""Settings, all from the environment (see .env.example).

One module for every deployment: the defaults give a laptop set-up on SQLite,
production sets DATABASE_URL, SECRET_KEY, DEBUG=0, ALLOWED_HOSTS and EMAIL_URL.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no setting: 1/0, true/false, yes/no, on/off (any case); unset or empty is the
    default. Anything else is refused, so a typo ("ture", "Flase") never silently turns a
    security setting off."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is not a yes/no value: use one of 1/0, true/false, yes/no, on/off."
    )


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """The SECRET_KEY from the environment, else a key generated once into var/ (never committed)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _audit_hmac_key() -> tuple[str, str]:
    """The audit chain's HMAC key and where it came from: AUDIT_HMAC_KEY, else a key generated
    once into var/ (development). Never in the database: whoever can write the database
    without it cannot append an event that verifies (audit/services.py)."""
    if key := os.environ.get("AUDIT_HMAC_KEY"):
        return key, "env"
    path = VAR_DIR / "audit_hmac_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip(), "file"


AUDIT_HMAC_KEY, AUDIT_HMAC_KEY_SOURCE = _audit_hmac_key()
AUDIT_HMAC_OLD_KEYS = env_list("AUDIT_HMAC_OLD_KEYS")  # still verify events signed with these
# Events up to this number may be unkeyed (written before the chain was keyed); unset: any
# before the first keyed one. Set it to the number verify_audit prints once upgraded.
AUDIT_UNKEYED_MAX_SEQ = (
    int(os.environ["AUDIT_UNKEYED_MAX_SEQ"]) if os.environ.get("AUDIT_UNKEYED_MAX_SEQ") else None
)
# Where the daily check (verify_audit --export) writes the chain's head: outside the database.
AUDIT_HEAD_DIR = os.environ.get("AUDIT_HEAD_DIR", "")
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "guardian",
    "axes",
    "csp",
    "viewflow",
    "viewflow.workflow",
    "django_tasks",
    "django_tasks_db",
    "plans",
    "audit",
    "workflow",
    "documents",
]

MIDDLEWARE = [
    # First, so that every response has the policy, a 400 for an unknown Host header included.
    "csp.middleware.CSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # No LocaleMiddleware: the interface, its errors and the admin are Vietnamese
    # (LANGUAGE_CODE) whatever the browser's Accept-Language asks for.
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "config.middleware.SessionMaxAgeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "plans.context_processors.roles",
                "plans.context_processors.capabilities",
                "workflow.context_processors.notifications",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
    # failing half-way ("database is locked"); SQLite ignores SELECT ... FOR UPDATE.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME", "")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if test_name := os.environ.get("TEST_DB_NAME"):
        DATABASES["default"]["TEST"] = {"NAME": test_name}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username + IP before any password is checked (django-axes).
    "config.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
GUARDIAN_RAISE_403 = True
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# Failed logins (django-axes): 5 failures of one username from one IP lock that pair for 15 min;
# 20 failures of one username from any addresses (guessing spread over many machines) lock
# that username everywhere for 15 min (config.auth.LoginLockoutHandler: one limit each).
AXES_HANDLER = "config.auth.LoginLockoutHandler"
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
LOGIN_FAILURE_LIMITS = [AXES_FAILURE_LIMIT, 20]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_CLIENT_IP_CALLABLE = "config.auth.client_ip"
AXES_VERBOSE = False

# Sessions: idle ones end after 30 minutes (the expiry moves on with activity, saved at
# most once a minute), any session after 12 hours whatever the activity
# (config.middleware.SessionMaxAgeMiddleware).
SESSION_COOKIE_AGE = 30 * 60
SESSION_REFRESH_SECONDS = 60
SESSION_MAX_AGE_SECONDS = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "config.views.csrf_failure"
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY")
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy (django-csp): only this site's own scripts, styles and images;
# no inline script or style anywhere (tests/security/test_headers.py checks the templates).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Language, time -----------------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["config.formats"]

# --- Files --------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))  # filled by collectstatic
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# The .ttf fonts are for the PDFs, which WeasyPrint reads from BASE_DIR/static (reports/pdf.py);
# no browser downloads them, and Brotli on them was two thirds of collectstatic's time.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "ttf"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "config.staticfiles.ProductAppDirectoriesFinder",  # every app but viewflow
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names from the manifest `collectstatic` writes (config/staticfiles.py
    # says what is collected). With DEBUG on, the plain names; tests use plain storage
    # (tests/conftest.py), except the production-path ones (tests/security/test_static_files.py).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Evidence files live outside any served URL; only a permission-checked view streams them.
EVIDENCE_ROOT = Path(os.environ.get("EVIDENCE_ROOT", VAR_DIR / "evidence"))
EVIDENCE_MAX_BYTES = int(os.environ.get("EVIDENCE_MAX_BYTES", str(20 * 1024 * 1024)))
PLAN_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440


# --- Mail ---------------------------------------------------------------------------------
def _email_settings(url: str) -> dict[str, object]:
    """EMAIL_URL: smtp://user:password@host:587 (smtp+ssl:// for implicit TLS) or console://."""
    if not url or url.startswith("console:"):
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parts = urlsplit(url)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or 25,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": parts.scheme == "smtp+ssl",
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls" or parts.port == 587,
    }


globals().update(_email_settings(os.environ.get("EMAIL_URL", "")))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "cchc@sct.local")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))  # seconds; only the mail worker connects
# A failed delivery is tried again after these many seconds, then marked failed (workflow/mail.py).
MAIL_RETRY_DELAYS = tuple(int(s) for s in env_list("MAIL_RETRY_DELAYS", "60,300,1800"))
# MAIL_DIGEST=1: no mail per event; `manage.py send_digest` mails each person the day's
# notifications once a day (README: cron). Off: one mail per notification, as it happens.
MAIL_DIGEST = env_bool("MAIL_DIGEST")

# --- Background jobs (django-tasks): queued in the database, in the action's transaction;
# run by `manage.py db_worker` (README: Production notes).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- The workflow -------------------------------------------------------------------------
# Internal deadlines of each reporting period, as (month, day) in the plan's year: before
# the national data cut-offs 14/3, 14/6, 14/9, 14/12. Editable per plan once launched.
PERIOD_DEADLINES = {"Q1": (3, 10), "H1": (6, 10), "Q3": (9, 10), "Y": (12, 10)}
# Each step's due date = the period deadline + this many WORKING days (negative: earlier);
# see docs/calendar.md.
STEP_DUE_OFFSETS = {"lead": -6, "partner": -4, "review": -2, "sign_off": 0}
# Reminders this many working days before a step's due date (and once when it is missed).
REMINDER_DAYS = (7, 3, 1)
# A due date or period deadline on a day off moves to the "previous" or "next" working day.
DUE_DATE_SHIFT = os.environ.get("DUE_DATE_SHIFT", "previous")
if DUE_DATE_SHIFT not in ("previous", "next"):
    raise ValueError("DUE_DATE_SHIFT must be 'previous' or 'next'")
# A step re-opened by a return is due this many working days after the return.
REWORK_WORKING_DAYS = int(os.environ.get("REWORK_WORKING_DAYS", "3"))
# How long a worker keeps a year of the working-day calendar (plans.calendar).
WORKING_CALENDAR_CACHE_SECONDS = 60
# How long a worker keeps the period pickers' list of every period (workflow.selectors).
PERIOD_PICKER_CACHE_SECONDS = 60

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # A 403 or a refused Host header is one line, without the traceback (config/log.py).
    "filters": {"one_line_client_errors": {"()": "config.log.OneLineClientErrors"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["one_line_client_errors"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
