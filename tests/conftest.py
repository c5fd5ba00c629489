import os

# Before anything loads torch: OpenMP threads that spin while they wait starve each other on a
# busy 2-core machine (a verify pass went from 0.11 s to 4.1 s); the command line's policy
# (passive after a short spin, coupling.simulate.validation.OPENMP_ENV) avoids it.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.update(OMP_WAIT_POLICY="PASSIVE", GOMP_SPINCOUNT="3000")

import numba
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz", deadline=None, max_examples=5000, suppress_health_check=list(HealthCheck)
)
settings.load_profile(
    os.environ.get("COUPLING_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)
