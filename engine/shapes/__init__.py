"""The shapes data set and its pointing metric: an attention sanity check for captioners.

- ``scenes``:        plain scenes of 1–3 coloured shapes with exact captions, masks and
                     noun positions, deterministic per (seed, index)
- ``dataset_files``: scenes written as images + ``captions.csv`` (+ ``splits.tsv``) that
                     ``attnscope train`` reads, with exact annotations in ``shapes.json``
- ``pointing``:      does a trained captioner's attention, at a shape's noun, peak inside
                     that shape? (evaluation of a trained model, not training)
- ``cli``:           ``python -m attnscope.engine.shapes write|pointing``

Training does not import this package: it reads the files like any captions data set.
"""

from attnscope.engine.shapes.dataset_files import (
    decode_mask,
    encode_mask,
    write_dataset,
    write_splits,
)
from attnscope.engine.shapes.pointing import (
    PointingReport,
    caption_words,
    measure_pointing,
    noun_steps,
    pointing_hit,
)
from attnscope.engine.shapes.scenes import (
    COLOURS,
    SHAPE_PAINTERS,
    Scene,
    SceneShape,
    ShapesConfig,
    generate_dataset,
    generate_scene,
)

__all__ = [
    "COLOURS",
    "SHAPE_PAINTERS",
    "PointingReport",
    "Scene",
    "SceneShape",
    "ShapesConfig",
    "caption_words",
    "decode_mask",
    "encode_mask",
    "generate_dataset",
    "generate_scene",
    "measure_pointing",
    "noun_steps",
    "pointing_hit",
    "write_dataset",
    "write_splits",
]
