#!/usr/bin/python3
"""PyTorch reference for our training speed: one fp32 training step of exactly our model.

GPT pre-LN with ALiBi (no position embedding), fused QKV with bias, GELU (tanh), tied LM
head without bias, mean cross-entropy over all B*T targets, AdamW (lr 1e-3, weight decay
0.1 on matrices only, like ours), global grad-norm clip 1.0. Random tokens.

Run it with Debian's torch 1.13 (not the pyenv python3 first on PATH), at its best:

  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
      python3-torch libopenblas0-openmp libtcmalloc-minimal4
  update-alternatives --display libblas.so.3-x86_64-linux-gnu   # -> openblas-openmp
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 \
      /usr/bin/python3 bench/pytorch_reference.py --model bench --threads 1

Options: --model bench|tiny, --threads N, --steps N (timed steps, at least; timing also runs
for at least --min-time seconds), --batch B, --attn VARIANT (see ATTENTION below),
--check (compare the attention variants' outputs and gradients, then exit),
--attn-bench (time the variants' attention forward+backward alone, interleaved, then exit).
Prints one JSON line at the end.
"""
import argparse
import functools
import json
import math
import os
import platform
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = {
    # name: C, L, NH, T, V, B
    "bench": dict(C=512, L=8, NH=8, T=512, V=8192, B=8),
    "tiny": dict(C=128, L=4, NH=4, T=256, V=256, B=16),
}


def alibi_slopes(n):
    """The paper's get_slopes: 2^(-8(h+1)/n) for n a power of two, interleaved otherwise."""
    p = 1
    while p * 2 <= n:
        p *= 2
    s = [2.0 ** (-8.0 * (h + 1) / p) for h in range(p)]
    s += [2.0 ** (-4.0 * (2 * k + 1) / p) for k in range(n - p)]
    return s


@functools.lru_cache(maxsize=None)
def alibi_bias(NH, T):
    """(NH, T, T) fp32: -slope_h * (i - j) for j <= i, -inf above the diagonal. One tensor
    shared by all layers (cached; never written)."""
    m = torch.tensor(alibi_slopes(NH), dtype=torch.float32).view(NH, 1, 1)
    i = torch.arange(T).view(T, 1)
    j = torch.arange(T).view(1, T)
    rel = (i - j).to(torch.float32)                  # relative form, exact in fp32
    bias = -m * rel
    return bias.masked_fill((j > i).view(1, T, T), float("-inf")).contiguous()


@functools.lru_cache(maxsize=None)
def alibi_bias_full(NH, T, B):
    """alibi_bias repeated over the batch, (B*NH, T, T), for baddbmm; shared by all layers."""
    return alibi_bias(NH, T).unsqueeze(0).expand(B, NH, T, T).reshape(B * NH, T, T).contiguous()


# ---- ATTENTION variants: q, k, v are (B, NH, T, HS); return (B, NH, T, HS) -------------
# "matmul":  (q*scale) @ k^T, add_ the (NH, T, T) bias+mask in place (broadcast over B),
#            softmax, @ v.  Stores only the softmax output (T x T per head) for backward.
# "baddbmm": one baddbmm into a precomputed (B*NH, T, T) copy of the bias+mask (what
#            torch 1.13's F.multi_head_attention_forward does with a float attn_mask).
# "masked":  the textbook form: scores*scale + bias (no mask), masked_fill(-inf), softmax.
# "jit":     "matmul" under torch.jit.script (with the CPU fuser enabled).

def attn_matmul(q, k, v, bias, scale):
    s = torch.matmul(q * scale, k.transpose(-2, -1))
    s.add_(bias)
    return torch.matmul(torch.softmax(s, dim=-1), v)


def attn_baddbmm(q, k, v, bias_full, scale):
    B, NH, T, HS = q.shape
    s = torch.baddbmm(bias_full, q.reshape(B * NH, T, HS), k.reshape(B * NH, T, HS).transpose(1, 2),
                      beta=1.0, alpha=scale)
    y = torch.bmm(torch.softmax(s, dim=-1), v.reshape(B * NH, T, HS))
    return y.view(B, NH, T, HS)


def attn_masked(q, k, v, bias_nomask, mask, scale):
    s = torch.matmul(q, k.transpose(-2, -1)) * scale + bias_nomask
    s = s.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


@torch.jit.script
def attn_jit(q, k, v, bias, scale: float):
    s = torch.matmul(q * scale, k.transpose(-2, -1)) + bias
    return torch.matmul(torch.softmax(s, dim=-1), v)


