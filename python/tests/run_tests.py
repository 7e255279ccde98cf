"""CTest's entry to the pytest suite: `run_tests.py TESTS_DIR [pytest args]`.

Exits 77 (CTest's SKIP_RETURN_CODE) with a message naming the missing package when pytest or
numpy is absent, or when the built module cannot be imported; else pytest's exit code."""
import sys

for package, debian in (("pytest", "python3-pytest"), ("numpy", "python3-numpy")):
    try:
        __import__(package)
    except ImportError:
        print(f"skipped: the Python package '{package}' is not installed for {sys.executable} "
              f"(Debian: {debian}; scripts/setup-deps)")
        sys.exit(77)

import pytest  # noqa: E402

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", *sys.argv[1:]]))
