"""numpy/OpenBLAS peer for bench/cpu-matmul.ts: prints one JSON object.

sgemm GFLOP/s (float32 A[m,k] @ W[n,k].T, the Linear layout), matvec read bandwidth (bytes of W
per second) and copy bandwidth (np.copyto of a 256 MiB array, read + write bytes counted), each
the best of several runs.

usage: python3 peer_numpy.py --shape M N K [--shape M N K ...]
"""
import argparse
import json
import time

import numpy as np


def best_seconds(fn, min_reps=5, min_seconds=0.3):
    fn()
    best = float("inf")
    start = time.perf_counter()
    reps = 0
    while reps < min_reps or time.perf_counter() - start < min_seconds:
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
        reps += 1
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", nargs=3, type=int, action="append", default=[], metavar=("M", "N", "K"))
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    shapes = []
    for m, n, k in args.shape:
        a = rng.standard_normal((m, k), dtype=np.float32)
        w = rng.standard_normal((n, k), dtype=np.float32)
        out = np.empty((m, n), dtype=np.float32)
        s = best_seconds(lambda: np.matmul(a, w.T, out=out))
        shapes.append({"m": m, "n": n, "k": k, "ms": s * 1e3, "gflops": 2 * m * n * k / s / 1e9,
                       "weight_gbps": 4 * n * k / s / 1e9})

    src = np.ones(64 << 20, dtype=np.float32)
    dst = np.empty_like(src)
    s = best_seconds(lambda: np.copyto(dst, src))
    copy_gbps = 2 * src.nbytes / s / 1e9

    print(json.dumps({"numpy": np.__version__, "shapes": shapes, "copy_gbps": copy_gbps}))


if __name__ == "__main__":
    main()