class Attention(nn.Module):
    def __init__(self, C, NH, T, B, variant):
        super().__init__()
        self.NH, self.HS, self.variant = NH, C // NH, variant
        self.scale = 1.0 / math.sqrt(self.HS)
        self.qkv = nn.Linear(C, 3 * C, bias=True)
        self.proj = nn.Linear(C, C, bias=True)
        bias = alibi_bias(NH, T)
        self.register_buffer("bias", bias, persistent=False)
        if variant == "baddbmm":
            self.register_buffer("bias_full", alibi_bias_full(NH, T, B), persistent=False)
        if variant == "masked":
            nomask = torch.where(torch.isinf(bias), torch.zeros_like(bias), bias)
            self.register_buffer("bias_nomask", nomask, persistent=False)
            self.register_buffer("mask", torch.isinf(bias), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.NH, self.HS).permute(2, 0, 3, 1, 4)   # (3, B, NH, T, HS)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if self.variant == "matmul":
            y = attn_matmul(q, k, v, self.bias[:, :T, :T], self.scale)
        elif self.variant == "baddbmm":
            y = attn_baddbmm(q.contiguous(), k.contiguous(), v.contiguous(), self.bias_full, self.scale)
        elif self.variant == "masked":
            y = attn_masked(q, k, v, self.bias_nomask, self.mask, self.scale)
        elif self.variant == "jit":
            y = attn_jit(q, k, v, self.bias, self.scale)
        else:
            raise ValueError(self.variant)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, C, NH, T, B, variant):
        super().__init__()
        self.ln1 = nn.LayerNorm(C)
        self.attn = Attention(C, NH, T, B, variant)
        self.ln2 = nn.LayerNorm(C)
        self.fc = nn.Linear(C, 4 * C, bias=True)
        self.fc_out = nn.Linear(4 * C, C, bias=True)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc_out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, C, L, NH, T, V, B, variant):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([Block(C, NH, T, B, variant) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        x = self.wte(idx)
        for b in self.blocks:
            x = b(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)        # tied head, no bias
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))


def make_optimizer(model, foreach):
    decay = [p for p in model.parameters() if p.dim() >= 2]      # matrices (and the embedding)
    no_decay = [p for p in model.parameters() if p.dim() < 2]    # LayerNorm, biases
    groups = [dict(params=decay, weight_decay=0.1), dict(params=no_decay, weight_decay=0.0)]
    return torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=foreach)


def busy_seconds():
    """(all CPUs' busy seconds from /proc/stat, this process's user+system seconds)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = (sum(f[:8]) - f[3] - f[4]) / hz          # everything but idle and iowait
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return busy, ru.ru_utime + ru.ru_stime


def cpu_capability():
    """What ATen's kernels dispatch to (AVX2 by default; ATEN_CPU_CAPABILITY=avx512 to change)."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":")[-1].strip()
    return None


def check_variants(args):
    """Forward and backward of each attention variant against "matmul" in float64."""
    torch.manual_seed(0)
    B, NH, T, HS = 2, 4, 64, 12          # HS = 12: a scale that is not a power of two
    ref = None
    for variant in ["matmul", "baddbmm", "masked", "jit"]:
        a = Attention(NH * HS, NH, T, B, variant).double()
        torch.manual_seed(1)
        for p in a.parameters():
            nn.init.normal_(p, std=0.5)
        x = torch.randn(B, T, NH * HS, dtype=torch.float64, generator=torch.Generator().manual_seed(2),
                        requires_grad=True)
        y = a(x)
        y.pow(2).sum().backward()
        got = (y.detach(), x.grad.clone(), a.qkv.weight.grad.clone())
        if ref is None:
            ref = got
            # Naive reference: loops over heads with explicit slopes and a causal mask.
            qkv = F.linear(x.detach(), a.qkv.weight.detach(), a.qkv.bias.detach()).view(B, T, 3, NH, HS)
            slopes = alibi_slopes(NH)
            out = torch.zeros(B, T, NH, HS, dtype=torch.float64)
            for h in range(NH):
                q, k, v = qkv[:, :, 0, h], qkv[:, :, 1, h], qkv[:, :, 2, h]
                s = q @ k.transpose(1, 2) / math.sqrt(HS)
                for i in range(T):
                    for j in range(T):
                        s[:, i, j] = s[:, i, j] - slopes[h] * (i - j) if j <= i else float("-inf")
                out[:, :, h] = torch.softmax(s, -1) @ v
            naive = F.linear(out.reshape(B, T, NH * HS), a.proj.weight.detach(), a.proj.bias.detach())
            print(f"check matmul vs naive loop: max |dy| = {(naive - y.detach()).abs().max().item():.3e}")
        else:
            errs = [(g - r).abs().max().item() for g, r in zip(got, ref)]
            print(f"check {variant} vs matmul: max |dy|, |dx|, |dWqkv| = " + ", ".join(f"{e:.3e}" for e in errs))


