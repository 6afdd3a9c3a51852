"""Settings of the Django project that the integration tests run through
ZServer's WSGI adapter (t/integration/test_django.py). Written for Debian's
python3-django 3.2.

The SQLite database is db.sqlite3 in the folder that the environment
variable ZS_DJANGO_DATA_DIR names, or in data/ next to manage.py. The test
copies the project to a temporary folder and makes data/ writable for the
workers' user, because SQLite writes its journal next to the database.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("ZS_DJANGO_DATA_DIR", BASE_DIR / "data"))

# A fixed key is fine for a project that only ever runs in the tests.
SECRET_KEY = "zserver-tests-only-this-key-signs-nothing-of-value"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "zsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "zsite.urls"
WSGI_APPLICATION = "zsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# The test user has a short password of its own.
AUTH_PASSWORD_VALIDATORS = []

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True

# Relative, so Django puts the script prefix (SCRIPT_NAME) in front.
STATIC_URL = "static/"

# With DEBUG off, Django sends request errors only to mail_admins. Send
# them to stderr as well, which the server writes to its error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "stderr": {"class": "logging.StreamHandler"},
    },
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "WARNING"},
    },
}
