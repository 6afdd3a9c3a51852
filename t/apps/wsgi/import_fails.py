"""A module whose import fails, for the test of a wsgi_app that cannot be
loaded (t/integration/test_wsgi.py). The message names this file, so the
test can find it in the error log."""

IMPORT_ERROR_MESSAGE = "import_fails.py raises ImportError on purpose"

raise ImportError(IMPORT_ERROR_MESSAGE)
