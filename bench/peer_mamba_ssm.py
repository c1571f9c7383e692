"""GPU peers for bench/gpu-kernels.ts and bench/gpu-decode.ts: prints one JSON object.

  copy   device-to-device copy bandwidth through torch (bytes read + written per second)
  ssd    mamba_ssm's Triton mamba_chunk_scan_combined, fp32 inputs: forward, and forward +
         backward (torch.autograd.grad of y·dy with respect to x, dt, A, B, C, D, dt_bias)
  decode mamba_ssm Mamba-2 layers stepping one token at a time (Mamba2.step: in_proj, conv
         update, Triton selective_state_update, Triton gated RMSNorm, out_proj), embedding,
         RMSNorm and tied lm_head around them, greedy argmax; random weights, fp32, no CUDA graphs
  train  a Mamba-2 130M language model built as mamba_ssm's MixerModel / MambaLMHeadModel builds it
         (embedding; per layer the Triton fused residual-add + RMSNorm, then Mamba2; final fused
         add + RMSNorm; tied lm_head), fp32, cross-entropy, backward, torch.optim.AdamW (its
         default foreach implementation), optionally clip_grad_norm_(1.0): one step per call,
         loss.item() each step as bench/gpu-train.ts does. Without the causal_conv1d package
         (not on the GPU machine) Mamba2 cannot take its fused use_mem_eff_path (that path calls
         causal_conv1d's CUDA functions), so it runs the other path of Mamba2.forward:
         in_proj, torch nn.Conv1d + SiLU, Triton mamba_chunk_scan_combined (forward and
         backward), Triton gated RMSNorm, out_proj. The JSON says which conv ran.

Times are CUDA-event milliseconds, best of 3 rounds. mamba_ssm is not installed there: its
`mamba_ssm/` folder is copied from github:state-spaces/mamba into --vendor (git-ignored) and
imported without running its package __init__, which would pull in optional CUDA extensions.

usage: python3 peer_mamba_ssm.py --vendor vendor-peer copy --mib 1024
       python3 peer_mamba_ssm.py --vendor vendor-peer ssd --shape B L H P N Q
       python3 peer_mamba_ssm.py --vendor vendor-peer decode --batch 1 --batch 64 --tokens 64
       python3 peer_mamba_ssm.py --vendor vendor-peer train --batch 8 --seq-len 1024 --steps 5 --warmup 2
"""
import argparse
import json
import os
import sys
import types

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


def import_vendor(vendor):
    pkg = types.ModuleType("mamba_ssm")
    pkg.__path__ = [os.path.join(os.path.abspath(vendor), "mamba_ssm")]
    sys.modules["mamba_ssm"] = pkg


def copy(args):
    n = args.mib * 2**20 // 4
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    ms = best_ms(lambda: dst.copy_(src), 10)
    return {"bytes": 2 * 4 * n, "ms": ms, "GBps": 2 * 4 * n / ms / 1e6}


def ssd(args):
    from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined
    B, L, H, P, N, Q = args.shape
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(B, L, H, P, device="cuda", generator=g)
    dt = torch.rand(B, L, H, device="cuda", generator=g) * 4 - 4
    A = -(torch.rand(H, device="cuda", generator=g) * 1.9 + 0.1)
    Bm = torch.randn(B, L, 1, N, device="cuda", generator=g)
    Cm = torch.randn(B, L, 1, N, device="cuda", generator=g)
    D = torch.randn(H, device="cuda", generator=g)
    dt_bias = -torch.rand(H, device="cuda", generator=g)
    dy = torch.randn(B, L, H, P, device="cuda", generator=g)
    fn = lambda: mamba_chunk_scan_combined(x, dt, A, Bm, Cm, Q, D=D, dt_bias=dt_bias, dt_softplus=True)
    fwd = best_ms(fn, args.reps)
    inputs = [t.requires_grad_() for t in (x, dt, A, Bm, Cm, D, dt_bias)]

    def fwd_bwd():
        y = mamba_chunk_scan_combined(x, dt, A, Bm, Cm, Q, D=D, dt_bias=dt_bias, dt_softplus=True)
        torch.autograd.grad(y, inputs, dy)

    return {"shape": args.shape, "ms": fwd, "fwd_bwd_ms": best_ms(fwd_bwd, args.reps), "triton": __import__("triton").__version__}


