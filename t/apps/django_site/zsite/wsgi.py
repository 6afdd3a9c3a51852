"""The WSGI application of the test project: wsgi_app = "zsite.wsgi:application"
with the folder that contains manage.py in python_path."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zsite.settings")

application = get_wsgi_application()
