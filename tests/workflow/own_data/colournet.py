"""A network trained outside nntopo, as a user would bring it: a small CNN for colour images of any size,
its training loop, and nothing of nntopo's. tests/workflow/test_own_data.py copies this file into a
temporary folder and imports it from there, so the study imports it as the user's own module."""

import torch
from torch import nn


class ColourNet(nn.Module):
    """3 x H x W -> a 3x3 convolution of 6 channels, max pooling, a dense layer of 24, the classes."""

    def __init__(self, height: int = 11, width: int = 13, classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(6 * ((height - 2) // 2) * ((width - 2) // 2), 24), nn.ReLU())
        self.head = nn.Linear(24, classes)

    def forward(self, x):
        return self.head(self.dense(self.pool(self.conv(x))))


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> nn.Module:
    """Adam on the cross-entropy in shuffled batches of 64; the model in eval mode after."""
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()
