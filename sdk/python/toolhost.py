"""Write a toolhost tool in Python.

A tool is a function decorated with ``@tool(...)`` in the plugin's ``tool.py``::

    from toolhost import tool, ToolError

    @tool(name="hello", description="Greet someone by name",
          input_schema={"type": "object", "properties": {"name": {"type": "string"}},
                        "required": ["name"], "additionalProperties": False})
    def hello(ctx, args):
        return {"message": f"Hello {args['name']}, from {ctx.principal.subject}"}

``call(ctx, args)`` gets the verified caller in ``ctx`` and the arguments
(already validated by the host against ``input_schema``) as a dict, and returns
a dict: the structured result, also rendered as text for the client (JSON, or
what the function registered with ``@hello.render`` returns). Raise
``ToolError(kind, message)`` to fail with a kind the client sees; any other
exception fails the call as ``failed`` with its message.

build.sh makes the component: the generated module ``toolhost_app`` imports
``tool`` and exports the world ``toolhost:plugin/tool@0.1.0`` through
``WitWorld`` below.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterator, Optional

# Everything is imported here, at the top: modules load while the component is
# built, and at run time there is no file system to load more from.
try:
    from componentize_py_types import Err
    from wit_world.imports import environment as _wit_environment
    from wit_world.imports import log as _wit_log
    from wit_world.imports import outgoing_handler as _wit_outgoing
    from wit_world.imports import store as _wit_store
    from wit_world.imports import streams as _wit_streams
    from wit_world.imports import toolhost_plugin_types as _wit_types
    from wit_world.imports import wasi_http_types as _wit_http
except ImportError:  # outside a component (an editor, a unit test): no host services
    Err = _wit_environment = _wit_log = _wit_outgoing = _wit_store = _wit_streams = None
    _wit_types = _wit_http = None

__all__ = ["tool", "Tool", "ToolError", "StoreError", "Context", "Principal", "Bucket", "Entry", "log"]

ERROR_KINDS = ("invalid-input", "forbidden", "not-found", "failed")

_TOOL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""The host's tool-name rule: 1 to 64 of ASCII a-z, 0-9 and _, starting with a letter (str methods
such as islower would also accept non-ASCII letters and digits, which the host refuses)."""


