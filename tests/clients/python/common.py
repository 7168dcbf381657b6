"""Shared helpers for the Python MCP client scripts (imported, not run).

Everything here goes through the public API of the official `mcp` package
(2.3.0): `mcp.Client` over `streamable_http_client` or `stdio_client`.

With the default `--mode auto`, mcp 2.3.0 first POSTs `server/discover` at
protocol 2026-07-28; if the server answers it, the client adopts 2026-07-28
(stateless: no `initialize`, no session id, no GET stream). If the probe gets
a JSON-RPC error (an HTTP error status without a JSON-RPC body counts as one)
it falls back to the `initialize` handshake at 2025-11-25. `--mode legacy`
skips the probe; `--mode 2026-07-28` skips it too and assumes that revision
(the server name is then unknown).

Exit codes used by all scripts: 0 success, 1 protocol/transport failure
(a request timing out is JSON-RPC error -32001, so 1 too), 2 bad command line,
3 timeout of a client-side wait (watch_list_changed's deadline), 4 a tool call
returned isError.
"""

import argparse
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

EXIT_FAILURE = 1
EXIT_TIMEOUT = 3
EXIT_TOOL_ERROR = 4

REQUEST_TIMEOUT_SECONDS = 30.0
"""Per-request read timeout handed to the client, so no single request can hang."""

MAX_TOOL_PAGES = 100
"""Upper bound on tools/list pages followed, so a server that never stops paginating cannot hang us."""

DEFAULT_TITLE = "e2e note"
DEFAULT_BODY = "written by the official mcp Python client"


class ToolCallFailed(Exception):
    """The tool ran but returned isError: true."""


def add_mode_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode",
        choices=["auto", "legacy", "2026-07-28"],
        default="auto",
        help="protocol negotiation: auto (server/discover, fall back to initialize), "
        "legacy (initialize at 2025-11-25), or 2026-07-28 (no probe)",
    )


def add_http_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="Streamable HTTP endpoint, e.g. http://127.0.0.1:PORT/mcp")
    parser.add_argument("--token", help="send 'Authorization: Bearer TOKEN' on every HTTP request")
    add_mode_arg(parser)


class HttpObserver:
    """httpx2 response hook: remembers HTTP error statuses and the answer to the standalone GET SSE stream."""

    def __init__(self) -> None:
        self.error_statuses: list[int] = []
        self.session_id: str | None = None
        self.get_stream_answered = anyio.Event()
        self.get_stream_error: str | None = None

    async def on_response(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self.error_statuses.append(response.status_code)
        self.session_id = response.headers.get("mcp-session-id", self.session_id)
        if response.request.method == "GET" and not self.get_stream_answered.is_set():
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or not content_type.startswith("text/event-stream"):
                self.get_stream_error = f"HTTP {response.status_code}, content-type {content_type!r}"
            self.get_stream_answered.set()


OBSERVER: HttpObserver | None = None
"""Set by `connect_http`, read by `run` to report HTTP statuses on failure."""


@asynccontextmanager
async def connect_http(args: argparse.Namespace, **client_kwargs: Any) -> AsyncIterator[Client]:
    """Connect a `mcp.Client` to `args.url`, negotiating per `args.mode`; yields the connected client."""
    global OBSERVER
    OBSERVER = HttpObserver()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None
    # The SDK's own default timeouts (30 s, 300 s read for SSE), plus our header and hook;
    # trust_env=False so a proxy configured in the environment cannot get between us and the server.
    http = httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(30.0, read=300.0),
        event_hooks={"response": [OBSERVER.on_response]},
        trust_env=False,
    )
    async with http:
        transport = streamable_http_client(args.url, http_client=http)
        # cache=None: every list/call reaches the server, which is what an end-to-end test wants.
        async with Client(
            transport, mode=args.mode, cache=None, read_timeout_seconds=REQUEST_TIMEOUT_SECONDS, **client_kwargs
        ) as client:
            yield client


async def tool_names(client: Client) -> list[str]:
    """Sorted names from a fresh tools/list, following pagination."""
    names: list[str] = []
    cursor = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        names.extend(tool.name for tool in page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return sorted(names)
    raise RuntimeError(f"tools/list still paginating after {MAX_TOOL_PAGES} pages")


def text_of(result: Any) -> list[str]:
    """The text blocks of a CallToolResult's content."""
    return [block.text for block in result.content if block.type == "text"]


async def roundtrip(client: Client, title: str, body: str, allow_tool_error: bool) -> dict[str, Any]:
    """List tools, notes_create, notes_list {"limit": 100}; returns the report printed by the roundtrip scripts."""
    tools = await tool_names(client)
    created = await client.call_tool("notes_create", {"title": title, "body": body})
    if created.is_error and not allow_tool_error:
        raise ToolCallFailed(f"notes_create returned isError: {' '.join(text_of(created))}")
    listed = await client.call_tool("notes_list", {"limit": 100})
    if listed.is_error:
        raise ToolCallFailed(f"notes_list returned isError: {' '.join(text_of(listed))}")
    report = {
        "protocol_version": client.protocol_version,
        "server_name": client.server_info.name if client.server_info else None,
        "tools": tools,
        "created": created.structured_content,
        "created_is_error": created.is_error,
        "listed": listed.structured_content,
    }
    if created.is_error:
        report["created_error"] = "\n".join(text_of(created))
    return report


def print_json(value: Any) -> None:
    print(json.dumps(value), flush=True)


def _leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside (possibly nested) exception groups, preferring an MCPError."""
    while isinstance(exc, BaseExceptionGroup):
        exc = next((e for e in exc.exceptions if isinstance(e, MCPError)), exc.exceptions[0])
    return exc


def run(main: Callable[[], Awaitable[None]], protocol_error_json: bool = False) -> None:
    """Run `main` under anyio and turn failures into a stderr message and an exit code.

    With `protocol_error_json`, a JSON-RPC error is also printed on stdout as
    {"protocol_error": {"code", "message", "data"}, "http_status": int|null}.
    """
    try:
        anyio.run(main)
    except Exception as raised:  # the process boundary: everything becomes a message and an exit code
        exc = _leaf(raised)
        statuses = OBSERVER.error_statuses if OBSERVER else []
        http_note = f" (HTTP status {', '.join(map(str, statuses))})" if statuses else ""
        if isinstance(exc, ToolCallFailed):
            print(f"tool error: {exc}", file=sys.stderr)
            sys.exit(EXIT_TOOL_ERROR)
        if isinstance(exc, TimeoutError):
            print(f"timed out: {exc}{http_note}", file=sys.stderr)
            sys.exit(EXIT_TIMEOUT)
        if isinstance(exc, MCPError):
            print(f"protocol error {exc.code}: {exc.message}{http_note}", file=sys.stderr)
            if protocol_error_json:
                error = {"code": exc.code, "message": exc.message, "data": exc.data}
                print_json({"protocol_error": error, "http_status": statuses[-1] if statuses else None})
        else:
            print(f"failure: {type(exc).__name__}: {exc}{http_note}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
