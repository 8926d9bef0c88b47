"""The geometry of the grid's CNNs: each convolutional layer's feature maps, and whether they fit a
dataset's images (convolution without padding, stride 1; pooling of size = stride)."""

from __future__ import annotations

from nntopo import datasets
from nntopo.config.schema import ConfigError
from nntopo.models import ModelId


def describe_architecture(architecture: ModelId) -> str:
    if not architecture.conv:
        return f"widths {list(architecture.widths)}"
    return (f"the CNN of channels {list(architecture.channels)}, kernel {architecture.kernel}, pool {architecture.pool}"
            f" and dense {list(architecture.dense)}")


def feature_map_sizes(architecture: ModelId, image_shape: tuple[int, int]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per convolutional layer, the side lengths of its feature maps and of the pooled maps after it
    (convolution without padding, stride 1; pooling of size = stride, the remainder dropped). Sizes
    below 1 are returned as they are: the caller says which layer fails."""
    sizes, (height, width) = [], image_shape
    for _ in architecture.channels:
        height, width = height - architecture.kernel + 1, width - architecture.kernel + 1
        pooled = (height // architecture.pool, width // architecture.pool)
        sizes.append(((height, width), pooled))
        height, width = pooled
    return sizes


def check_maps(architecture: ModelId, info: datasets.DatasetInfo) -> None:
    """Every convolutional layer of ``architecture`` has maps of at least 1x1 on the images of dataset
    ``info`` (once they are known: a user's dataset's when it is prepared, or peeked at)."""
    if not info.known:
        return
    dataset = info.name
    image_shape = info.image_shape
    if image_shape is None:
        raise ConfigError(f"cnns: {dataset} has no images (its points are {info.n_features}-D), so "
                          f"{describe_architecture(architecture)} cannot read it; study it with widths alone")
    height, width = image_shape
    for number, (maps, pooled) in enumerate(feature_map_sizes(architecture, image_shape), start=1):
        if min(maps) < 1:
            raise ConfigError(f"cnns: the {architecture.kernel}x{architecture.kernel} kernel of convolutional layer "
                              f"{number} is larger than its {height}x{width} input ({dataset}); use a smaller kernel "
                              f"or fewer convolutional layers")
        if min(pooled) < 1:
            raise ConfigError(f"cnns: pooling of {architecture.pool} after convolutional layer {number} shrinks its "
                              f"{maps[0]}x{maps[1]} maps below 1x1 ({dataset}); use a smaller pool (1 for none) or "
                              f"fewer convolutional layers")
        height, width = pooled
