"""Suite-wide set-up: headless Qt, row-major pyqtgraph, deterministic torch."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    try:
        import pyqtgraph
    except ImportError:  # pragma: no cover - the test extra always has it
        return
    pyqtgraph.setConfigOptions(imageAxisOrder="row-major")
