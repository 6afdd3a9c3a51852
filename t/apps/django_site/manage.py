#!/usr/bin/python3
"""Run Django's management commands for the test project, for example
`/usr/bin/python3 manage.py migrate`. The database lives in the folder that
ZS_DJANGO_DATA_DIR names, or in data/ next to this file (zsite/settings.py)."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zsite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