def decode(args):
    from mamba_ssm.modules.mamba2 import Mamba2
    from mamba_ssm.ops.triton.layer_norm import RMSNorm
    torch.manual_seed(0)
    d, n_layer, vocab = 768, 24, 50288
    dev = "cuda"
    layers = [Mamba2(d, d_state=128, d_conv=4, expand=2, headdim=64, ngroups=1, chunk_size=256, layer_idx=i, device=dev)
              for i in range(n_layer)]
    norms = [RMSNorm(d, eps=1e-5, device=dev) for _ in range(n_layer)]
    norm_f = RMSNorm(d, eps=1e-5, device=dev)
    emb = torch.nn.Embedding(vocab, d, device=dev)
    out = []
    with torch.inference_mode():
        for B in args.batch:
            caches = [m.allocate_inference_cache(B, 1) for m in layers]
            ids = torch.zeros(B, dtype=torch.long, device=dev)

            def step():
                nonlocal ids
                h = emb(ids).unsqueeze(1)                       # (B, 1, d)
                for m, norm, (conv, ssm) in zip(layers, norms, caches):
                    y, _, _ = m.step(norm(h), conv, ssm)
                    h = h + y
                logits = torch.nn.functional.linear(norm_f(h.squeeze(1)), emb.weight)
                ids = logits.argmax(-1)

            ms = best_ms(step, args.tokens)
            out.append({"batch": B, "ms_per_step": ms, "tok_s": B * 1000 / ms})
    return {"decode": out, "device": torch.cuda.get_device_name()}


def train(args):
    import triton
    from mamba_ssm.modules import mamba2 as mamba2_module
    from mamba_ssm.modules.mamba2 import Mamba2
    from mamba_ssm.ops.triton.layer_norm import RMSNorm
    torch.manual_seed(0)
    d, vocab, dev = 768, args.vocab, "cuda"
    vocab = (vocab + 15) // 16 * 16  # pad_vocab_size_multiple 16, as the mamba2-130m config

    class LM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, d, device=dev)
            torch.nn.init.normal_(self.emb.weight, std=0.02)  # as MambaLMHeadModel's _init_weights
            self.mixers = torch.nn.ModuleList([
                Mamba2(d, d_state=128, d_conv=4, expand=2, headdim=64, ngroups=1, chunk_size=256, layer_idx=i,
                       use_mem_eff_path=mamba2_module.causal_conv1d_fn is not None, device=dev)
                for i in range(args.layers)])
            self.norms = torch.nn.ModuleList([RMSNorm(d, eps=1e-5, device=dev) for _ in range(args.layers)])
            self.norm_f = RMSNorm(d, eps=1e-5, device=dev)

        def forward(self, ids):
            h, residual = self.emb(ids), None
            for norm, mixer in zip(self.norms, self.mixers):
                x, residual = norm(h, residual=residual, prenorm=True, residual_in_fp32=True)
                h = mixer(x)
            h = self.norm_f(h, residual=residual, prenorm=False, residual_in_fp32=True)
            return torch.nn.functional.linear(h, self.emb.weight)

    model = LM()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator(device=dev).manual_seed(0)
    ids = torch.randint(0, args.vocab, (args.batch, args.seq_len), device=dev, generator=g)
    targets = torch.cat([ids[:, 1:], torch.full_like(ids[:, :1], -100)], dim=1)

    def step(clip):
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__,
           "causal_conv1d": "present (fused path)" if mamba2_module.causal_conv1d_fn is not None
           else "absent: torch nn.Conv1d and the unfused Mamba2 path",
           "params": sum(p.numel() for p in model.parameters())}
    for name, clip in (("noclip", False), ("clip", True)):
        for _ in range(args.warmup):
            step(clip)
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(args.steps):
            loss = step(clip)
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end) / args.steps
        out[name] = {"ms": ms, "tok_s": args.batch * args.seq_len * 1000 / ms, "loss": loss}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vendor", default="vendor-peer")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("copy")
    c.add_argument("--mib", type=int, default=1024)
    s = sub.add_parser("ssd")
    s.add_argument("--shape", nargs=6, type=int, required=True, metavar=("B", "L", "H", "P", "N", "Q"))
    s.add_argument("--reps", type=int, default=10)
    dd = sub.add_parser("decode")
    dd.add_argument("--batch", type=int, action="append", required=True)
    dd.add_argument("--tokens", type=int, default=64)
    t = sub.add_parser("train")
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--seq-len", type=int, default=1024)
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--warmup", type=int, default=2)
    t.add_argument("--layers", type=int, default=24)
    t.add_argument("--vocab", type=int, default=50277)
    args = ap.parse_args()
    import_vendor(args.vendor)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    print(json.dumps({"copy": copy, "ssd": ssd, "decode": decode, "train": train}[args.cmd](args)))


if __name__ == "__main__":
    main()
