"""TrainConfig: sections, TOML loading, validation, model overrides per task."""

import pytest

from attnscope.engine.training.config import (
    DataConfig,
    TrainConfig,
    load_toml,
    merge_settings,
)

TRANSLATION = {"data": {"src_train": "a.de", "tgt_train": "a.en"}}


def test_defaults_build_a_translation_model_config():
    config = TrainConfig.from_dict(TRANSLATION)
    model = config.model_config(src_vocab=100, tgt_vocab=120)
    assert model.task == "translation" and model.src_vocab == 100 and model.tgt_vocab == 120
    assert config.run.epochs == 10 and config.optim.optimizer == "adam"


def test_captioning_defaults_and_nested_overrides():
    config = TrainConfig.from_dict(
        {
            "data": {"task": "captioning", "images": "imgs", "captions": "c.csv"},
            "model": {
                "embed_dim": 32,
                "decoder": {"hidden": 64},
                "image_encoder": {"grid": [4, 4]},
            },
        }
    )
    model = config.model_config(src_vocab=0, tgt_vocab=50)
    assert model.task == "captioning" and model.src_vocab == 0
    assert model.decoder.cell == "lstm"  # captioning default kept
    assert model.decoder.hidden == 64 and model.embed_dim == 32
    assert model.image_encoder.grid == (4, 4)


def test_toml_round_trip_and_flag_precedence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(
        '[data]\nsrc_train = "x.de"\ntgt_train = "x.en"\nbatch_size = 8\n'
        '[model.attention]\nkind = "dot"\n'
        "[optim]\nlr = 0.01\nbetas = [0.8, 0.9]\n"
        "[run]\nepochs = 3\n"
    )
    settings = merge_settings(load_toml(path), {"run": {"epochs": 5}, "model": {"embed_dim": 16}})
    config = TrainConfig.from_dict(settings)
    assert config.data.batch_size == 8 and config.run.epochs == 5
    assert config.optim.betas == (0.8, 0.9)
    model = config.model_config(src_vocab=10, tgt_vocab=10)
    assert model.attention.kind == "dot" and model.embed_dim == 16
    assert TrainConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"data": {}}, "training data"),
        ({"data": {"src_train": "a", "tgt_train": "b", "pairs_train": "c"}}, "not both"),
        ({**TRANSLATION, "optim": {"optimizer": "sgd"}}, "adamw"),
        ({**TRANSLATION, "optim": {"schedule": "cosine"}}, "inverse_sqrt"),
        ({**TRANSLATION, "run": {"epochs": 0}}, "epochs"),
        ({**TRANSLATION, "run": {"bogus": 1}}, "unknown \\[run\\] keys: bogus"),
        ({**TRANSLATION, "extra": {}}, "unknown config sections"),
        ({**TRANSLATION, "model": {"attention": {"kind": "magic"}}}, "attention kind"),
        ({**TRANSLATION, "model": {"decoder": {"size": 3}}}, "size"),
        ({"data": {"task": "captioning"}}, "--images"),
    ],
)
def test_bad_settings_raise_value_errors_naming_the_problem(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict(settings)


def test_bad_toml_is_a_value_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[data\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_toml(path)
    with pytest.raises(ValueError, match="cannot read"):
        load_toml(tmp_path / "missing.toml")


def test_batching_view():
    data = DataConfig(src_train="a", tgt_train="b", batch_tokens=500)
    assert data.batching.batch_tokens == 500
