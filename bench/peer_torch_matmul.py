"""torch peer for bench/gpu-matmul.ts: prints one JSON object with the best milliseconds of
float32 torch.matmul on the GPU (cuBLAS) with TF32 off, timed by CUDA events.

usage: python3 peer_torch_matmul.py --shape M N K nn|nt [--shape ...] [--reps 20]
  nn: A[M,K] @ B[K,N];  nt: x[M,K] @ W[N,K].T (the Linear layout)
"""
import argparse
import json

import torch


def best_ms(fn, reps):
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / reps)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", nargs=4, action="append", default=[], metavar=("M", "N", "K", "LAYOUT"))
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for m, n, k, layout in args.shape:
        m, n, k = int(m), int(n), int(k)
        a = torch.randn(m, k, device="cuda", generator=gen)
        b = torch.randn(n, k, device="cuda", generator=gen) if layout == "nt" else torch.randn(k, n, device="cuda", generator=gen)
        out = torch.empty(m, n, device="cuda")
        fn = (lambda: torch.matmul(a, b.T, out=out)) if layout == "nt" else (lambda: torch.matmul(a, b, out=out))
        rows.append({"m": m, "n": n, "k": k, "layout": layout, "ms": best_ms(fn, args.reps)})
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "shapes": rows}))


if __name__ == "__main__":
    main()
