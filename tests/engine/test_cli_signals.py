"""A closed pipe and Ctrl+C end every command quietly: one line at most, no traceback."""

import signal
import subprocess
import sys
import time

from attnscope.engine.cli import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED


def _default_sigint() -> None:
    """A run started in the background (`make test &`, nohup) inherits SIGINT ignored, and
    Python then installs no KeyboardInterrupt handler: give the child the default back, as an
    interactive shell would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, **options):
    return subprocess.Popen(
        [sys.executable, "-m", "attnscope", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def test_a_reader_that_goes_away_ends_the_command_quietly(tiny_translation_checkpoint):
    """`attnscope info CKPT | head -c1`: the reader closed before the command wrote."""
    process = start(["info", str(tiny_translation_checkpoint)])
    process.stdout.close()  # like `head` exiting before the command writes
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_BROKEN_PIPE
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_ctrl_c_ends_with_one_line_and_status_130(tiny_translation_checkpoint):
    """translate waits on stdin after loading; Ctrl+C (SIGINT) ends it with one line."""
    process = start(
        ["translate", "-c", str(tiny_translation_checkpoint)],
        stdin=subprocess.PIPE,
        preexec_fn=_default_sigint,
    )
    deadline = time.monotonic() + 120
    loaded = False
    while time.monotonic() < deadline and not loaded:  # the load is logged on stderr
        line = process.stderr.readline()
        loaded = "loaded" in line or not line
    assert loaded
    # the load is logged inside the command's run(): a SIGINT from here on is Ctrl+C mid-command
    process.send_signal(signal.SIGINT)
    try:  # a child that ignored the signal fails this test instead of hanging the suite
        _, rest = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1] == "attnscope: interrupted"
