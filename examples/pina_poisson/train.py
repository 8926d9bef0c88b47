"""Train a physics-informed network with PINA on a 2-D Poisson problem, export it for nntopo, and write the
arrays dataset nntopo analyses it on (examples/pina_poisson/README.md, docs/guides/pina.md).

The problem, with a known exact solution:

    -Laplace u = 2 pi^2 sin(pi x) sin(pi y)  on [0, 1]^2,    u = 0 on the boundary,
    u(x, y) = sin(pi x) sin(pi y).

The network (PINA's FeedForward: Linear, Tanh, Linear, Tanh, Linear) never sees u: it is trained on the
residual of the equation at collocation points inside the square and on u = 0 at points of its edges.
The exact solution is only the dataset's target, which nntopo compares the network's output with (and
which the plain MLP of the study's grid is fitted to).

Writes, under examples/pina_poisson/out/:
- pinn.pt2: the network as a torch.export program, with a dynamic batch dimension; its hidden layers
  are the modules model.1 and model.3 (the two Tanh), which the study's `layers` names;
- poisson.npz: x_train, y_train (uniform random points of the square, the exact solution) and x_test,
  y_test (a regular 100 x 100 grid, corners included, the exact solution), float32, y as N x 1;
- train.json: the settings, the seed, the training time and the network's error on the test grid.

    examples/pina_poisson/.venv/bin/python examples/pina_poisson/train.py   # from the repository's root
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).resolve().parent / "out"
WIDTHS = [32, 32]  # the hidden layers; the study's grid MLP has the same
GRID = 100  # the test grid's points per side: 10,000 points analysed
TRAIN_POINTS = 10_000  # the dataset's training points (the grid MLP's; the PINN never reads them)
COLLOCATION = 1_000  # points inside the square where the PINN's residual is minimised
BOUNDARY = 400  # points on its edges where u = 0 is imposed


def exact(points: np.ndarray) -> np.ndarray:
    """u(x, y) = sin(pi x) sin(pi y) of (N, 2) points, as (N, 1)."""
    return (np.sin(math.pi * points[:, :1]) * np.sin(math.pi * points[:, 1:2])).astype(np.float32)


def test_grid(n: int = GRID) -> np.ndarray:
    """(n * n, 2) float32: the regular grid of the closed square, x varying fastest."""
    side = np.linspace(0.0, 1.0, n)
    xx, yy = np.meshgrid(side, side)
    return np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float32)


def problem():
    """The Poisson problem in PINA's terms: the equation inside the square, u = 0 on its edges."""
    from pina import Condition
    from pina.domain import CartesianDomain
    from pina.equation.zoo import FixedValue, PoissonEquation
    from pina.problem import SpatialProblem

    def minus_forcing(points):
        # PINA's PoissonEquation is Laplace u = f: f = -2 pi^2 sin(pi x) sin(pi y) is -Laplace u = 2 pi^2 ...
        return -2 * torch.pi**2 * torch.sin(torch.pi * points.extract(["x"])) * torch.sin(
            torch.pi * points.extract(["y"]))

    class Poisson(SpatialProblem):
        output_variables = ["u"]
        spatial_domain = CartesianDomain({"x": [0, 1], "y": [0, 1]})
        domains = {"D": spatial_domain, "boundary": spatial_domain.partial()}
        conditions = {
            "boundary": Condition(domain="boundary", equation=FixedValue(0.0)),
            "D": Condition(domain="D", equation=PoissonEquation(forcing_term=minus_forcing)),
        }

    return Poisson()


def train(epochs: int, lr: float, seed: int):
    """The PINN's FeedForward after ``epochs`` full-batch Adam steps on the PINN loss, in eval mode."""
    import lightning
    from pina import Trainer
    from pina.model import FeedForward
    from pina.optim import TorchOptimizer
    from pina.solver import PhysicsInformedSingleModelSolver

    lightning.seed_everything(seed, verbose=False)
    poisson = problem()
    poisson.discretise_domain(COLLOCATION, "latin", domains=["D"])
    poisson.discretise_domain(BOUNDARY, "random", domains=["boundary"])
    network = FeedForward(input_dimensions=2, output_dimensions=1, layers=list(WIDTHS), func=torch.nn.Tanh)
    solver = PhysicsInformedSingleModelSolver(poisson, network,
                                              optimizer=TorchOptimizer(torch.optim.Adam, lr=lr))
    trainer = Trainer(solver=solver, max_epochs=epochs, accelerator="cpu", batch_size=None, train_size=1.0,
                      enable_model_summary=False, enable_progress_bar=False, logger=False,
                      enable_checkpointing=False, deterministic=True)
    trainer.train()
    return network.eval()


def export(network: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """A torch.export program of ``network`` with a dynamic batch dimension (nntopo feeds it in chunks)."""
    program = torch.export.export(network, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1500, help="full-batch Adam steps (default 1500)")
    parser.add_argument("--lr", type=float, default=0.005, help="Adam's learning rate (default 0.005)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(2)

    start = time.perf_counter()
    network = train(args.epochs, args.lr, args.seed)
    seconds = time.perf_counter() - start

    rng = np.random.default_rng(args.seed)
    x_train = rng.random((TRAIN_POINTS, 2), dtype=np.float32)
    x_test = test_grid()
    with torch.no_grad():
        predicted = network(torch.from_numpy(x_test)).numpy()
    y_test = exact(x_test)
    error = {"test_mse": float(np.mean((predicted - y_test) ** 2)),
             "test_relative_l2": float(np.linalg.norm(predicted - y_test) / np.linalg.norm(y_test))}

    OUT.mkdir(exist_ok=True)
    export(network, torch.from_numpy(x_test[:2]), OUT / "pinn.pt2")
    np.savez(OUT / "poisson.npz", x_train=x_train, y_train=exact(x_train), x_test=x_test, y_test=y_test)
    record = {"problem": "-laplace u = 2 pi^2 sin(pi x) sin(pi y) on [0,1]^2, u = 0 on the boundary",
              "solution": "sin(pi x) sin(pi y)", "widths": WIDTHS, "activation": "tanh",
              "collocation": COLLOCATION, "boundary": BOUNDARY, "epochs": args.epochs, "lr": args.lr,
              "seed": args.seed, "seconds": round(seconds, 1), **error,
              "versions": {"torch": torch.__version__, "pina": _version("pina-mathlab")}}
    (OUT / "train.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"trained {args.epochs} epochs in {seconds:.0f} s: test mse {error['test_mse']:.3g}, relative L2 "
          f"{error['test_relative_l2']:.3g}; wrote {OUT / 'pinn.pt2'}, {OUT / 'poisson.npz'}")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
