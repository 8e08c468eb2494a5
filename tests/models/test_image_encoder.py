"""Image encoder: grid shapes for square and non-square inputs, every backbone;
the from-scratch ``small_cnn`` trunk and the learned grid-cell positions."""

import pytest
import torch

from attnscope.models.config import ImageEncoderConfig
from attnscope.models.encoders import TRUNK_CHANNELS, TRUNK_STRIDES, ImageEncoder


@pytest.mark.parametrize("backbone", sorted(TRUNK_CHANNELS))
def test_natural_grid_224(backbone):
    encoder = ImageEncoder(ImageEncoderConfig(backbone=backbone, grid=None)).eval()
    with torch.no_grad():
        memory = encoder(torch.randn(1, 3, 224, 224))
    side = 224 // TRUNK_STRIDES[backbone]  # 7 for the torchvision trunks
    assert memory.grid == (side, side)
    assert memory.values.shape == (1, side * side, TRUNK_CHANNELS[backbone])
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


def _small(**overrides) -> ImageEncoder:
    settings = {"backbone": "small_cnn", "image_size": (32, 48), "grid": (4, 6), "dropout": 0.0}
    return ImageEncoder(ImageEncoderConfig(**{**settings, **overrides}))


def test_small_cnn_gives_one_cell_per_8_pixels():
    encoder = _small(grid=None, projection=24).eval()
    with torch.no_grad():
        memory = encoder(torch.randn(2, 3, 32, 48))
    assert memory.grid == (4, 6)
    assert memory.values.shape == (2, 24, 24)


def test_small_cnn_cell_sees_only_its_neighbourhood():
    """A pixel change far from a cell leaves that cell's feature untouched."""
    encoder = _small(grid=None).eval()
    images = torch.randn(1, 3, 96, 96)
    changed = images.clone()
    changed[:, :, 88:, 88:] = 5.0  # bottom-right corner only
    with torch.no_grad():
        before, after = encoder(images).values, encoder(changed).values  # (1, 144, 128)
    moved = (before - after).abs().amax(-1).reshape(12, 12) > 0
    assert moved[11, 11] and not moved[:8, :8].any()


def test_small_cnn_trains_end_to_end():
    encoder = _small(projection=16, positions=True).train()
    encoder(torch.randn(2, 3, 32, 48)).values.square().mean().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_positions_tell_cells_with_the_same_content_apart():
    plain = torch.zeros(1, 3, 32, 48)  # every cell's trunk feature is the same
    without = _small(projection=16).eval()
    with_positions = _small(projection=16, positions=True).eval()
    with torch.no_grad():
        flat = without(plain).values[0]  # (24, 16)
        placed = with_positions(plain).values[0]
    interior = flat.reshape(4, 6, 16)[1:3, 1:5].reshape(-1, 16)  # away from padding
    assert torch.allclose(interior, interior[:1].expand_as(interior))
    assert torch.unique(placed, dim=0).shape[0] == 24


def test_positions_need_a_fixed_grid_and_leave_other_state_dicts_alone():
    with pytest.raises(ValueError, match="grid"):
        ImageEncoderConfig(backbone="small_cnn", grid=None, positions=True)
    assert "positions" not in ImageEncoder(ImageEncoderConfig(backbone="resnet18")).state_dict()
    assert _small(positions=True).state_dict()["positions"].shape == (24, 128)


def test_without_summary_the_final_vector_says_nothing_about_the_picture():
    encoder = _small(projection=16, summary=False).eval()
    with torch.no_grad():
        first, second = encoder(torch.randn(2, 3, 32, 48)), encoder(torch.randn(2, 3, 32, 48))
    assert torch.equal(first.final, torch.zeros(2, 16)) and torch.equal(first.final, second.final)
    assert not torch.equal(first.values, second.values)


def test_local_keys_depend_only_on_each_cells_own_pixels():
    encoder = _small(projection=16, local_keys=True).eval()  # 4x6 grid of 8 px cells
    images = torch.randn(1, 3, 32, 48)
    changed = images.clone()
    changed[:, :, 8:16, 16:24] = 3.0  # exactly cell (1, 2)
    with torch.no_grad():
        before, after = encoder(images), encoder(changed)
    moved = (before.key_source - after.key_source).abs().amax(-1).reshape(4, 6) > 0
    assert moved[1, 2] and moved.sum() == 1
    values_moved = (before.values - after.values).abs().amax(-1).reshape(4, 6) > 0
    assert values_moved.sum() > 1  # the values still see the trunk's neighbourhood


def test_local_keys_feed_the_attention_and_survive_beam_reordering():
    from attnscope.models.config import AttentionConfig, DecoderConfig, ModelConfig
    from attnscope.models.registry import build_model

    config = ModelConfig(
        task="captioning",
        tgt_vocab=12,
        embed_dim=8,
        image_encoder=ImageEncoderConfig(
            backbone="small_cnn", grid=(4, 6), projection=16, local_keys=True, image_size=(32, 48)
        ),
        decoder=DecoderConfig(hidden=16, dropout=0.0),
    )
    model = build_model(config).eval()
    with torch.no_grad():
        memory = model.encode(torch.randn(2, 3, 32, 48))
        expected = model.decoder.attention.precompute(memory.key_source)
        assert torch.equal(memory.keys, expected)
        picked = memory.index_select(torch.tensor([1, 1, 0]))
    assert torch.equal(picked.key_source[2], memory.key_source[0])
    with pytest.raises(ValueError, match="local attention keys"):
        ModelConfig(
            task="captioning",
            tgt_vocab=12,
            image_encoder=ImageEncoderConfig(backbone="small_cnn", local_keys=True),
            attention=AttentionConfig(kind="multihead", heads=2),
        )
    with pytest.raises(ValueError, match="local attention keys need a fixed grid"):
        ImageEncoderConfig(backbone="small_cnn", grid=None, local_keys=True)
