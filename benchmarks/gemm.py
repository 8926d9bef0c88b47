"""This machine's one-thread fp32 rate of plain matrix products, the peak bench.py measures training against.

    python -m benchmarks.gemm --batch 128 --architectures 784-100-10 784-1024-10 [--reps 10]

Prints one line of JSON: {"square": GFLOP/s of a 2048 x 2048 product (the raw ceiling), "training":
[GFLOP/s of one training step's products, per architecture in the order given]}. An architecture is a
model's layer sizes, input to output. It runs in a process of its own so that its one thread is set
before torch starts any.
"""

from __future__ import annotations

import argparse
import json
import time


def best(products, reps: int) -> float:
    """The best GFLOP/s of ``reps`` passes over ``products`` (pairs of matrices), after a warm-up."""
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in products)
    for a, b in products[:2]:
        a @ b
    top = 0.0
    for _ in range(reps):
        began = time.perf_counter()
        for a, b in products:
            a @ b
        top = max(top, flops / (time.perf_counter() - began) / 1e9)
    return top


def training_products(sizes, batch: int):
    """One training step's matrix products for each layer (batch B, in I, out O): forward X W^T
    (B x I x O), weight gradient dY^T X (O x B x I) and input gradient dY W (B x O x I): 6 FLOPs per
    weight per sample."""
    import torch

    r = torch.randn
    products = []
    for i, o in zip(sizes, sizes[1:]):
        products += [(r(batch, i), r(i, o)), (r(o, batch), r(batch, i)), (r(batch, o), r(o, i))]
    return products


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, required=True, help="the training batch size")
    parser.add_argument("--architectures", nargs="*", default=[], metavar="SIZES",
                        help="layer sizes, input to output, joined by '-' (784-100-10)")
    parser.add_argument("--reps", type=int, default=10, help="passes, the best one counts")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    n = 2048
    square = best([(torch.randn(n, n), torch.randn(n, n))], args.reps)
    training = [best(training_products([int(s) for s in sizes.split("-")], args.batch), args.reps)
                for sizes in args.architectures]
    print(json.dumps({"square": square, "training": training}))


if __name__ == "__main__":
    main()
