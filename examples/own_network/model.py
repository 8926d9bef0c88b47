"""The network of the worked example (docs/guides/own-network.md): a convolution, then a dense
layer, on the 8x8 images of scikit-learn's digits. Any nn.Module would do; nntopo imports this class
by its path, examples.own_network.model:SmallNet."""

from torch import nn


class SmallNet(nn.Module):
    def __init__(self, channels: int = 8, hidden: int = 32, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, channels, 3), nn.ReLU())  # 8 x 6 x 6 maps per image
        self.hidden = nn.Linear(channels * 6 * 6, hidden)
        self.act = nn.ReLU()
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.classifier(self.act(self.hidden(self.features(x).flatten(1))))
