"""engine/decoding/choice.py: the validation grid, scored with a scripted metric (no model)."""

from attnscope.engine.decoding import DecodeConfig
from attnscope.engine.decoding.choice import choose_decoding, grid_settings


def test_the_grid_is_greedy_then_beam_3_and_5_with_each_length_penalty():
    settings = grid_settings()
    assert settings[0] == {"strategy": "greedy"} and len(settings) == 11
    for setting in settings:
        DecodeConfig(**setting)  # every one is a valid decoding
    beams = [(s["beam_size"], s["length_penalty"], s.get("alpha")) for s in settings[1:]]
    assert beams[:5] == [
        (3, "none", None),
        (3, "average", None),
        (3, "gnmt", 0.6),
        (3, "gnmt", 1.0),
        (3, "gnmt", 1.5),
    ]
    assert {b[0] for b in beams[5:]} == {5}


def test_the_best_score_wins_and_every_score_is_kept():
    def score(config: DecodeConfig) -> float:
        return config.beam_size * 10 + config.alpha if config.strategy == "beam" else 1.0

    seen = []
    choice = choose_decoding(
        score,
        DecodeConfig(topk_alternatives=0),
        metric="bleu",
        data="val, 3 sentences",
        on_score=lambda setting, value: seen.append(value),
    )
    assert choice.recommended == {
        "strategy": "beam",
        "beam_size": 5,
        "length_penalty": "gnmt",
        "alpha": 1.5,
    }
    info = choice.to_info()
    assert info["recommended_decoding"] == choice.recommended
    assert [entry["score"] for entry in info["decoding_choice"]["grid"]] == seen
    assert info["decoding_choice"]["metric"] == "bleu"


def test_a_tie_goes_to_the_cheaper_setting_and_fixed_fields_are_kept():
    configs = []

    def flat(config: DecodeConfig) -> float:
        configs.append(config)
        return 2.0

    choice = choose_decoding(
        flat,
        DecodeConfig(max_length_ratio=0.0),
        metric="cider",
        data="dev",
        fixed={"max_length": 30},
    )
    assert choice.recommended == {"strategy": "greedy", "max_length": 30}
    assert {config.max_length for config in configs} == {30}  # every decode was measured so
