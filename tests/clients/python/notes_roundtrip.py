"""Notes round trip over Streamable HTTP with the official `mcp` Python client.

    notes_roundtrip.py --url URL [--token T] [--mode auto|legacy|2026-07-28]
                       [--title T] [--body B] [--allow-tool-error]

Connects (server/discover, falling back to initialize; see common.py), lists
tools, calls notes_create {title, body}, then notes_list {"limit": 100}, and
prints one JSON object:
    {"protocol_version", "server_name", "tools": [sorted names],
     "created": structuredContent, "created_is_error": bool, "listed": structuredContent}
plus "created_error" (the error text) when notes_create returned isError, which
is only tolerated with --allow-tool-error (otherwise exit 4). Exit codes: see common.py.
"""

import argparse

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_http_args(parser)
    parser.add_argument("--title", default=common.DEFAULT_TITLE)
    parser.add_argument("--body", default=common.DEFAULT_BODY)
    parser.add_argument("--allow-tool-error", action="store_true")
    args = parser.parse_args()

    async def session() -> None:
        async with common.connect_http(args) as client:
            common.print_json(await common.roundtrip(client, args.title, args.body, args.allow_tool_error))

    common.run(session)


if __name__ == "__main__":
    main()
