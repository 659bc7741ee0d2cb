"""Steps of the server tests' definitions."""

import time


def greet(who: str) -> str:
    """A greeting."""
    return f"hello, {who}"


def nap(seconds: float) -> float:
    """Sleep, then say how long."""
    time.sleep(seconds)
    return seconds


def nap_after_mark(seconds: float, mark: str) -> float:
    """Create the file ``mark`` (the step has begun running), then sleep."""
    with open(mark, "w"):
        pass
    time.sleep(seconds)
    return seconds
