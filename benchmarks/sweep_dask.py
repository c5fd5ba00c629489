"""Time the 10,000-cell sweep on a two-worker dask LocalCluster (compare with local processes).

python benchmarks/sweep_dask.py results/bench-dask
"""

import sys
import time

from coupling.simulate.sweep import expand_cells, load_spec, run_sweep
from dask.distributed import Client, LocalCluster

if __name__ == "__main__":
    spec = load_spec("benchmarks/sweep_10k.toml")
    out = sys.argv[1] if len(sys.argv) > 1 else "results/bench-dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            t0 = time.perf_counter()
            done, total = run_sweep(spec, f"{out}/sweep.sqlite", client.get_executor(), batch=50)
            seconds = time.perf_counter() - t0
    print(f"dask LocalCluster, 2 workers: {done}/{total} cells in {seconds:.1f} s")
    print(f"cells in spec: {len(expand_cells(spec))}")
