"""Training: from users' files to a checkpoint the app opens, on one process or under torchrun.

- ``config``:     ``TrainConfig`` (sections data / vocab / model / optim / run; TOML)
- ``data``:       readers for parallel text, TSV pairs, captions CSV and split files
- ``batching``:   length-bucketed batches, reproducible per (seed, epoch), rank shards
- ``vocab``:      sentencepiece vocabularies trained on the training text
- ``translation_task`` / ``captioning_task``: data, loss and validation of each task
- ``trainer``:    the task-agnostic loop with callbacks, checkpoints and exact resume
- ``progress``:   where a run is, how it ended, the names of its best and last checkpoints
- ``epoch_files``: which ``epoch-NNN.safetensors`` a run keeps (every epoch within a budget)
- ``state``:      the resumable training state (torch.save, read with weights_only)
- ``schedules``:  learning-rate warm-up, inverse-sqrt, linear and plateau schedules
- ``callbacks``:  progress lines on stderr and the JSONL metrics log
- ``distributed``: process group, ``shard_for_rank`` / ``gather_in_order``
- ``run``:        ``train(config)``, what ``attnscope train`` calls

The shapes data set and its pointing metric are in ``attnscope.engine.shapes``: measuring
a trained model is evaluation, and training imports neither it nor ``engine.inference``
(tests/engine/test_training_imports.py).

See docs/training.md for the user's guide.
"""