def bench_attention(args, cfg):
    """Forward + backward of the attention core alone (no QKV/out Linear), each variant in
    turn, several rounds interleaved so that background load hits all alike; min and median."""
    C, NH, T, B = cfg["C"], cfg["NH"], cfg["T"], cfg["B"]
    variants = ["matmul", "baddbmm", "masked", "jit"]
    mods = {v: Attention(C, NH, T, B, v) for v in variants}
    g = torch.Generator().manual_seed(3)
    qkv0 = torch.randn(B, T, 3, NH, C // NH, generator=g)
    dy = torch.randn(B, NH, T, C // NH, generator=g)
    times = {v: [] for v in variants}

    def run(v):
        a = mods[v]
        qkv = qkv0.clone().requires_grad_(True)
        x = qkv.permute(2, 0, 3, 1, 4)
        q, k, u = x[0], x[1], x[2]
        t0 = time.perf_counter()
        if v == "matmul":
            y = attn_matmul(q, k, u, a.bias, a.scale)
        elif v == "baddbmm":
            y = attn_baddbmm(q.contiguous(), k.contiguous(), u.contiguous(), a.bias_full, a.scale)
        elif v == "masked":
            y = attn_masked(q, k, u, a.bias_nomask, a.mask, a.scale)
        else:
            y = attn_jit(q, k, u, a.bias, a.scale)
        y.backward(dy)
        return time.perf_counter() - t0

    for v in variants:          # warm-up (and the JIT's profiling runs)
        for _ in range(3):
            run(v)
    for _ in range(args.steps):
        for v in variants:
            times[v].append(run(v))
    for v in variants:
        print(json.dumps(dict(attn_bench=v, model=args.model, threads=torch.get_num_threads(),
                              cpu_capability=cpu_capability(), B=B, NH=NH, T=T, HS=C // NH,
                              min_ms=round(1e3 * min(times[v]), 2),
                              median_ms=round(1e3 * statistics.median(times[v]), 2))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=sorted(MODELS), default="bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10, help="timed steps, at least")
    ap.add_argument("--min-time", type=float, default=60.0, help="timed seconds, at least")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None, help="micro-batch (default: the model's)")
    ap.add_argument("--attn", choices=["matmul", "baddbmm", "masked", "jit"], default="matmul")
    ap.add_argument("--no-foreach", action="store_true", help="per-parameter AdamW loop")
    ap.add_argument("--check", action="store_true", help="check attention variants and exit")
    ap.add_argument("--attn-bench", action="store_true",
                    help="time the attention variants' forward+backward alone (--steps rounds) and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.attn == "jit" or args.attn_bench:
        torch._C._jit_override_can_fuse_on_cpu(True)
    if args.check:
        check_variants(args)
        return

    cfg = dict(MODELS[args.model])
    if args.batch:
        cfg["B"] = args.batch
    C, L, NH, T, V, B = (cfg[k] for k in ("C", "L", "NH", "T", "V", "B"))
    assert C % NH == 0
    if args.attn_bench:
        bench_attention(args, cfg)
        return

    torch.manual_seed(1234)
    model = GPT(C, L, NH, T, V, B, args.attn)
    opt = make_optimizer(model, foreach=not args.no_foreach)
    n_params = sum(p.numel() for p in model.parameters())
    tokens = torch.randint(0, V, (B, T + 1), generator=torch.Generator().manual_seed(42))
    idx, targets = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = model(idx, targets)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item(), gnorm.item()

    loss0 = None
    for _ in range(args.warmup):
        loss, _ = step()
        loss0 = loss if loss0 is None else loss0

    times, cpu_times = [], []   # wall and this process's CPU seconds per step
    load_before = open("/proc/loadavg").read().split()[:3]
    busy0, self0 = busy_seconds()
    t_start = time.perf_counter()
    while len(times) < args.steps or time.perf_counter() - t_start < args.min_time:
        t0 = time.perf_counter()
        c0 = time.process_time()
        loss, gnorm = step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    total = time.perf_counter() - t_start
    busy1, self1 = busy_seconds()
    # CPU used by everything else on the machine during the timed steps, in cores (0..2).
    other_cores = max(0.0, ((busy1 - busy0) - (self1 - self0)) / total)
    # On a shared machine: other_cpu_cores near 0 means the numbers are clean. With one thread,
    # median_step_cpu_s (CPU seconds per step) approximates the uncontended step time.

    med = statistics.median(times)
    # Model FLOPs per token: 6 * params (the tied embedding counted once, as the LM head's
    # matmul) + 12 * L * T * C for the dense (non-causal-skipping) Q K^T and P V products.
    flops_per_token = 6 * n_params + 12 * L * T * C
    res = dict(
        impl="pytorch", torch=torch.__version__, python=platform.python_version(), model=args.model,
        C=C, L=L, NH=NH, T=T, V=V, B=B, params=n_params, attn=args.attn, threads=torch.get_num_threads(),
        foreach=not args.no_foreach,
        tcmalloc="tcmalloc" in os.environ.get("LD_PRELOAD", ""),
        cpu_capability=cpu_capability(),
        steps=len(times), timed_s=round(total, 3),
        median_step_s=round(med, 4), min_step_s=round(min(times), 4), mean_step_s=round(total / len(times), 4),
        median_step_cpu_s=round(statistics.median(cpu_times), 4),
        tokens_per_s=round(B * T / med, 1), tokens_per_s_best_step=round(B * T / min(times), 1), tokens_per_s_mean=round(B * T * len(times) / total, 1),
        model_gflops=round(flops_per_token * B * T / med * 1e-9, 1),
        peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        loss_first=round(loss0, 4), loss_last=round(loss, 4), grad_norm_last=round(gnorm, 4),
        loadavg_before=load_before, loadavg_after=open("/proc/loadavg").read().split()[:3],
        other_cpu_cores=round(other_cores, 3), self_cpu_cores=round((self1 - self0) / total, 3),
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
