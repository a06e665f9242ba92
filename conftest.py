"""Test-session setup shared by the unit tests and the notebooks (`pytest --nbmake`).

Runs go to a fresh temporary folder, so a test session never reuses (or is refused by) a developer's own runs.
The cache ($PAND_CACHE: synthetic data, small teacher, feature caches) is kept: it is deterministic and keyed.
"""

import os
import tempfile

os.environ["PAND_RUNS"] = tempfile.mkdtemp(prefix="pand-test-runs-")
os.environ.setdefault("PAND_PROFILE", "smoke")
