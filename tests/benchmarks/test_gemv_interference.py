"""benchmarks/gemv_interference.py --per-product: every product of the demo step, hot and
cold, against its own bytes."""

from benchmarks import gemv_interference


def test_per_product_covers_every_product_with_its_bytes(capsys):
    gemv_interference.main(["--per-product", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    steps = gemv_interference.DEMO_STEP
    assert len(lines) == 2 + len(steps) and lines[-1].startswith("cold total")
    output_layer = lines[len(steps)]  # (1, 256) x (256, 8000): 8.19 MB of weights
    assert output_layer.startswith("aten::addmm [[8000], [1, 256], [256, 8000]]")
    assert output_layer.split()[-3] == "8.19"
    # the attention's products have no weight to lay out input-major
    assert [line.endswith(" -") for line in lines[1:-1]] == [
        name == "aten::bmm" or shapes[1][1] == 1 for name, shapes in steps
    ]
