"""Notes round trip over stdio with the official `mcp` Python client.

    stdio_roundtrip.py [--mode auto|legacy|2026-07-28] [--title T] [--body B]
                       [--allow-tool-error] -- COMMAND [ARGS...]

Spawns COMMAND (e.g. `toolhost serve --stdio --plugins DIR --data DIR`) with
the mcp package's stdio client, passing it this process's whole environment
(the SDK default would pass only HOME, PATH and a few others); the server's
stderr is passed through to ours. Then does exactly what notes_roundtrip.py
does and prints the same JSON object. Exit codes: see common.py.
"""

import argparse
import os

from mcp import Client, StdioServerParameters

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_mode_arg(parser)
    parser.add_argument("--title", default=common.DEFAULT_TITLE)
    parser.add_argument("--body", default=common.DEFAULT_BODY)
    parser.add_argument("--allow-tool-error", action="store_true")
    parser.add_argument("command", nargs="+", help="server command and its arguments, after --")
    args = parser.parse_args()
    server = StdioServerParameters(command=args.command[0], args=args.command[1:], env=dict(os.environ))

    async def session() -> None:
        async with Client(
            server, mode=args.mode, cache=None, read_timeout_seconds=common.REQUEST_TIMEOUT_SECONDS
        ) as client:
            common.print_json(await common.roundtrip(client, args.title, args.body, args.allow_tool_error))

    common.run(session)


if __name__ == "__main__":
    main()
