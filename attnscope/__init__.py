"""AttnScope: a desktop workbench for attention-based encoder-decoder models.

The layers live in top-level folders and install as subpackages:
``attnscope.models`` (torch modules), ``attnscope.engine`` (everything that
runs a model without a screen) and ``attnscope.gui`` (PySide6 views).
"""

__version__ = "0.1.0"
