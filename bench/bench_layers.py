"""How fast is the NumPy convolution? Loops vs im2col vs torch (lesson 03).

Run:  .venv/bin/python bench/bench_layers.py [--threads N] [--repeats R]

Three ratios, printed and written to bench/results/layers.json:

1. loops / im2col, forward: ``conv2d_naive`` vs ``conv2d_forward``.
2. loops / im2col, backward: a loop backward pass (below, checked against ``conv2d_backward``)
   vs ``conv2d_backward``.
3. im2col / torch, forward + backward: ``conv2d_forward`` + ``conv2d_backward`` vs
   ``torch.nn.functional.conv2d`` + autograd, on the same float32 inputs and the same number
   of threads.

The main case is x (64, 32, 32, 32), w (64, 32, 3, 3), float32, padding 1. The loop versions
would take minutes on it, so they run on a smaller input with the same channels and kernel
(x (1, 32, 12, 12)) and their time is extrapolated per output element: every output element
costs them the same C·KH·KW work, whatever N, H and W are.

It also trains the NumPy CNN (``cnnlab.numpy_cnn``) for one epoch on the bundled
Fashion-MNIST sample and records its test accuracy on the 1,000 sample test images.

Each timing is the best of several runs, numpy and torch interleaved, because on a shared
machine the best run is the one least disturbed by others. On a machine busy with other work,
``--threads 1 --clock cpu`` measures the CPU time each side needs, which the others' work
does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform

import time
from pathlib import Path

# The thread count must be fixed before numpy loads its BLAS.
_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="BLAS/torch threads")
_parser.add_argument("--repeats", type=int, default=7, help="runs per timing (the best counts)")
_parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                     help="wall time, or this process's CPU time (with --threads 1, the fairer "
                          "measure on a machine busy with other work)")
ARGS = _parser.parse_args()
CLOCK = time.perf_counter if ARGS.clock == "wall" else time.process_time
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cnnlab.layers import conv2d_backward, conv2d_forward, conv2d_naive  # noqa: E402
from cnnlab.numpy_cnn import train_numpy_cnn  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "layers.json"
X_SHAPE, W_SHAPE, PADDING = (64, 32, 32, 32), (64, 32, 3, 3), 1
SMALL_X_SHAPE = (1, 32, 12, 12)


def conv2d_backward_loops(dout: np.ndarray, x: np.ndarray, w: np.ndarray, padding: int):
    """The backward pass of a stride-1 convolution with plain loops, as lesson 03 derives it.

    Every output (n, f, i, j) was a window of x times w[f]; its gradient flows back to both.
    """
    N, F_, OH, OW = dout.shape
    KH, KW = w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for n in range(N):
        for f in range(F_):
            for i in range(OH):
                for j in range(OW):
                    g = dout[n, f, i, j]
                    dw[f] += g * xp[n, :, i:i + KH, j:j + KW]       # the shared filter sums over positions
                    dxp[n, :, i:i + KH, j:j + KW] += g * w[f]      # overlapping windows add up
    db = dout.sum(axis=(0, 2, 3))
    return dxp[:, :, padding:-padding or None, padding:-padding or None], dw, db


def best_of(repeats: int, *functions):
    """Best time of each function over ``repeats`` rounds, the functions interleaved."""
    for fn in functions:
        fn()                                                        # warm-up
    times = [[] for _ in functions]
    for _ in range(repeats):
        for fn, bucket in zip(functions, times):
            start = CLOCK()
            fn()
            bucket.append(CLOCK() - start)
    return [min(bucket) for bucket in times]


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(X_SHAPE, dtype=np.float32)
    w = rng.standard_normal(W_SHAPE, dtype=np.float32) * 0.1
    b = rng.standard_normal(W_SHAPE[0], dtype=np.float32)
    out, cache = conv2d_forward(x, w, b, padding=PADDING)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    outputs = out.size

    # --- loops vs im2col, on the small input (checked to agree, then timed once)
    xs = rng.standard_normal(SMALL_X_SHAPE, dtype=np.float32)
    small_out, small_cache = conv2d_forward(xs, w, b, padding=PADDING)
    small_dout = rng.standard_normal(small_out.shape, dtype=np.float32)
    start = CLOCK()
    naive_out = conv2d_naive(xs, w, b, padding=PADDING)
    naive_forward = (CLOCK() - start) / small_out.size * outputs
    start = CLOCK()
    naive_grads = conv2d_backward_loops(small_dout, xs, w, PADDING)
    naive_backward = (CLOCK() - start) / small_out.size * outputs
    assert np.allclose(naive_out, small_out, atol=1e-4)
    assert all(np.allclose(a, c, atol=1e-3) for a, c in zip(naive_grads, conv2d_backward(small_dout, small_cache)))

    # --- im2col vs torch, on the main input
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    dt = torch.from_numpy(dout)

    def numpy_both():
        conv2d_backward(dout, conv2d_forward(x, w, b, padding=PADDING)[1])

    def torch_both():
        torch.autograd.grad(F.conv2d(xt, wt, bt, padding=PADDING), (xt, wt, bt), dt)

    def torch_forward():
        with torch.no_grad():
            F.conv2d(xt, wt, bt, padding=PADDING)

    numpy_fwd, numpy_bwd, numpy_total, torch_fwd, torch_total = best_of(
        ARGS.repeats, lambda: conv2d_forward(x, w, b, padding=PADDING), lambda: conv2d_backward(dout, cache),
        numpy_both, torch_forward, torch_both)

    ref = F.conv2d(xt, wt, bt, padding=PADDING)
    assert np.allclose(out, ref.detach().numpy(), rtol=1e-3, atol=1e-3)

    _, history = train_numpy_cnn(epochs=1, source="sample")

    results = {
        "case": {"x": X_SHAPE, "w": W_SHAPE, "padding": PADDING, "dtype": "float32",
                 "loops_measured_on_x": SMALL_X_SHAPE},
        "threads": ARGS.threads,
        "clock": ARGS.clock,
        "repeats": ARGS.repeats,
        "seconds": {
            "loops_forward_extrapolated": naive_forward,
            "loops_backward_extrapolated": naive_backward,
            "im2col_forward": numpy_fwd,
            "im2col_backward": numpy_bwd,
            "im2col_forward_backward": numpy_total,
            "torch_forward": torch_fwd,
            "torch_forward_backward": torch_total,
        },
        "ratios": {
            "loops_over_im2col_forward": naive_forward / numpy_fwd,
            "loops_over_im2col_backward": naive_backward / numpy_bwd,
            "im2col_over_torch_forward_backward": numpy_total / torch_total,
        },
        "numpy_cnn": {"epochs": 1, "train_images": 6000, "test_images": 1000,
                      "test_accuracy": history["test_accuracy"][-1],
                      "train_accuracy": history["train_accuracy"], "seconds": history["seconds"]},
        "versions": {"numpy": np.__version__, "torch": torch.__version__, "python": platform.python_version()},
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_1min": os.getloadavg()[0]},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")

    s, r = results["seconds"], results["ratios"]
    print(f"conv x {X_SHAPE}, w {W_SHAPE}, float32, padding {PADDING}, {ARGS.threads} thread(s), "
          f"{ARGS.clock} clock, best of {ARGS.repeats}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  loops forward   {s['loops_forward_extrapolated']:9.2f} s  (extrapolated from x {SMALL_X_SHAPE})")
    print(f"  loops backward  {s['loops_backward_extrapolated']:9.2f} s  (extrapolated from x {SMALL_X_SHAPE})")
    print(f"  im2col forward  {s['im2col_forward'] * 1e3:9.1f} ms   backward {s['im2col_backward'] * 1e3:.1f} ms"
          f"   both {s['im2col_forward_backward'] * 1e3:.1f} ms")
    print(f"  torch  forward  {s['torch_forward'] * 1e3:9.1f} ms   forward+backward {s['torch_forward_backward'] * 1e3:.1f} ms")
    print(f"  1. loops / im2col, forward:            {r['loops_over_im2col_forward']:8.0f}x")
    print(f"  2. loops / im2col, backward:           {r['loops_over_im2col_backward']:8.0f}x")
    print(f"  3. im2col / torch, forward + backward: {r['im2col_over_torch_forward_backward']:8.2f}x  (target: under 3)")
    cnn = results["numpy_cnn"]
    print(f"NumPy CNN, 1 epoch on the Fashion-MNIST sample: test accuracy {cnn['test_accuracy']:.3f} "
          f"in {cnn['seconds']:.1f} s (chance: 0.100)")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
