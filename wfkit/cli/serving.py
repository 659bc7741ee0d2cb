"""``wfkit serve``: Dapr's workflow HTTP API and the dashboard, with the engine's workers
in the same process unless ``--no-workers``."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any

from wfkit.cli.definitions import EXIT_OK, UsageError
from wfkit.cli.options import at_least_one, not_negative, open_runtime, settings_flags

__all__ = ["register"]

DEFAULT_GRACE = 10.0
"""Seconds a stopping server gives its running steps to finish, by default."""


def register(sub: Any) -> None:
    """Add ``wfkit serve`` to the subcommand parsers."""
    serve = sub.add_parser(
        "serve",
        help="serve Dapr's workflow HTTP API and a live dashboard",
        description="Serve Dapr's workflow HTTP API (/v1.0/workflows/...), wfkit's own "
        "routes (/v1.0/wfkit/...) and a live dashboard (/) on one port, and run the "
        "engine's workers in the same process (--no-workers: only serve, for workers that "
        "run elsewhere on the same store). Binds to 127.0.0.1 unless told otherwise; any "
        "other address needs a token (--token or $WFKIT_API_TOKEN) that every request then "
        "carries in the dapr-api-token header or as a bearer token. Ctrl-C or SIGTERM stop "
        "it gracefully. Needs the extra: pip install 'wfkit[server]'.",
    )
    settings_flags(serve, workers=True)
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=3500,
        help="port (default 3500, Dapr's; 0: a free one, said when serving starts)",
    )
    serve.add_argument(
        "--token",
        help="the API token every request must carry ($WFKIT_API_TOKEN); required when "
        "--host is not a loopback address",
    )
    serve.add_argument(
        "--no-workers",
        action="store_true",
        help="run no steps here: serve the store for workers that run elsewhere",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=at_least_one,
        default=16 << 20,
        metavar="BYTES",
        help="the largest request body accepted (default 16 MiB); bigger ones get 413",
    )
    serve.add_argument(
        "--grace",
        type=not_negative,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help="when told to stop, give the steps still running up to this many seconds to "
        f"finish and be recorded, starting nothing new (default {DEFAULT_GRACE:g}; a second "
        "Ctrl-C or SIGTERM stops at once)",
    )
    serve.set_defaults(func=cmd_serve)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number, not {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, not {port}")
    return port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    """``wfkit serve``."""
    token = args.token or os.environ.get("WFKIT_API_TOKEN") or None
    if token is None and not _is_loopback(args.host):
        raise UsageError(
            f"--host {args.host} lets other machines reach the server, so it needs a token: "
            "give --token TOKEN (or set $WFKIT_API_TOKEN), or bind to 127.0.0.1"
        )
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"the server extra is not installed ({exc.name} is missing): "
            "pip install 'wfkit[server]'"
        ) from None
    from wfkit.server.context import ServerContext
    from wfkit.server.serve import StopSignals, cannot_listen, listen, serve

    with StopSignals() as signals:
        try:
            sock = listen(args.host, args.port)
        except OSError as exc:
            raise UsageError(cannot_listen(exc, args.host, args.port)) from None
        try:
            runtime = open_runtime(args, engine=not args.no_workers)
        except BaseException:
            sock.close()
            raise
        context = ServerContext(runtime=runtime, token=token, max_body_bytes=args.max_body_bytes)
        workers = "no workers" if args.no_workers else f"{runtime.settings.workers} step slots"
        url = f"http://{_url_host(args.host)}:{sock.getsockname()[1]}/"

        def ready() -> None:
            line = f"wfkit serving on {url} ({workers}); Ctrl-C to stop"
            print(line, file=sys.stderr, flush=True)

        serve(context, sock, grace=args.grace, signals=signals, ready=ready)
    print("wfkit serve stopped", file=sys.stderr)
    return EXIT_OK


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
