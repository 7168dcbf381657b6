'''Write toolhost tools, resources and prompts in Python.

The plugin's ``tool.py`` defines any number of them with the decorators of this module::

    from typing import Annotated
    from toolhost import Field, tool

    @tool(name="hello", read_only=True, open_world=False)
    def hello(ctx, *, name: Annotated[str, Field(description="Who to greet", min_length=1)],
              times: int = 1):
        """Greet someone by name."""
        return {"message": " ".join([f"Hello {name}!"] * times)}

``@tool`` builds the input schema from the keyword parameters after ``ctx`` and their type
hints (or takes ``input_schema=`` for ``def f(ctx, args)``); the function gets the verified
caller and the host services in ``ctx`` and returns a dict (the structured result, also rendered
as text) or a ``ToolResult`` of content blocks (``text``, ``image``, ``audio``,
``resource_link``, ``embedded_text``, ``embedded_blob``, ``mcp``). ``@resource`` serves data by
URI (fixed, or by template), ``@prompt`` message templates. Raise ``ToolError(kind, message)``
to fail with a kind the client sees; any other exception fails the call as ``failed`` with its
message.

build.sh makes the component: the generated module ``toolhost_app`` imports ``tool`` and
exports the world ``toolhost:plugin/tools@0.2.0`` through ``WitWorld`` below. This module also
imports without the bindings (in an editor, in ``python3 -m unittest``): only what reaches the
host needs a component.
'''

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Any, Callable, Iterator, Literal, Optional, Union

# Everything is imported here, at the top: modules load while the component is built, and at run
# time there is no file system to load more from (an import inside a function would fail there).
# Outside a component (an editor, a unit test) the bindings are absent and the host services
# raise RuntimeError when used.
try:
    from componentize_py_types import Err
    from wit_world.imports import call as _wit_call
    from wit_world.imports import environment as _wit_environment
    from wit_world.imports import log as _wit_log
    from wit_world.imports import outgoing_handler as _wit_outgoing
    from wit_world.imports import streams as _wit_streams
    from wit_world.imports import toolhost_plugin_store as _wit_store
    from wit_world.imports import toolhost_plugin_types as _wit_types
    from wit_world.imports import wasi_config_store as _wit_config
    from wit_world.imports import wasi_http_types as _wit_http
except ImportError:
    Err = _wit_call = _wit_environment = _wit_log = _wit_outgoing = _wit_streams = None
    _wit_store = _wit_types = _wit_config = _wit_http = None

__all__ = [
    "tool", "resource", "prompt", "Field", "Tool", "Resource", "Prompt", "ToolResult",
    "ToolError", "StoreError", "HttpError", "AskError", "Context", "Principal", "Bucket", "Entry",
    "Elicitation", "ResourceRequest", "Contents", "Content", "Message", "PromptResult",
    "text", "image", "audio", "resource_link", "embedded_text", "embedded_blob", "mcp",
    "text_contents", "blob_contents", "user", "assistant", "log", "infer_input_schema",
    "CLIENT_LEVELS",
]

ERROR_KINDS = ("invalid-input", "forbidden", "not-found", "failed")

_TOOL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""The host's tool-name rule (also for prompts): 1 to 64 of ASCII a-z, 0-9 and _, starting with a
letter. Matched with fullmatch: str methods such as islower would also accept non-ASCII letters
and digits, and ``$`` a trailing newline, which the host refuses."""

_API_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""The host's API-name rule: 1 to 32 of a-z, 0-9, _, starting with a letter."""

_ARGUMENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The contract's rule for a prompt argument's name."""


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


class AskError(ToolError):
    """The user (``ctx.elicit``) or the client's model (``ctx.sample``) could not be asked: the
    client does not support it, the request's protocol revision has no server-to-client requests,
    no answer in time, the call was cancelled, or too many asks in one call. The message says
    which. Left unhandled, it fails the call as ``failed`` with that message."""

    def __init__(self, message: str):
        super().__init__("failed", message)


class Elicitation:
    """What the user answered to ``ctx.elicit``: ``action`` is ``"accept"`` (they submitted the
    form: ``content`` is its values, a dict), ``"decline"`` (they said no) or ``"cancel"`` (they
    dismissed it); ``content`` is empty unless accepted."""

    __slots__ = ("action", "content")

    def __init__(self, action: str, content: Optional[dict] = None):
        if action not in ("accept", "decline", "cancel"):
            raise ValueError(f"an elicitation's action is accept, decline or cancel, not {action!r}")
        self.action = action
        self.content: dict = dict(content or {})

    @property
    def accepted(self) -> bool:
        """True when the user submitted the form."""
        return self.action == "accept"

    def __repr__(self) -> str:
        return f"Elicitation({self.action!r}, {self.content!r})"


CLIENT_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""The levels of ``ctx.notify_client`` (MCP's syslog levels), lowest first."""


def _call_service():
    if _wit_call is None:
        raise RuntimeError("progress, client logs, cancellation and asks exist only inside a component")
    return _wit_call


