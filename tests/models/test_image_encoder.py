"""Image encoder: grid shapes for square and non-square inputs, every backbone."""

import pytest
import torch

from attnscope.models.config import ImageEncoderConfig
from attnscope.models.encoders import TRUNK_CHANNELS, ImageEncoder


@pytest.mark.parametrize("backbone", sorted(TRUNK_CHANNELS))
def test_natural_grid_224(backbone):
    encoder = ImageEncoder(ImageEncoderConfig(backbone=backbone, grid=None)).eval()
    with torch.no_grad():
        memory = encoder(torch.randn(1, 3, 224, 224))
    assert memory.grid == (7, 7)
    assert memory.values.shape == (1, 49, TRUNK_CHANNELS[backbone])
    assert memory.mask.all()


def test_non_square_input_keeps_aspect():
    encoder = ImageEncoder(ImageEncoderConfig(backbone="resnet18", grid=None)).eval()
    with torch.no_grad():
        memory = encoder(torch.randn(2, 3, 224, 320))
    assert memory.grid == (7, 10)
    assert memory.values.shape == (2, 70, 512)


def test_pooled_grid_and_projection():
    config = ImageEncoderConfig(backbone="resnet18", grid=(14, 14), projection=32)
    encoder = ImageEncoder(config).eval()
    with torch.no_grad():
        memory = encoder(torch.randn(1, 3, 96, 128))
    assert memory.grid == (14, 14)
    assert memory.values.shape == (1, 196, 32)
    assert memory.final.shape == (1, 32)
