"""Train the worked example's network on digits for a few seconds and save it both ways nntopo reads:
a state dict (for `module` + `state_dict`) and a torch.export program (for `program`).

    .venv/bin/python -m examples.own_network.train    # from the repository's root
"""

from pathlib import Path

import torch
from torch import nn

from nntopo import data

OUT = Path(__file__).resolve().parent / "out"


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float = 0.01,
        loss=nn.functional.cross_entropy) -> nn.Module:
    """Adam on ``loss`` (the cross-entropy; mse_loss for a regressor), batches of 64 in a shuffled order;
    the model in eval mode after."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            optimiser.zero_grad()
            loss(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


def main() -> None:
    from examples.own_network.model import SmallNet

    torch.manual_seed(0)
    digits = data.load("digits")  # the images nntopo will feed the network: float32 in [0, 1], flattened
    model = fit(SmallNet(), torch.from_numpy(digits.x_train).reshape(-1, 1, 8, 8), torch.from_numpy(digits.y_train),
                epochs=30)
    test = torch.from_numpy(digits.x_test).reshape(-1, 1, 8, 8)
    accuracy = (model(test).argmax(1).numpy() == digits.y_test).mean()
    OUT.mkdir(exist_ok=True)
    torch.save(model.state_dict(), OUT / "smallnet.pt")
    # A dynamic batch dimension, so that nntopo can feed the test images in chunks of any size.
    program = torch.export.export(model, (test[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, OUT / "smallnet.pt2")
    print(f"test accuracy {accuracy:.3f}; wrote {OUT / 'smallnet.pt'} and {OUT / 'smallnet.pt2'}")


if __name__ == "__main__":
    main()
