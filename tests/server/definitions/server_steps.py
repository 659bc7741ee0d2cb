"""Steps of the server tests' definitions."""

import time


def greet(who: str) -> str:
    """A greeting."""
    return f"hello, {who}"


def nap(seconds: float) -> float:
    """Sleep, then say how long."""
    time.sleep(seconds)
    return seconds
