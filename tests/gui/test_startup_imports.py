"""The window shows before torch is imported: the worker imports it on its first request.

Importing the GUI must not pull in torch (seconds at start-up), e.g. through an engine
module that a view or an export imports at module level.
"""

import subprocess
import sys

CHECK = """
import sys
import attnscope.gui.app, attnscope.gui.main_window, attnscope.gui.launch
heavy = sorted(m for m in ("torch", "torchvision", "sentencepiece") if m in sys.modules)
print(",".join(heavy))
"""


def test_importing_the_window_does_not_import_torch():
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
