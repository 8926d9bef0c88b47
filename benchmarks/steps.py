"""Training steps of the default CNN (and two MLPs beside it) on random images, as train() takes them.

    python -m benchmarks.steps [--steps 10]

Adam, cross-entropy, 1 thread unless said. Variants: the convolutions' memory layout (NCHW, or
channels_last: NHWC, which oneDNN's CPU kernels are written for), the batch size, and 2 threads in one
process against the workflow's 2 processes of 1 thread. Prints one line of JSON: a row per variant
(model, batch, threads, channels_last, samples_per_s, gflops). bench.py --cnn runs it in a process of
its own, so that the thread counts it sets are its own.
"""

from __future__ import annotations

import argparse
import json
import time

CNN = "cnn16x32-d64"  # the default CNN: two convolutions of 16 and 32 channels, a dense layer of 64


def rate(model, batch: int, steps: int, threads: int = 1, channels_last: bool = False) -> dict:
    """Samples/s and GFLOP/s of ``model``'s training step at ``batch``: the best of three runs of
    ``steps`` steps (the machine is shared), after three steps of warm-up."""
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.rand(batch, 784), torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters())

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - began) / steps)
    return {"samples_per_s": batch / best, "gflops": 6 * model.multiply_adds() * batch / best / 1e9}


def cnn():
    from nntopo.network.model import build

    return build(784, 10, [64], {"name": "none"}, None, {"channels": [16, 32], "kernel": 3, "pool": 2}, (28, 28))


def mlp(widths):
    from nntopo.network.model import build

    return build(784, 10, widths, {"name": "none"})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="steps per timed run (the best of three counts)")
    args = parser.parse_args(argv)

    rows = []
    for batch in (128, 256, 512, 1024):
        for channels_last in (False, True):
            rows.append({"model": CNN, "batch": batch, "threads": 1, "channels_last": channels_last,
                         **rate(cnn(), batch, args.steps, channels_last=channels_last)})
    rows.append({"model": CNN, "batch": 512, "threads": 2, "channels_last": False,
                 **rate(cnn(), 512, args.steps, threads=2)})
    for widths in ([100], [1024]):
        rows.append({"model": "mlp" + "x".join(map(str, widths)), "batch": 512, "threads": 1, "channels_last": False,
                     **rate(mlp(widths), 512, args.steps)})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