class Context:
    """One call (or resource read, or prompt get): who is calling, its request id, and the host
    services."""

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

    @staticmethod
    def report_progress(progress: float, total: Optional[float] = None,
                        message: Optional[str] = None) -> None:
        """Tell the client how far the call got (MCP progress), when it asked for progress:
        ``progress`` must grow from one report to the next (one that does not is dropped),
        ``total`` when known. The host sends at most 100 reports per call and drops the rest:
        report milestones (every 5 %), not every item."""
        _call_service().report_progress(float(progress), None if total is None else float(total),
                                         None if message is None else str(message))

    @staticmethod
    def notify_client(level: str, data: Any, logger: Optional[str] = None) -> None:
        """A log message for the client (MCP ``notifications/message``): ``level`` one of
        CLIENT_LEVELS, ``data`` any JSON value (a string, a dict), ``logger`` an optional name.
        Sent only at or above the level the client asked for, at most 100 per call. The host's
        own log is ``ctx.log``."""
        if level not in CLIENT_LEVELS:
            raise ValueError(f"notify_client level must be one of {', '.join(CLIENT_LEVELS)}, not {level!r}")
        service = _call_service()
        service.notify(service.Level[level.upper()], logger, _dumps(data))

    @staticmethod
    def cancelled() -> bool:
        """Whether the client cancelled the call (or went away): check it between steps to stop
        cleanly. The host stops a cancelled instance within about 10 ms anyway."""
        return bool(_call_service().cancelled())

    @staticmethod
    def resource_updated(uri: str) -> None:
        """Tell the caller's clients that subscribed to the resource at ``uri`` (one this host
        serves) that it changed (MCP ``notifications/resources/updated``); nobody else's hear
        it. At most 100 per call."""
        if not isinstance(uri, str):
            raise TypeError(f"resource_updated takes the URI as a str, not {type(uri).__name__}")
        _call_service().resource_updated(uri)

    @staticmethod
    def elicit(message: str, requested_schema: Any) -> Elicitation:
        """Ask the user for input through the client (MCP elicitation, form mode): ``message``
        says what and why, ``requested_schema`` is the form, a JSON Schema object (dict or JSON
        text) of primitive properties. Waits for the answer (at most 5 minutes, not counted
        against the call's timeout) and returns it as an ``Elicitation``; a decline or a dismissal
        is an answer. Raises ``AskError`` when the user could not be asked.

        Ask before changing anything: on a stateless 2026-07-28 request the host answers an ask
        by running the whole call again with the answer, so the work done before it may run
        twice."""
        schema = _schema_text(requested_schema, "requested_schema")
        service = _call_service()
        try:
            answer = service.elicit(str(message), schema)
        except Err as e:
            raise AskError(e.value) from None
        if isinstance(answer, service.ElicitAnswer_Accept):
            try:
                content = json.loads(answer.value)
            except ValueError as e:
                raise AskError(f"the answer is not JSON: {e}") from None
            return Elicitation("accept", content if isinstance(content, dict) else {})
        if isinstance(answer, service.ElicitAnswer_Decline):
            return Elicitation("decline")
        return Elicitation("cancel")

    @staticmethod
    def sample(request: dict) -> dict:
        """Ask the client's model for a completion (MCP sampling): ``request`` is the
        ``sampling/createMessage`` params (``messages``, ``maxTokens``, ...); returns the result
        (``role``, ``content``, ``model``). Raises ``AskError`` like ``elicit``; MCP deprecates
        sampling in 2026-07-28, where the host still asks, in rounds like ``elicit``."""
        if not isinstance(request, dict):
            raise TypeError(f"sample takes the request params as a dict, not {type(request).__name__}")
        service = _call_service()
        try:
            answer = service.sample(_dumps(request))
        except Err as e:
            raise AskError(e.value) from None
        try:
            return json.loads(answer)
        except ValueError as e:
            raise AskError(f"the answer is not JSON: {e}") from None

    @staticmethod
    def config(key: str) -> Optional[str]:
        """The operator's configuration value ``key`` for this tool (``[tools.<name>.config]``:
        a value, or a secret from the host's environment); None when it is not set, and always
        for resource reads and prompt gets. Keep secrets out of results and logs."""
        if _wit_config is None:
            raise RuntimeError("tool configuration exists only inside a component")
        try:
            return _wit_config.get(key)
        except Err:
            return None


def _schema_text(schema: Any, what: str) -> str:
    try:
        value = json.loads(schema) if isinstance(schema, str) else schema
    except ValueError as e:
        raise TypeError(f"{what} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a JSON Schema object (a dict), not {type(value).__name__}")
    return _dumps(value)


# ---------------------------------------------------------------------------------------------
# Schemas from type hints


class Field:
    """What a type hint cannot say about a parameter, for ``Annotated[T, Field(...)]``:
    ``description``, ``title``, ``minimum``/``maximum`` (numbers), ``min_length``/``max_length``
    (strings: characters; lists: items) and ``pattern`` (strings, a regular expression)."""

    __slots__ = ("description", "title", "minimum", "maximum", "min_length", "max_length", "pattern")

    def __init__(self, *, description: Optional[str] = None, title: Optional[str] = None,
                 minimum: Optional[float] = None, maximum: Optional[float] = None,
                 min_length: Optional[int] = None, max_length: Optional[int] = None,
                 pattern: Optional[str] = None):
        for what, value in (("minimum", minimum), ("maximum", maximum)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise TypeError(f"Field {what} must be a number, not {value!r}")
        for what, value in (("min_length", min_length), ("max_length", max_length)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise TypeError(f"Field {what} must be a non-negative integer, not {value!r}")
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, TypeError) as e:
                raise TypeError(f"Field pattern {pattern!r} is not a regular expression: {e}") from None
        self.description = description
        self.title = title
        self.minimum = minimum
        self.maximum = maximum
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern

    def apply(self, schema: dict, where: str) -> dict:
        """``schema`` with this field's keywords; a TypeError naming ``where`` when one does not
        fit the type."""
        kinds = schema.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        out = dict(schema)
        if self.title is not None:
            out["title"] = self.title
        if self.description is not None:
            out["description"] = self.description
        for key, value in (("minimum", self.minimum), ("maximum", self.maximum)):
            if value is not None:
                if not kinds & {"integer", "number"}:
                    raise TypeError(f"{where}: Field {key} applies to int and float, not {_kind_words(kinds)}")
                out[key] = value
        for key, value in (("min", self.min_length), ("max", self.max_length)):
            if value is None:
                continue
            if "string" in kinds:
                out[f"{key}Length"] = value
            elif "array" in kinds:
                out[f"{key}Items"] = value
            else:
                raise TypeError(f"{where}: Field {key}_length applies to str and list, not {_kind_words(kinds)}")
        if self.pattern is not None:
            if "string" not in kinds:
                raise TypeError(f"{where}: Field pattern applies to str, not {_kind_words(kinds)}")
            out["pattern"] = self.pattern
        return out


def _kind_words(kinds: set) -> str:
    return " or ".join(sorted(str(k) for k in kinds if k)) or "this type"


_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}
_JSON_TYPE_OF = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}


