"""scripts/choose_decoding.py: the grid on a checkpoint's validation files, written as JSON that
set_checkpoint_metadata.py stores."""

import json

from script_support import load_script


def test_the_grid_runs_on_files_and_writes_the_two_info_entries(
    tiny_translation_checkpoint, tmp_path, capsys
):
    src, ref, out = tmp_path / "val.de", tmp_path / "val.en", tmp_path / "choice.json"
    src.write_text("ein mann .\neine frau .\n", encoding="utf-8")
    ref.write_text("a man .\na woman .\n", encoding="utf-8")
    argv = ["-c", str(tiny_translation_checkpoint), "--src", str(src), "--ref", str(ref)]
    assert load_script("choose_decoding").main([*argv, "--max-length", "8", "--out", str(out)]) == 0
    written = json.loads(out.read_text(encoding="utf-8"))
    choice = written["decoding_choice"]
    assert choice["metric"] == "bleu" and choice["data"] == "val.de / val.en, 2 sentences"
    assert len(choice["grid"]) == 11 and choice["fixed"] == {"max_length": 8}
    best = max(choice["grid"], key=lambda entry: entry["score"])
    assert written["recommended_decoding"] == {**best["decoding"], "max_length": 8}
    assert len(capsys.readouterr().out.splitlines()) == 12  # a line per setting, then the choice
