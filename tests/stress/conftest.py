"""Stress scripts run by hand (``python tests/stress/soak.py``); pytest collects none."""

collect_ignore_glob = ["*.py"]