def _hint_name(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__name__
    return repr(hint).replace("typing.", "")


def _schema_of(hint: Any, where: str) -> dict:
    """The JSON Schema of a type hint (int, float, str, bool, list[T], dict[str, T], Optional[T],
    T | None, Literal[...], Annotated[T, Field(...)]); a TypeError naming ``where`` otherwise."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        schema = _schema_of(args[0], where)
        fields = [a for a in args[1:] if isinstance(a, Field)]
        if len(fields) != len(args) - 1:
            raise TypeError(f"{where}: Annotated takes toolhost.Field(...) metadata, not {args[1:]!r}")
        for field in fields:
            schema = field.apply(schema, where)
        return schema
    if isinstance(hint, type) and hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if hint is list or origin is list:
        if not args:
            return {"type": "array"}
        return {"type": "array", "items": _schema_of(args[0], where)}
    if hint is dict or origin is dict:
        if not args:
            return {"type": "object"}
        if args[0] is not str:
            raise TypeError(f"{where}: a dict's keys must be str (JSON object keys), not {_hint_name(args[0])}")
        return {"type": "object", "additionalProperties": _schema_of(args[1], where)}
    if origin is Literal:
        if not args or any(type(a) not in _JSON_TYPE_OF for a in args):
            raise TypeError(f"{where}: Literal values must be str, int, float, bool or None, not {args!r}")
        kinds = sorted({_JSON_TYPE_OF[type(a)] for a in args})
        return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": list(args)}
    if origin is Union or isinstance(hint, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return _nullable(_schema_of(rest[0], where))
        raise TypeError(f"{where}: unions other than Optional[T] (T | None) are not supported: "
                        f"{_hint_name(hint)}")
    raise TypeError(f"{where}: the type hint {_hint_name(hint)} is not supported (use int, float, "
                    "str, bool, list[T], dict[str, T], Optional[T], Literal[...] or "
                    "Annotated[T, Field(...)])")


def _nullable(schema: dict) -> dict:
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = kind + ["null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = out["enum"] + [None]
    return out


def _description_of(fn: Callable) -> Optional[str]:
    """The first paragraph of ``fn``'s docstring, on one line."""
    doc = inspect.getdoc(fn)
    if not doc:
        return None
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(first.split()) or None


def _parameters(fn: Callable, what: str) -> tuple[str, list[inspect.Parameter]]:
    """How ``fn(ctx, ...)`` takes its input: ``("dict", [param])`` for ``fn(ctx, args)``,
    ``("keywords", params)`` for keyword-only parameters after ctx."""
    if not callable(fn):
        raise TypeError(f"{what}: @{what.split()[0]} decorates a function, not {type(fn).__name__}")
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: cannot read the function's parameters: {e}") from None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keywords = [p for p in params if p.kind is p.KEYWORD_ONLY]
    variadic = [p for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if variadic:
        raise TypeError(f"{what}: parameter {variadic[0].name!r} is variadic; declare each argument "
                        "as a keyword parameter after ctx (def f(ctx, *, limit: int = 100))")
    if not positional:
        raise TypeError(f"{what}: the function must take ctx as its first parameter")
    if len(positional) == 2 and not keywords:
        args = positional[1]
        hint = _hints(fn, what).get(args.name) if args.annotation is not args.empty else None
        takes_dict = hint is None or hint is Any or hint is dict or typing.get_origin(hint) is dict
        if args.default is not args.empty or not takes_dict:
            raise TypeError(f"{what}: parameter {args.name!r} comes before '*': declare arguments as "
                            f"keyword parameters after ctx (def f(ctx, *, {args.name}: ...)), or take "
                            "them all as one dict (def f(ctx, args)) with an input_schema")
        return "dict", positional[1:]
    if len(positional) == 1:
        return "keywords", keywords
    raise TypeError(f"{what}: the function takes (ctx, args), or ctx and keyword parameters after * "
                    f"(def f(ctx, *, limit: int = 100)), not {inspect.signature(fn)}")


def _hints(fn: Callable, what: str) -> dict:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as e:  # a NameError in a string annotation, an unsupported construct, ...
        raise TypeError(f"{what}: cannot resolve the type hints: {type(e).__name__}: {e}") from None


def infer_input_schema(fn: Callable, what: str = "tool") -> dict:
    """The JSON Schema of ``fn(ctx, *, name: T = default, ...)``'s keyword parameters: one
    property per parameter (its type hint's schema, and its default), required when it has no
    default, no other property."""
    style, params = _parameters(fn, what)
    if style != "keywords":
        raise TypeError(f"{what}: a function taking (ctx, args) needs an explicit input_schema")
    hints = _hints(fn, what)
    properties, required = {}, []
    for p in params:
        where = f"{what}: parameter {p.name!r}"
        if p.name not in hints:
            raise TypeError(f"{where} has no type hint")
        schema = _schema_of(hints[p.name], where)
        if p.default is p.empty:
            required.append(p.name)
        else:
            try:
                schema["default"] = json.loads(_dumps(p.default))
            except (TypeError, ValueError):
                raise TypeError(f"{where}: the default {p.default!r} is not a JSON value") from None
        properties[p.name] = schema
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


# ---------------------------------------------------------------------------------------------
# Content


class Content:
    """One block of MCP content: build it with ``text``, ``image``, ``audio``, ``resource_link``,
    ``embedded_text``, ``embedded_blob`` or ``mcp``. ``kind`` names the case; ``fields`` holds
    its values."""

    __slots__ = ("kind", "fields")

    def __init__(self, kind: str, **fields):
        self.kind = kind
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Content) and (self.kind, self.fields) == (other.kind, other.fields)

    def __repr__(self) -> str:
        shown = {k: (f"<{len(v)} bytes>" if isinstance(v, bytes) else v) for k, v in self.fields.items()}
        return f"Content({self.kind!r}, {shown!r})"

    def _wit(self):
        t, f = _wit_types, self.fields
        if self.kind == "text":
            return t.Content_Text(f["text"])
        if self.kind in ("image", "audio"):
            media = t.Media(data=f["data"], mime_type=f["mime_type"])
            return t.Content_Image(media) if self.kind == "image" else t.Content_Audio(media)
        if self.kind == "resource_link":
            return t.Content_ResourceLink(t.ResourceLink(**f))
        if self.kind == "embedded":
            return t.Content_Embedded(Contents(f["uri"], f["body"], f["mime_type"])._wit())
        return t.Content_Mcp(f["json"])


def _need_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what} must be a non-empty str, not {value!r}")
    return value


