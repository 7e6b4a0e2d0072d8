"""Command line: `python -m inference serve` starts the worker (host/port from env).

The guard below matters: vLLM starts its engine core in child processes, which re-import
the main module; only the real main process may start the server.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the HTTP worker (settings from INFERENCE_* env vars)")
    sub.add_parser("prepare-model", help="convert the packaged default model, then exit")
    args = parser.parse_args(argv)

    from inference.config import ConfigError, Settings

    try:
        settings = Settings.from_env()
    except ConfigError as exc:  # refuse to start, with the reason and no traceback
        print(f"python -m inference: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "prepare-model":
        from inference.model_store import resolve_model

        print(resolve_model(settings.model, settings.model_cache))
        return 0

    import uvicorn

    from inference.api import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
