"""The decode debugger's engine side (issue 18): breakpoint conditions and coverage.

- ``breakpoints``: ``Breakpoints`` (the step loop's stop hook, and ``scan`` for a
  finished output), ``BreakpointHit`` and the conditions, ``condition_from_dict``;
- ``conditions``: the conditions themselves (entropy, low probability, repeated
  n-gram, stuck attention, uncovered at EOS, over-covered, no EOS, token);
- ``trace``: the per-step view of a hypothesis the conditions read;
- ``coverage``: running coverage (attention summed over steps) per source position;
- ``specs``: the command line's text form of conditions (``translate --flag``).

Nothing here imports Qt; the GUI's Breakpoints dock hands the worker the conditions'
``to_dict`` forms.
"""