def _optional_text(value: Any, what: str) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{what} must be a str or None, not {type(value).__name__}")
    return value


def _need_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


def text(value: str) -> Content:
    """Text."""
    if not isinstance(value, str):
        raise TypeError(f"text takes a str, not {type(value).__name__}")
    return Content("text", text=value)


def image(data: bytes, mime_type: str) -> Content:
    """An image, e.g. ``image(png, "image/png")`` (sent base64-encoded)."""
    return Content("image", data=_need_bytes(data, "image data"), mime_type=_need_text(mime_type, "image mime_type"))


def audio(data: bytes, mime_type: str) -> Content:
    """An audio clip, e.g. ``audio(wav, "audio/wav")`` (sent base64-encoded)."""
    return Content("audio", data=_need_bytes(data, "audio data"), mime_type=_need_text(mime_type, "audio mime_type"))


def resource_link(uri: str, name: str, *, title: Optional[str] = None, description: Optional[str] = None,
                  mime_type: Optional[str] = None) -> Content:
    """A link to a resource the client may fetch (read it with ``resources/read``)."""
    return Content("resource_link", uri=_need_text(uri, "resource_link uri"), name=_need_text(name, "resource_link name"),
                   title=_optional_text(title, "resource_link title"),
                   description=_optional_text(description, "resource_link description"),
                   mime_type=_optional_text(mime_type, "resource_link mime_type"))


def embedded_text(uri: str, text: str, mime_type: Optional[str] = None) -> Content:
    """A text resource carried in the result."""
    if not isinstance(text, str):
        raise TypeError(f"embedded_text takes the text as a str, not {type(text).__name__}")
    return Content("embedded", uri=_need_text(uri, "embedded_text uri"), body=text,
                   mime_type=_optional_text(mime_type, "embedded_text mime_type"))


def embedded_blob(uri: str, data: bytes, mime_type: Optional[str] = None) -> Content:
    """A binary resource carried in the result (sent base64-encoded)."""
    return Content("embedded", uri=_need_text(uri, "embedded_blob uri"), body=_need_bytes(data, "embedded_blob data"),
                   mime_type=_optional_text(mime_type, "embedded_blob mime_type"))


