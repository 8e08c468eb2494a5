"""AttnScope's benchmarks: ``attnscope bench`` and the scripts it compares against.

A package of the source checkout, never installed with ``attnscope``:
``attnscope bench`` imports it from the checkout it runs from
(engine/commands/bench.py), and ``python -m benchmarks`` runs the same
command from the checkout's root. See benchmarks/README.md.
"""
