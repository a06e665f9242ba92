"""Test-session setup shared by the unit tests and the notebooks (`pytest --nbmake`).

Runs and the cache go to fresh temporary folders, so a test session never reuses (or is refused by, or decided by a
stale file in) a developer's own runs and `~/.cache/pand`: the session draws its own miniature world once and loads
the shipped teacher and student, as a new user would. `PAND_TEST_CACHE=DIR` names a cache folder to keep across sessions instead
(faster when iterating; never the user's default cache unless named).
"""

import atexit
import os
import shutil
import tempfile

os.environ["PAND_RUNS"] = tempfile.mkdtemp(prefix="pand-test-runs-")
if os.environ.get("PAND_TEST_CACHE"):
    os.environ["PAND_CACHE"] = os.environ["PAND_TEST_CACHE"]
else:
    os.environ["PAND_CACHE"] = tempfile.mkdtemp(prefix="pand-test-cache-")
    atexit.register(shutil.rmtree, os.environ["PAND_CACHE"], ignore_errors=True)
os.environ.setdefault("PAND_PROFILE", "smoke")
