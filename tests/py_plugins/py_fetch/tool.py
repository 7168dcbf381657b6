"""py_fetch: GET a path under the granted API `app` with ctx.http, for the tests of outbound
HTTP from Python tools.

Build: sdk/python/build.sh tests/py_plugins/py_fetch target/polyglot/py_fetch.wasm
"""

from typing import Annotated

from toolhost import Field, tool

MAX_BODY = 100_000
"""The most of the answer's body returned, in characters."""


@tool(
    name="py_fetch",
    apis=["app"],
    output_schema={
        "type": "object",
        "properties": {"status": {"type": "integer"}, "body": {"type": "string"}},
        "required": ["status", "body"],
    },
)
def py_fetch(ctx, *, path: Annotated[str, Field(description="Appended to the API's base URL.")]):
    """GET `path` under the API "app" granted to this tool and return the status and body."""
    # A refusal, a timeout or a body over the limit raises HttpError, whose
    # message (the host's reason) fails the call.
    response = ctx.http.get(ctx.api_url("app") + path)
    return {"status": response.status, "body": response.text()[:MAX_BODY]}
