"""What the browser tests share: Debian's chromium, and how it is started headless."""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
"""Flags for a headless chromium in a container: no sandbox, no GPU, no background
traffic (updates, sync, QUIC)."""
