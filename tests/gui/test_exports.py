"""Exports: every format is written whole, parses back and holds the right data."""

import csv
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image

from attnscope.gui import exports
from attnscope.gui.heatmap import HEAD_GRID, QtAttentionHeatmap

SOURCE = ["▁the", "▁cat", "a,b", '"q"']
TARGET = ["▁le", "▁chat", "</s>"]


def _weights(t: int = 3, s: int = 4) -> np.ndarray:
    weights = np.random.default_rng(0).random((t, s)).astype(np.float32)
    return weights / weights.sum(axis=1, keepdims=True)


@pytest.fixture
def heatmap(qtbot):
    view = QtAttentionHeatmap()
    qtbot.addWidget(view)
    view.resize(500, 350)
    view.show()
    qtbot.waitExposed(view)
    view.set_tokens(SOURCE, TARGET)
    view.set_matrix(_weights())
    return view


def test_heatmap_png_opens_at_the_requested_width(heatmap, tmp_path):
    path = exports.export_heatmap_png(heatmap, tmp_path / "map.png", width=800)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width == 800
        pixels = np.asarray(image.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10  # a drawing, not a blank
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png"]  # no temp file left


def test_heatmap_png_default_width_is_twice_the_screen(heatmap, tmp_path):
    path = exports.export_heatmap_png(heatmap, tmp_path / "map.png")
    on_screen = heatmap.export_target().sceneBoundingRect().width()
    with Image.open(path) as image:
        assert image.width == pytest.approx(2 * on_screen, abs=2)


def test_heatmap_grid_mode_exports_the_grid(heatmap, tmp_path):
    heatmap.set_heads(np.stack([_weights(), _weights()], axis=1))
    heatmap.set_head_mode(HEAD_GRID)
    heatmap.grab()
    path = exports.export_heatmap_png(heatmap, tmp_path / "grid.png", width=600)
    with Image.open(path) as image:
        assert image.width == 600


def test_heatmap_svg_is_well_formed_xml(heatmap, tmp_path):
    path = exports.export_heatmap_svg(heatmap, tmp_path / "map.svg")
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert any(el.tag.endswith("image") for el in root.iter())  # the matrix is embedded


def test_export_refuses_unknown_sources(tmp_path):
    with pytest.raises(TypeError, match="cannot export"):
        exports.export_heatmap_png(object(), tmp_path / "x.png")


def test_matrix_csv_has_token_header_and_row_labels(tmp_path):
    weights = _weights()
    path = exports.export_matrix_csv(weights, SOURCE, TARGET, tmp_path / "m.csv")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["", *SOURCE]
    assert [row[0] for row in rows[1:]] == TARGET
    values = np.array([[float(v) for v in row[1:]] for row in rows[1:]], dtype=np.float32)
    np.testing.assert_array_equal(values, weights)


def test_matrix_csv_checks_token_counts(tmp_path):
    with pytest.raises(ValueError, match="3 target and 2 source"):
        exports.export_matrix_csv(_weights(), SOURCE[:2], TARGET, tmp_path / "m.csv")
    assert not list(tmp_path.iterdir())


def test_matrix_npy_round_trips_any_shape(tmp_path):
    heads = np.random.default_rng(1).random((3, 2, 4)).astype(np.float32)
    path = exports.export_matrix_npy(heads, tmp_path / "m.npy")
    loaded = np.load(path, allow_pickle=False)
    assert loaded.dtype == heads.dtype
    np.testing.assert_array_equal(loaded, heads)


@dataclass(frozen=True)
class _Settings:
    beam: int
    length_penalty: float


def test_decode_json_converts_numpy_and_dataclasses(tmp_path):
    weights = _weights()
    payload = {
        "source": "the cat",
        "attention": weights,
        "scores": np.array([-0.5, -np.inf]),
        "best": np.int64(3),
        "settings": _Settings(beam=4, length_penalty=0.6),
        "grid": (7, 7),
    }
    path = exports.export_decode_json(payload, tmp_path / "d.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    np.testing.assert_allclose(np.array(document["attention"]), weights, rtol=1e-6)
    assert document["scores"] == [-0.5, None]  # strict JSON: -inf becomes null
    assert document["best"] == 3
    assert document["settings"] == {"beam": 4, "length_penalty": 0.6}
    assert document["grid"] == [7, 7]


def test_failed_json_export_leaves_the_old_file_untouched(tmp_path):
    path = tmp_path / "d.json"
    exports.export_decode_json({"ok": 1}, path)
    with pytest.raises(ValueError, match="cannot write a object"):
        exports.export_decode_json({"bad": object()}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]


def test_rgb_png_round_trips(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = exports.export_rgb_png(rgb, tmp_path / "strip.png")
    with Image.open(path) as image:
        np.testing.assert_array_equal(np.asarray(image), rgb)
    with pytest.raises(ValueError, match="uint8"):
        exports.export_rgb_png(rgb.astype(np.float32), tmp_path / "bad.png")


def test_exported_files_get_normal_permissions(tmp_path):
    path = exports.export_matrix_npy(np.zeros(3), tmp_path / "m.npy")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
