"""Process exit codes of the ``mgops`` command, one name per outcome."""

OK = 0
GENERAL = 1
USAGE = 2
NOT_FOUND = 3
CONFLICT = 4
REFUSED = 5
UNAUTHORIZED = 6
UNAVAILABLE = 7
TARGET_FAILED = 8
TIMEOUT = 9
STORE = 10
INTERRUPTED = 130
