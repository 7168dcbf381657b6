"""Watch notifications/tools/list_changed over Streamable HTTP with the official `mcp` Python client.

    watch_list_changed.py --url URL [--token T] [--mode auto|legacy|2026-07-28]
                          --count N --timeout SECONDS

Prints `READY` once notifications can be received, then for every
notifications/tools/list_changed one line {"t": time.time() at receipt,
"tools": [sorted names from a fresh tools/list]}. Exits 0 after N
notifications, 3 if SECONDS (counted from start, connecting included) run out
first, 1 on any other failure.

How the notification reaches mcp 2.3.0 depends on the negotiated revision
(with the default --mode auto that is 2026-07-28 whenever the server answers
server/discover):
  * 2026-07-28: change notifications are only sent on a `subscriptions/listen`
    stream. `Client.listen(tools_list_changed=True)` POSTs that request, waits
    for notifications/subscriptions/acknowledged, and keeps reading its SSE
    response; each notification carries
    _meta "io.modelcontextprotocol/subscriptionId". READY follows the ack.
  * 2025-11-25 (legacy handshake): the server sends them on the standalone GET
    SSE stream that the transport opens after notifications/initialized; READY
    follows the server's text/event-stream answer to that GET.
Either way the SDK hands every notification to `message_handler`, which is
where they are counted: one line per wire notification (the listen iterator
would coalesce back-to-back ones).
"""

import argparse
import time

import anyio
from anyio.abc import TaskStatus
from mcp import Client, types
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

import common


async def hold_subscription(client: Client, *, task_status: TaskStatus[None]) -> None:
    """Open a tools listen stream, report started once acknowledged, fail if the server ends it."""
    async with client.listen(tools_list_changed=True) as subscription:
        if not subscription.honored.tools_list_changed:
            raise RuntimeError(f"server did not honor toolsListChanged: {subscription.honored}")
        task_status.started()
        async for _ in subscription:
            pass  # counted via message_handler
    raise RuntimeError("the server closed the subscriptions/listen stream")


async def wait_for_get_stream() -> None:
    """Wait for the server's answer to the standalone GET SSE stream, which the transport opens only in a session."""
    observer = common.OBSERVER
    if observer.session_id is None:
        raise RuntimeError("no Mcp-Session-Id after initialize, so there is no standalone stream to notify on")
    await observer.get_stream_answered.wait()
    if observer.get_stream_error:
        raise RuntimeError(f"server refused the standalone GET SSE stream: {observer.get_stream_error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_http_args(parser)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args()
    if args.count < 1:
        parser.error("--count must be at least 1")
    received = 0

    async def watch() -> None:
        nonlocal received
        send, arrivals = anyio.create_memory_object_stream[float](1000)

        async def on_message(message: object) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                send.send_nowait(time.time())

        async with common.connect_http(args, message_handler=on_message) as client, anyio.create_task_group() as tg:
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                await tg.start(hold_subscription, client)
            else:
                await wait_for_get_stream()
            print("READY", flush=True)
            async for arrived in arrivals:
                common.print_json({"t": arrived, "tools": await common.tool_names(client)})
                received += 1
                if received == args.count:
                    tg.cancel_scope.cancel()
                    break

    async def bounded() -> None:
        with anyio.move_on_after(args.timeout) as deadline:
            await watch()
        if deadline.cancelled_caught:
            raise TimeoutError(f"{received} of {args.count} notifications within {args.timeout} s")

    common.run(bounded)


if __name__ == "__main__":
    main()
