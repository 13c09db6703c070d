"""Command line: ``python -m bench.fake_upstream --host 127.0.0.1 --port 9100 [--api-key KEY]``."""

from __future__ import annotations

import argparse
import asyncio
import os

from bench.fake_upstream.harness import serve_forever


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line (``--api-key`` defaults to $FAKE_UPSTREAM_API_KEY)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.fake_upstream",
        description="OpenAI-compatible fake LLM upstream with injectable faults.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("FAKE_UPSTREAM_API_KEY") or None,
        help="require 'Authorization: Bearer KEY' on /v1 (default: accept any)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM; return the exit code (0)."""
    args = parse_args(argv)
    asyncio.run(serve_forever(args.host, args.port, args.api_key))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