def mcp(block: dict) -> Content:
    """Any MCP content block as a dict whose ``type`` the host knows (it checks the block), for
    kinds this kit has no helper for."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise TypeError(f"mcp takes an MCP content block, a dict with a str 'type', not {block!r}")
    return Content("mcp", json=_dumps(block))


def _content_of(value: Any, what: str) -> Content:
    if isinstance(value, Content):
        return value
    if isinstance(value, str):
        return text(value)
    raise TypeError(f"{what} must be a Content (text(...), image(...), ...) or a str, not {type(value).__name__}")


class ToolResult:
    """A tool's result as content blocks (a list of ``Content`` or str, shown to the model and
    the user), with an optional structured result (a dict, MCP ``structuredContent``; it must
    match the tool's output schema). Without content, the structured result is rendered as
    text, as when the tool returns a dict."""

    __slots__ = ("content", "structured")

    def __init__(self, content: Optional[list] = None, structured: Optional[dict] = None):
        if content is not None and not isinstance(content, (list, tuple)):
            content = [content]
        self.content = None if content is None else [_content_of(c, "ToolResult content") for c in content]
        if structured is not None and not isinstance(structured, dict):
            raise TypeError(f"ToolResult structured must be a dict (a JSON object), not {type(structured).__name__}")
        if self.content is None and structured is None:
            raise TypeError("a ToolResult needs content, a structured result, or both")
        self.structured = structured


# ---------------------------------------------------------------------------------------------
# Tools

_HINTS = ("read_only", "destructive", "idempotent", "open_world")


def _check_roles(roles: Any, what: str) -> list[str]:
    if roles is None:
        return []
    if isinstance(roles, str) or not all(isinstance(r, str) and r for r in roles):
        raise TypeError(f"{what}: roles must be a list of role names, not {roles!r}")
    return list(roles)


def _annotations(given: Optional[dict], keywords: dict, what: str) -> dict:
    out = dict.fromkeys(_HINTS)
    for source in (given or {}), keywords:
        for key, value in source.items():
            if key not in out:
                raise TypeError(f"{what}: unknown annotation {key!r} (known: {', '.join(_HINTS)})")
            if value is not None and not isinstance(value, bool):
                raise TypeError(f"{what}: annotation {key} must be True, False or None, not {value!r}")
    for key, value in keywords.items():
        if value is not None and (given or {}).get(key) is not None:
            raise TypeError(f"{what}: annotation {key} is given twice (annotations= and {key}=)")
    for source in (given or {}), keywords:
        out.update({k: v for k, v in source.items() if v is not None})
    return out


class Tool:
    """A tool made by ``@tool(...)``: its description, its function and its text rendering."""

    def __init__(self, fn: Callable, *, name: Optional[str] = None, description: Optional[str] = None,
                 title: Optional[str] = None, input_schema: Any = None, output_schema: Any = None,
                 roles: Optional[list[str]] = None, annotations: Optional[dict] = None,
                 apis: Optional[list[str]] = None, render: Optional[Callable[[dict], str]] = None,
                 **hints: Optional[bool]):
        name = getattr(fn, "__name__", None) if name is None else name
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise ValueError(f"tool name must be snake_case: 1 to 64 of ASCII a-z, 0-9, '_', starting "
                             f"with a letter, not {name!r}")
        what = f"tool {name!r}"
        description = _description_of(fn) if description is None else description
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"{what} needs a description (description= or a docstring)")
        self.style, _ = _parameters(fn, what)
        if input_schema is None:
            input_schema = {"type": "object"} if self.style == "dict" else infer_input_schema(fn, what)
        self.fn = fn
        self.name = name
        self.title = _optional_text(title, f"{what} title")
        self.description = description
        self.input_schema = _schema_text(input_schema, f"{what} input_schema")
        self.output_schema = None if output_schema is None else _schema_text(output_schema, f"{what} output_schema")
        self.roles = _check_roles(roles, what)
        self.annotations = _annotations(annotations, hints, what)
        if apis is not None and (isinstance(apis, str) or not all(isinstance(a, str) and _API_NAME.fullmatch(a) for a in apis)):
            raise ValueError(f"{what}: apis must be a list of API names (1 to 32 of a-z, 0-9, '_', "
                             f"starting with a letter), not {apis!r}")
        self.apis = list(apis or [])
        self._render = render or _dumps
        self.__doc__ = fn.__doc__

    @property
    def extensions(self) -> list[tuple[str, str]]:
        """The (key, JSON) pairs for what the contract has no field for: ``apis``."""
        return [("apis", _dumps(self.apis))] if self.apis else []

    def render(self, fn: Callable[[dict], str]) -> Callable[[dict], str]:
        """Decorator: the text rendering of a dict result (default: its JSON)."""
        self._render = fn
        return fn

    def __call__(self, ctx: Context, args: dict) -> Any:
        """Run the function with ``args`` (the arguments object), as the host would."""
        return self.fn(ctx, args) if self.style == "dict" else self.fn(ctx, **args)

    def run(self, ctx: Context, args: dict) -> tuple[list[Content], Optional[str]]:
        """Run the tool and shape its result: the content blocks and the structured result's
        JSON text (or None)."""
        result = self(ctx, args)
        if isinstance(result, dict):
            result = ToolResult(structured=result)
        elif not isinstance(result, ToolResult):
            raise ToolError("failed", f"the tool returned {type(result).__name__}, not a dict "
                                      "(a JSON object) or a ToolResult")
        structured = None if result.structured is None else _dumps(result.structured)
        content = result.content
        if content is None:
            rendered = self._render(result.structured)
            content = [text(rendered if isinstance(rendered, str) else _to_text(rendered))]
        return content, structured


# ---------------------------------------------------------------------------------------------
# Resources


class ResourceRequest:
    """Which resource a read is for: ``uri`` (what the client asked for), ``template`` (the
    template it matched, as declared; None for a fixed resource) and ``vars`` (the template's
    values by name, percent-decoded)."""

    __slots__ = ("uri", "template", "vars")

    def __init__(self, uri: str, template: Optional[str] = None, vars: Optional[dict[str, str]] = None):
        self.uri = uri
        self.template = template
        self.vars: dict[str, str] = dict(vars or {})

    def __repr__(self) -> str:
        return f"ResourceRequest({self.uri!r}, template={self.template!r}, vars={self.vars!r})"


class Contents:
    """One part of a resource's contents: ``uri``, ``body`` (str for text, bytes for a blob) and
    ``mime_type``. Build it with ``text_contents`` or ``blob_contents``."""

    __slots__ = ("uri", "body", "mime_type")

    def __init__(self, uri: str, body: str | bytes, mime_type: Optional[str] = None):
        self.uri = uri
        self.body = body
        self.mime_type = mime_type

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Contents) and (self.uri, self.body, self.mime_type) == (other.uri, other.body, other.mime_type)

    def __repr__(self) -> str:
        body = self.body if isinstance(self.body, str) else f"<{len(self.body)} bytes>"
        return f"Contents({self.uri!r}, {body!r}, {self.mime_type!r})"

    def _wit(self, mime_type: Optional[str] = None):
        t = _wit_types
        body = t.ResourceBody_Text(self.body) if isinstance(self.body, str) else t.ResourceBody_Blob(self.body)
        return t.EmbeddedResource(uri=self.uri, mime_type=self.mime_type or mime_type, body=body)


def text_contents(uri: str, text: str, mime_type: Optional[str] = None) -> Contents:
    """Text at ``uri`` (of ``mime_type``; default: the resource's declared one)."""
    if not isinstance(text, str):
        raise TypeError(f"text_contents takes the text as a str, not {type(text).__name__}")
    return Contents(_need_text(uri, "text_contents uri"), text, _optional_text(mime_type, "text_contents mime_type"))


def blob_contents(uri: str, data: bytes, mime_type: str) -> Contents:
    """Bytes at ``uri`` of ``mime_type`` (sent base64-encoded)."""
    return Contents(_need_text(uri, "blob_contents uri"), _need_bytes(data, "blob_contents data"),
                    _need_text(mime_type, "blob_contents mime_type"))


class Resource:
    """A resource (or a template of resources) made by ``@resource(...)``."""

    def __init__(self, fn: Callable, *, uri: Optional[str] = None, uri_template: Optional[str] = None,
                 name: Optional[str] = None, title: Optional[str] = None, description: Optional[str] = None,
                 mime_type: Optional[str] = None, roles: Optional[list[str]] = None):
        if (uri is None) == (uri_template is None):
            raise TypeError("@resource takes exactly one of uri= (a fixed resource) and uri_template= "
                            "(every URI matching it)")
        key = uri if uri is not None else uri_template
        if not isinstance(key, str) or not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", key):
            raise ValueError(f"a resource's {'uri' if uri is not None else 'uri_template'} must be an "
                             f"absolute URI (scheme:...), not {key!r}")
        if uri_template is not None and "{" not in uri_template:
            raise ValueError(f"uri_template {uri_template!r} has no {{name}} expression; use uri= for one URI")
        what = f"resource {key!r}"
        style, _ = _parameters(fn, what)
        if style != "dict":
            raise TypeError(f"{what}: the function takes (ctx, request)")
        self.fn = fn
        self.uri = key
        self.template = uri_template is not None
        self.name = _need_text(getattr(fn, "__name__", None) if name is None else name, f"{what} name")
        self.title = _optional_text(title, f"{what} title")
        self.description = _optional_text(_description_of(fn) if description is None else description,
                                          f"{what} description")
        self.mime_type = _optional_text(mime_type, f"{what} mime_type")
        self.roles = _check_roles(roles, what)
        self.__doc__ = fn.__doc__

    def read(self, ctx: Context, request: ResourceRequest) -> list[Contents]:
        """Run the function; its contents as a non-empty list."""
        result = self.fn(ctx, request)
        parts = list(result) if isinstance(result, (list, tuple)) else [result]
        if not parts or not all(isinstance(p, Contents) for p in parts):
            raise ToolError("failed", f"the resource returned {result!r}, not Contents (text_contents, "
                                      "blob_contents) or a non-empty list of them")
        return parts


# ---------------------------------------------------------------------------------------------
# Prompts


class Message:
    """One message of a prompt: ``role`` (``"user"`` or ``"assistant"``) and ``content``."""

    __slots__ = ("role", "content")

    def __init__(self, role: str, content: Content | str):
        if role not in ("user", "assistant"):
            raise ValueError(f"a message's role is user or assistant, not {role!r}")
        self.role = role
        self.content = _content_of(content, f"a {role} message's content")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and (self.role, self.content) == (other.role, other.content)

    def __repr__(self) -> str:
        return f"Message({self.role!r}, {self.content!r})"


def user(content: Content | str) -> Message:
    """A message from the user (a str is text)."""
    return Message("user", content)


def assistant(content: Content | str) -> Message:
    """A message from the assistant (a str is text)."""
    return Message("assistant", content)


class PromptResult:
    """A filled-in prompt: its messages and a description of this rendering (when it differs
    from the prompt's)."""

    __slots__ = ("messages", "description")

    def __init__(self, messages: list[Message], description: Optional[str] = None):
        self.messages = list(messages)
        self.description = _optional_text(description, "PromptResult description")


_ARGUMENT_KEYS = ("name", "title", "description", "required")


class Prompt:
    """A prompt made by ``@prompt(...)``."""

    def __init__(self, fn: Callable, *, name: Optional[str] = None, title: Optional[str] = None,
                 description: Optional[str] = None, arguments: Optional[list[dict]] = None,
                 roles: Optional[list[str]] = None):
        name = getattr(fn, "__name__", None) if name is None else name
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise ValueError(f"prompt name must be snake_case: 1 to 64 of ASCII a-z, 0-9, '_', "
                             f"starting with a letter, not {name!r}")
        what = f"prompt {name!r}"
        description = _description_of(fn) if description is None else description
        if not isinstance(description, str) or not description.strip():
            raise ValueError(f"{what} needs a description (description= or a docstring)")
        self.style, params = _parameters(fn, what)
        if arguments is None:
            arguments = [] if self.style == "dict" else self._infer(fn, params, what)
        elif self.style == "keywords":
            raise TypeError(f"{what}: arguments= is for get(ctx, args); keyword parameters declare their own")
        self.fn = fn
        self.name = name
        self.title = _optional_text(title, f"{what} title")
        self.description = description
        self.arguments = [self._argument(a, what) for a in arguments]
        names = [a["name"] for a in self.arguments]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"{what}: argument {twice[0]!r} is declared twice")
        self.roles = _check_roles(roles, what)
        self.__doc__ = fn.__doc__

    @staticmethod
    def _infer(fn: Callable, params: list[inspect.Parameter], what: str) -> list[dict]:
        hints = _hints(fn, what)
        out = []
        for p in params:
            where = f"{what}: parameter {p.name!r}"
            hint = hints.get(p.name)
            if hint is None:
                raise TypeError(f"{where} has no type hint (prompt arguments are str)")
            schema = _schema_of(hint, where)
            if schema.get("type") not in ("string", ["string", "null"]) or "enum" in schema:
                raise TypeError(f"{where}: a prompt argument is a str (or Optional[str]), not {_hint_name(hint)}")
            unsupported = set(schema) - {"type", "title", "description"}
            if unsupported:
                raise TypeError(f"{where}: a prompt argument takes only a title and a description, "
                                f"not {', '.join(sorted(unsupported))}")
            out.append({"name": p.name, "title": schema.get("title"), "description": schema.get("description"),
                        "required": p.default is p.empty})
        return out

    @staticmethod
    def _argument(spec: Any, what: str) -> dict:
        if not isinstance(spec, dict):
            raise TypeError(f"{what}: an argument is a dict with {', '.join(_ARGUMENT_KEYS)}, not {spec!r}")
        unknown = set(spec) - set(_ARGUMENT_KEYS)
        if unknown:
            raise TypeError(f"{what}: unknown argument key {sorted(unknown)[0]!r} (known: {', '.join(_ARGUMENT_KEYS)})")
        name = spec.get("name")
        if not isinstance(name, str) or not _ARGUMENT_NAME.fullmatch(name):
            raise ValueError(f"{what}: argument name must be 1 to 64 of A-Z, a-z, 0-9, '_', '-', not {name!r}")
        required = spec.get("required", False)
        if not isinstance(required, bool):
            raise TypeError(f"{what}: argument {name!r} required must be True or False, not {required!r}")
        return {"name": name, "title": _optional_text(spec.get("title"), f"{what}: argument {name!r} title"),
                "description": _optional_text(spec.get("description"), f"{what}: argument {name!r} description"),
                "required": required}

    def get(self, ctx: Context, args: dict[str, str]) -> PromptResult:
        """Run the function with the given arguments; its result as a PromptResult."""
        result = self.fn(ctx, args) if self.style == "dict" else self.fn(ctx, **args)
        if isinstance(result, Message):
            result = [result]
        if isinstance(result, (list, tuple)):
            result = PromptResult(list(result))
        if not isinstance(result, PromptResult) or not all(isinstance(m, Message) for m in result.messages):
            raise ToolError("failed", f"the prompt returned {result!r}, not messages (user(...), "
                                      "assistant(...)) or a PromptResult")
        return result


# ---------------------------------------------------------------------------------------------
# Registration


class _Registry:
    """What the component serves, in the order it was defined."""

    def __init__(self):
        self.tools: dict[str, Tool] = {}
        self.resources: dict[str, Resource] = {}
        self.prompts: dict[str, Prompt] = {}

    def clear(self) -> None:
        self.tools.clear()
        self.resources.clear()
        self.prompts.clear()

    def add(self, table: dict, key: str, item: Any, what: str) -> Any:
        if key in table:
            raise ValueError(f"{what} {key!r} is defined twice: names must be unique in a component")
        table[key] = item
        return item


_REGISTRY = _Registry()


def tool(*, name: Optional[str] = None, description: Optional[str] = None, title: Optional[str] = None,
         input_schema: Any = None, output_schema: Any = None, roles: Optional[list[str]] = None,
         annotations: Optional[dict] = None, apis: Optional[list[str]] = None,
         render: Optional[Callable[[dict], str]] = None, read_only: Optional[bool] = None,
         destructive: Optional[bool] = None, idempotent: Optional[bool] = None,
         open_world: Optional[bool] = None) -> Callable[[Callable], Tool]:
    """Decorator: serve ``fn`` as a tool (any number per component; names unique).

    ``fn(ctx, *, name: T = default, ...)`` takes the arguments as keyword parameters, whose type
    hints make the input schema (see ``infer_input_schema``); ``fn(ctx, args)`` takes them as one
    dict, described by ``input_schema``. ``name`` defaults to the function's name,
    ``description`` to its docstring's first paragraph. ``annotations`` (a dict) or the keywords
    ``read_only``, ``destructive``, ``idempotent``, ``open_world`` are hints for clients;
    ``apis`` names the APIs the tool calls (the host warns at load when one is not granted);
    ``render`` turns a dict result into its text (default: JSON)."""
    hints = {"read_only": read_only, "destructive": destructive, "idempotent": idempotent,
             "open_world": open_world}

    def wrap(fn: Callable) -> Tool:
        made = Tool(fn, name=name, description=description, title=title, input_schema=input_schema,
                    output_schema=output_schema, roles=roles, annotations=annotations, apis=apis,
                    render=render, **hints)
        return _REGISTRY.add(_REGISTRY.tools, made.name, made, "the tool")

    return wrap


def resource(*, uri: Optional[str] = None, uri_template: Optional[str] = None, name: Optional[str] = None,
             title: Optional[str] = None, description: Optional[str] = None, mime_type: Optional[str] = None,
             roles: Optional[list[str]] = None) -> Callable[[Callable], Resource]:
    """Decorator: serve ``read(ctx, request)`` as the resource at ``uri``, or as every resource
    whose URI matches ``uri_template`` (``{name}`` is one or more characters other than
    ``/ ? #``, ``{+name}`` one or more other than ``? #``; put text between two of them).
    ``read`` returns ``text_contents``/``blob_contents`` (or a list of them) and raises
    ``ToolError("not-found", ...)`` when the caller has no such resource."""

    def wrap(fn: Callable) -> Resource:
        made = Resource(fn, uri=uri, uri_template=uri_template, name=name, title=title,
                        description=description, mime_type=mime_type, roles=roles)
        return _REGISTRY.add(_REGISTRY.resources, made.uri, made,
                             "the resource template" if made.template else "the resource")

    return wrap


def prompt(*, name: Optional[str] = None, title: Optional[str] = None, description: Optional[str] = None,
           arguments: Optional[list[dict]] = None, roles: Optional[list[str]] = None) -> Callable[[Callable], Prompt]:
    """Decorator: serve ``get`` as a prompt. ``get(ctx, args)`` gets the arguments as a dict
    (declared with ``arguments=[{"name": ..., "description": ..., "required": True}]``);
    ``get(ctx, *, topic: str, tone: str | None = None)`` declares them by its keyword parameters
    (str, required without a default; ``Annotated[str, Field(description=...)]``). It returns
    messages (``user(...)``, ``assistant(...)``) or a ``PromptResult``."""

    def wrap(fn: Callable) -> Prompt:
        made = Prompt(fn, name=name, title=title, description=description, arguments=arguments, roles=roles)
        return _REGISTRY.add(_REGISTRY.prompts, made.name, made, "the prompt")

    return wrap


def _check_registered() -> None:
    if not (_REGISTRY.tools or _REGISTRY.resources or _REGISTRY.prompts):
        raise RuntimeError("tool.py defines nothing to serve: decorate a function with "
                           "@toolhost.tool(...), @toolhost.resource(...) or @toolhost.prompt(...)")


# ---------------------------------------------------------------------------------------------
# The component's exports


def _error_of(e: BaseException):
    types_ = _wit_types
    variants = {
        "invalid-input": types_.ToolError_InvalidInput,
        "forbidden": types_.ToolError_Forbidden,
        "not-found": types_.ToolError_NotFound,
        "failed": types_.ToolError_Failed,
    }
    if isinstance(e, ToolError):
        return variants[e.kind](e.message)
    message = str(e)
    # Messages that say nothing without their type: KeyError('title') is "'title'", SystemExit(3) is "3".
    if not message or isinstance(e, (KeyError, AssertionError)) or not isinstance(e, Exception):
        message = f"{type(e).__name__}: {message}" if message else type(e).__name__
    return types_.ToolError_Failed(message)


def _extensions(pairs: list[tuple[str, str]]) -> list:
    return [_wit_types.Extension(key=k, value=v) for k, v in pairs]


class WitWorld:
    """The world's exports for what the decorators registered. Every failure leaves as
    Err(tool-error): an exception escaping an export would trap the instance."""

    def describe(self):
        t, r = _wit_types, _REGISTRY
        tools = [t.ToolInfo(name=x.name, title=x.title, description=x.description,
                            input_schema=x.input_schema, output_schema=x.output_schema, roles=x.roles,
                            annotations=t.Annotations(**x.annotations), extensions=_extensions(x.extensions))
                 for x in r.tools.values()]
        fixed = [t.ResourceInfo(uri=x.uri, name=x.name, title=x.title, description=x.description,
                                mime_type=x.mime_type, roles=x.roles, extensions=[])
                 for x in r.resources.values() if not x.template]
        templates = [t.ResourceTemplateInfo(uri_template=x.uri, name=x.name, title=x.title,
                                            description=x.description, mime_type=x.mime_type,
                                            roles=x.roles, extensions=[])
                     for x in r.resources.values() if x.template]
        prompts = [t.PromptInfo(name=x.name, title=x.title, description=x.description,
                                arguments=[t.PromptArgument(**a) for a in x.arguments], roles=x.roles,
                                extensions=[])
                   for x in r.prompts.values()]
        return t.ComponentInfo(tools=tools, resources=fixed, resource_templates=templates,
                               prompts=prompts, extensions=[])

    def call(self, ctx, tool: str, arguments: str):
        try:
            found = _REGISTRY.tools.get(tool)
            if found is None:
                raise ToolError("failed", f"this component has no tool {tool!r}")
            try:
                args = json.loads(arguments)
            except ValueError as e:
                raise ToolError("invalid-input", f"arguments are not JSON: {e}") from None
            content, structured = found.run(Context(ctx), args)
            blocks = [c._wit() for c in content]
        except BaseException as e:  # noqa: BLE001 - the caller must get a tool-error, never a trap
            raise Err(_error_of(e)) from None
        return _wit_types.ToolOutput(content=blocks, structured=structured)

    def read_resource(self, ctx, request):
        try:
            key = request.template if request.template is not None else request.uri
            found = _REGISTRY.resources.get(key)
            if found is None:
                raise ToolError("not-found", f"this component has no resource {key!r}")
            asked = ResourceRequest(request.uri, request.template, dict(request.variables))
            contents = [c._wit(found.mime_type) for c in found.read(Context(ctx), asked)]
        except BaseException as e:  # noqa: BLE001
            raise Err(_error_of(e)) from None
        return contents

    def get_prompt(self, ctx, name: str, arguments):
        try:
            found = _REGISTRY.prompts.get(name)
            if found is None:
                raise ToolError("not-found", f"this component has no prompt {name!r}")
            result = found.get(Context(ctx), dict(arguments))
            t = _wit_types
            roles = {"user": t.MessageRole.USER, "assistant": t.MessageRole.ASSISTANT}
            messages = [t.PromptMessage(role=roles[m.role], content=m.content._wit()) for m in result.messages]
        except BaseException as e:  # noqa: BLE001
            raise Err(_error_of(e)) from None
        return t.PromptOutput(description=result.description, messages=messages)