class ToolError(Exception):
    """A failure the client sees as ``kind`` (one of ERROR_KINDS) with ``message``."""

    def __init__(self, kind: str, message: str):
        if kind not in ERROR_KINDS:
            raise ValueError(f"ToolError kind must be one of {', '.join(ERROR_KINDS)}, not {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = str(message)


class StoreError(Exception):
    """A store operation failed: a limit was broken (``invalid``) or the backend failed."""

    def __init__(self, kind: str, message: str):
        what = "store rejected the request" if kind == "invalid" else "storage failed"
        super().__init__(f"{what}: {message}")
        self.kind = kind


def _store():
    if _wit_store is None:
        raise RuntimeError("the toolhost store exists only inside a component")
    return _wit_store


def _store_call(fn, *args):
    try:
        return fn(*args)
    except Err as e:
        kind = "invalid" if type(e.value).__name__.endswith("Invalid") else "backend"
        raise StoreError(kind, e.value.value) from None


class _Log:
    """Log lines that land in the host's log, tagged with the tool and the request."""

    @staticmethod
    def _write(level: str, parts) -> None:
        text = " ".join(p if isinstance(p, str) else _to_text(p) for p in parts)
        if _wit_log is None:
            print(f"[{level}] {text}")
        else:
            _wit_log.write(_wit_log.Level[level.upper()], text)

    def trace(self, *parts) -> None:
        self._write("trace", parts)

    def debug(self, *parts) -> None:
        self._write("debug", parts)

    def info(self, *parts) -> None:
        self._write("info", parts)

    def warn(self, *parts) -> None:
        self._write("warn", parts)

    def error(self, *parts) -> None:
        self._write("error", parts)


log = _Log()


def _to_text(value: Any) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class Entry:
    """One key with its value (bytes), and decoders for the value."""

    __slots__ = ("key", "value")

    def __init__(self, key: str, value: bytes):
        self.key = key
        self.value = value

    def text(self) -> str:
        try:
            return self.value.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError("failed", f"stored value under {self.key!r} is not UTF-8") from None

    def json(self) -> Any:
        try:
            return json.loads(self.text())
        except ValueError as e:
            raise ToolError("failed", f"stored value under {self.key!r} is not valid JSON: {e}") from None

    def __repr__(self) -> str:
        return f"Entry({self.key!r}, <{len(self.value)} bytes>)"


_max_scan: Optional[int] = None


def max_scan_limit() -> int:
    """The largest page the host returns for one scan."""
    global _max_scan
    if _max_scan is None:
        _max_scan = _store().max_scan_limit()
    return _max_scan


def _page_size(limit: Optional[int]) -> int:
    if limit is None:
        return max_scan_limit()
    if int(limit) < 1:
        raise ValueError(f"scan limit must be a positive integer, not {limit}")
    return min(int(limit), max_scan_limit())


class Bucket:
    """The caller's keys in one bucket. The host scopes every key to the caller
    of the current call: a tool cannot read or write another user's data."""

    def __init__(self, name: str):
        self.name = name

    def get(self, key: str) -> Optional[bytes]:
        """The bytes under ``key``, or None."""
        return _store_call(_store().get, self.name, key)

    def get_text(self, key: str) -> Optional[str]:
        value = self.get(key)
        return None if value is None else Entry(key, value).text()

    def get_json(self, key: str) -> Any:
        """The JSON value under ``key``, or None."""
        value = self.get(key)
        return None if value is None else Entry(key, value).json()

    def set(self, key: str, value: bytes | str) -> None:
        """Store bytes (or a string, as UTF-8) under ``key``. Durable when this returns."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        _store_call(_store().set, self.name, key, bytes(value))

    def put_json(self, key: str, value: Any) -> None:
        """Store ``value`` as JSON under ``key``. Durable when this returns."""
        self.set(key, _dumps(value))

    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""
        return _store_call(_store().delete, self.name, key)

    def scan(self, prefix: str = "", *, start_after: Optional[str] = None,
             limit: Optional[int] = None, reverse: bool = False) -> list[Entry]:
        """One page of the keys that start with ``prefix``, in key order
        (descending with ``reverse``), after ``start_after`` (exclusive), at most
        ``limit`` (capped by the host; default the largest page). Pass the last
        key as ``start_after`` to read the next page."""
        store = _store()
        request = store.ScanRequest(prefix=prefix, start_after=start_after,
                                    limit=_page_size(limit), reverse=bool(reverse))
        return [Entry(e.key, e.value) for e in _store_call(store.scan, self.name, request)]

    def scan_all(self, prefix: str = "", *, start_after: Optional[str] = None,
                 page_size: Optional[int] = None, reverse: bool = False) -> Iterator[Entry]:
        """Every key that starts with ``prefix``, read ``page_size`` entries per
        host call: stopping early (``itertools.islice``, ``break``) reads no
        more pages."""
        limit = _page_size(page_size)
        after = start_after
        while True:
            page = self.scan(prefix, start_after=after, limit=limit, reverse=reverse)
            yield from page
            if len(page) < limit:
                return
            after = page[-1].key


class Principal:
    """The verified caller. A tool cannot forge it."""

    def __init__(self, p):
        self.subject: str = p.subject
        self.roles: tuple[str, ...] = tuple(p.roles)
        self.scopes: tuple[str, ...] = tuple(p.scopes)
        self.client_id: Optional[str] = p.client_id
        self.org_id: Optional[str] = p.org_id
        self.email: Optional[str] = p.email

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def __repr__(self) -> str:
        return f"Principal(subject={self.subject!r}, roles={list(self.roles)!r})"


class HttpError(ToolError):
    """A request that got no complete response, or (from ``raise_for_status``) an answer other
    than 2xx. Its message says what and why; a refusal by the host is in the host's words. Left
    unhandled, it fails the call as ``failed`` with that message."""

    def __init__(self, message: str):
        super().__init__("failed", message)


class Response:
    """A complete response: ``status``, ``headers`` (a list of (name, value), names in lowercase,
    in the order received) and the whole ``body`` as bytes."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for n, v in self.headers if n == name), None)

    def text(self) -> str:
        """The body as UTF-8 text."""
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise HttpError(f"the response body is not UTF-8 text: {e}") from None

    def json(self) -> Any:
        """The body parsed as JSON."""
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise HttpError(f"the response body (status {self.status}) is not JSON: {e}") from None

    def raise_for_status(self) -> "Response":
        """This response for a 2xx status; otherwise raise an HttpError that says the status and
        quotes the start of the body (at most 500 characters), usually the API's explanation."""
        if self.ok:
            return self
        answer = self.body.decode("utf-8", "replace")[:_ANSWER_QUOTED_CHARS].strip()
        if not answer:
            raise HttpError(f"the API answered {self.status} with no body")
        raise HttpError(f"the API answered {self.status}: {answer}")


_ANSWER_QUOTED_CHARS = 500
_CHUNK = 4096
_METHODS = {"GET": "Method_Get", "HEAD": "Method_Head", "POST": "Method_Post", "PUT": "Method_Put",
            "DELETE": "Method_Delete", "CONNECT": "Method_Connect", "OPTIONS": "Method_Options",
            "TRACE": "Method_Trace", "PATCH": "Method_Patch"}


def _http_error_text(code: Any) -> str:
    """An ErrorCode of wasi:http in words (the host puts its refusals in internal-error)."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    value = getattr(code, "value", None)
    if name == "InternalError" and value:
        return str(value)
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    return kebab if value is None else f"{kebab}: {value}"


class Http:
    """Blocking HTTP to the APIs the operator granted this tool, over the standard
    ``wasi:http/outgoing-handler``. The host checks every request against the grants and attaches
    the credential itself, so a tool never holds a token; what it refuses fails with its reason."""

    def get(self, url: str, headers: Optional[dict[str, str]] = None) -> Response:
        """GET ``url``."""
        return self.request("GET", url, headers)

    def post_json(self, url: str, value: Any, headers: Optional[dict[str, str]] = None) -> Response:
        """POST ``value`` as JSON to ``url``."""
        sent = {"content-type": "application/json", **(headers or {})}
        return self.request("POST", url, sent, json.dumps(value).encode())

    def request(self, method: str, url: str, headers: Optional[dict[str, str]] = None,
                body: bytes = b"") -> Response:
        """Send ``method`` to the absolute http(s) ``url`` with ``headers`` and ``body``, and
        read the whole response."""
        if _wit_http is None:
            raise RuntimeError("HTTP from a tool exists only inside a component")
        match = re.fullmatch(r"(https?)://([^/?#]+)([^#]*)", url, re.IGNORECASE)
        if match is None:
            raise HttpError(f"{url!r} is not an absolute http or https URL")
        scheme, authority, path = match.groups()
        try:
            fields = _wit_http.Fields.from_list(
                [(name.lower(), str(value).encode()) for name, value in (headers or {}).items()])
        except Err as e:
            raise HttpError(f"{method} {url}: a header is not valid ({type(e.value).__name__})") from None
        request = _wit_http.OutgoingRequest(fields)
        known = _METHODS.get(method.upper())
        request.set_method(getattr(_wit_http, known)() if known else _wit_http.Method_Other(method))
        request.set_scheme(_wit_http.Scheme_Https() if scheme.lower() == "https" else _wit_http.Scheme_Http())
        request.set_authority(authority)
        request.set_path_with_query(path or "/")
        outgoing = request.body()
        with outgoing.write() as stream:
            for start in range(0, len(body), _CHUNK):
                stream.blocking_write_and_flush(body[start:start + _CHUNK])
        _wit_http.OutgoingBody.finish(outgoing, None)
        try:
            future = _wit_outgoing.handle(request, None)
        except Err as e:
            raise HttpError(f"{method} {url}: {_http_error_text(e.value)}") from None
        with future.subscribe() as ready:
            ready.block()
        # option<result<result<incoming-response, error-code>>>: present, once, after block().
        answer = future.get()
        if answer is None or isinstance(answer, Err):
            raise HttpError(f"{method} {url}: no response")
        if isinstance(answer.value, Err):
            raise HttpError(f"{method} {url}: {_http_error_text(answer.value.value)}")
        response = answer.value.value
        status = response.status()
        with response.headers() as fields:
            received = [(n.lower(), v.decode("latin-1")) for n, v in fields.entries()]
        incoming = response.consume()
        chunks = []
        with incoming.stream() as stream:
            while True:
                try:
                    chunks.append(stream.blocking_read(65536))
                except Err as e:
                    if isinstance(e.value, _wit_streams.StreamError_Closed):
                        break
                    failed = e.value.value.to_debug_string()
                    raise HttpError(f"{method} {url}: reading the body failed: {failed}") from None
        return Response(status, received, b"".join(chunks))


def api_url(name: str) -> str:
    """The base URL of the API ``name`` granted to this tool (``[tools.<tool>] apis``), ending
    in ``/``; a ToolError that says what to configure when it is not granted."""
    if not (isinstance(name, str) and name):
        raise TypeError(f"api_url takes the name of an API, not {name!r}")
    variable = "TOOLHOST_API_" + re.sub("[a-z]", lambda m: m.group().upper(), name) + "_URL"
    found = dict(_wit_environment.get_environment()).get(variable) if _wit_environment else None
    if found is None:
        raise ToolError("failed", f"the API {name!r} is not granted to this tool: ask the operator to "
                        f"add apis = [{name!r}] to this tool's [tools.<tool name>] section")
    return found


class Context:
    """One call: who is calling, its request id, and the host services."""

    log = log
    http = Http()
    """Blocking HTTP to the granted APIs: ``ctx.http.get(ctx.api_url("app") + "projects")``."""

    def __init__(self, ctx):
        self.principal = Principal(ctx.principal)
        self.request_id: str = ctx.request_id

    def bucket(self, name: str) -> Bucket:
        """The caller's data in bucket ``name`` (shared between tools by name, never between callers)."""
        return Bucket(name)

    @staticmethod
    def api_url(name: str) -> str:
        """The base URL of the API ``name`` granted to this tool; see ``api_url``."""
        return api_url(name)


def _schema_text(schema: Any, what: str) -> str:
    value = json.loads(schema) if isinstance(schema, str) else schema
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a JSON Schema object")
    return _dumps(value)


class Tool:
    """A tool made by ``@tool(...)``: its description, its function and its text rendering."""

    def __init__(self, fn: Callable[[Context, dict], dict], *, name: str, description: str,
                 title: Optional[str] = None, input_schema: Any = None, output_schema: Any = None,
                 roles: Optional[list[str]] = None, render: Optional[Callable[[dict], str]] = None):
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise ValueError(f"tool name must be snake_case, 1 to 64 characters, not {name!r}")
        if not description:
            raise ValueError("a tool needs a description")
        self.fn = fn
        self.name = name
        self.title = title
        self.description = description
        self.input_schema = _schema_text({"type": "object"} if input_schema is None else input_schema, "input_schema")
        self.output_schema = None if output_schema is None else _schema_text(output_schema, "output_schema")
        self.roles = list(roles or [])
        self._render = render or _dumps
        self.__doc__ = fn.__doc__

    def render(self, fn: Callable[[dict], str]) -> Callable[[dict], str]:
        """Decorator: the text rendering of a result (default: its JSON)."""
        self._render = fn
        return fn

    def __call__(self, ctx: Context, args: dict) -> dict:
        return self.fn(ctx, args)


_TOOL: Optional[Tool] = None


def tool(*, name: str, description: str, title: Optional[str] = None, input_schema: Any = None,
         output_schema: Any = None, roles: Optional[list[str]] = None,
         render: Optional[Callable[[dict], str]] = None) -> Callable[[Callable], Tool]:
    """Decorator: make ``fn(ctx, args) -> dict`` the component's tool (one per component)."""

    def wrap(fn: Callable) -> Tool:
        global _TOOL
        if _TOOL is not None:
            raise RuntimeError(f"a component holds one tool; {_TOOL.name!r} is already defined")
        _TOOL = Tool(fn, name=name, description=description, title=title, input_schema=input_schema,
                     output_schema=output_schema, roles=roles, render=render)
        return _TOOL

    return wrap


def _error_of(e: BaseException):
    types = _wit_types
    variants = {
        "invalid-input": types.ToolError_InvalidInput,
        "forbidden": types.ToolError_Forbidden,
        "not-found": types.ToolError_NotFound,
        "failed": types.ToolError_Failed,
    }
    if isinstance(e, ToolError):
        return variants[e.kind](e.message)
    message = str(e)
    # Messages that say nothing without their type: KeyError('title') is "'title'", SystemExit(3) is "3".
    if not message or isinstance(e, (KeyError, AssertionError)) or not isinstance(e, Exception):
        message = f"{type(e).__name__}: {message}" if message else type(e).__name__
    return types.ToolError_Failed(message)


def _registered() -> Tool:
    if _TOOL is None:
        raise RuntimeError("tool.py must define its tool with @toolhost.tool(...)")
    return _TOOL


class WitWorld:
    """The world's exports for the tool defined with ``@tool``."""

    def describe(self):
        t = _registered()
        return _wit_types.ToolInfo(name=t.name, title=t.title, description=t.description,
                              input_schema=t.input_schema, output_schema=t.output_schema, roles=t.roles)

    def call(self, ctx, arguments: str):
        # Every failure leaves as Err(tool-error): any other exception would trap.
        try:
            t = _registered()
            try:
                args = json.loads(arguments)
            except ValueError as e:
                raise ToolError("invalid-input", f"arguments are not JSON: {e}") from None
            result = t(Context(ctx), args)
            if not isinstance(result, dict):
                raise ToolError("failed", f"the tool returned {type(result).__name__}, not a dict (a JSON object)")
            structured = _dumps(result)
            text = t._render(result)
            if not isinstance(text, str):
                text = _to_text(text)
        except BaseException as e:  # noqa: BLE001 - the caller must get a tool-error, never a trap
            raise Err(_error_of(e)) from None
        return _wit_types.ToolOutput(content=[_wit_types.Content_Text(text)], structured=structured)
