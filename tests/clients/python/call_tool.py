"""One tools/call over Streamable HTTP with the official `mcp` Python client.

    call_tool.py --url URL [--token T] [--mode auto|legacy|2026-07-28] --tool NAME --args JSON

Prints {"is_error": bool, "structured": structuredContent|null, "text": [text blocks]}
and exits 0 whenever the call completed, isError included. On a protocol or
transport failure it exits non-zero (see common.py) with the reason on stderr;
a JSON-RPC error is also printed on stdout as
    {"protocol_error": {"code": int, "message": str, "data": any}, "http_status": int|null}
(http_status: the last HTTP status >= 400 seen, e.g. 401 when the token is refused;
the SDK reports a bare HTTP error without a JSON-RPC body as code -32603).
"""

import argparse
import json

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_http_args(parser)
    parser.add_argument("--tool", required=True)
    parser.add_argument("--args", type=json.loads, default={}, help="tool arguments as a JSON object")
    args = parser.parse_args()

    async def session() -> None:
        async with common.connect_http(args) as client:
            result = await client.call_tool(args.tool, args.args)
            common.print_json(
                {"is_error": result.is_error, "structured": result.structured_content, "text": common.text_of(result)}
            )

    common.run(session, protocol_error_json=True)


if __name__ == "__main__":
    main()
