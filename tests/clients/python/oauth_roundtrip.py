"""Notes round trip behind OAuth, with the official `mcp` Python client's own OAuth support.

    oauth_roundtrip.py --url URL --user NAME [--mode auto|legacy|2026-07-28]
                       [--title T] [--body B] [--allow-tool-error]

Connects without a token. The server answers 401 with `WWW-Authenticate: Bearer
resource_metadata="..."`, and mcp 2.3.0's `OAuthClientProvider` (an httpx2 auth flow) does the
rest: RFC 9728 protected resource metadata, RFC 8414 authorization server metadata, RFC 7591
dynamic client registration, then authorization code + PKCE (S256) with the RFC 8707 `resource`
parameter, checking `state` and the RFC 9207 `iss` of the authorization response. There is no
browser: the redirect handler below fetches the authorization URL with httpx2, adding
`login_hint=NAME` (the Clerk stand-in in tests/clerk-standin logs that user in without a login
page), follows the redirects by hand, answers "Allow" on toolhost's consent page (the one form
the proxy shows the first time a user lets a client act for them) as the user would, and takes
`code`, `state` and `iss` from the redirect that points at our redirect URI, which is never
contacted. Tokens and the registration live in memory only.

Against `toolhost serve --dev` the authorization endpoint shows the development sign-in page
instead: a form with a subject (filled in from `login_hint`) and roles; the handler submits it as
a browser would, with the form's own values, the roles replaced by --roles when given.

Then, like notes_roundtrip.py, it lists tools, calls notes_create {title, body}, then
notes_list {"limit": 100}, and prints one JSON object:
    {"protocol_version", "server_name", "tools": [sorted names], "created": structuredContent,
     "created_is_error": bool, "listed": structuredContent, "subject_hint": NAME,
     "oauth": {"issuer", "client_id", "scope", "refresh_token", "authorizations"}}
plus "created_error" (the error text) when notes_create returned isError, which is only
tolerated with --allow-tool-error (otherwise exit 4; expected for a user without the `member`
role). "oauth" describes what the client ended up with: the issuer its registration is bound
to, the registered client_id, the granted scope, whether a refresh token was issued, and how
many times it went through the authorization endpoint (1 for a plain run).
Exit codes: see common.py (an OAuth failure, including an error redirect, is 1).
"""

import argparse
import html
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, OAuthFlowError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

import common

DEFAULT_TITLE = "oauth note"
DEFAULT_BODY = "written after OAuth"

REDIRECT_URI = "http://127.0.0.1:8765/oauth/callback"
"""Loopback redirect URI we register (RFC 8252). Nothing listens there: the redirect handler
stops at the redirect that points here and reads the authorization response from its URL."""

MAX_AUTHORIZATION_HOPS = 10
"""Redirects followed from the authorization endpoint before giving up."""

AUTHORIZATION_DEADLINE_SECONDS = 30.0
"""Bound on the whole browserless authorization step (the SDK stops its request clock meanwhile,
since a person would normally be involved, so this is what keeps it from hanging)."""

REDIRECT_STATUSES = {301, 302, 303, 307, 308}

FORM_ACTION = re.compile(r'<form method=post action="([^"]+)"')
FORM_INPUT = re.compile(r'<input (?:type=hidden )?name=(\w+) value="([^"]*)"')


def _page_form(page: str) -> tuple[str, dict[str, str]] | None:
    """The action and field values of toolhost's consent or development sign-in form, or None
    when `page` has no such form."""
    action = FORM_ACTION.search(page)
    fields = {name: html.unescape(value) for name, value in FORM_INPUT.findall(page)}
    if action is None or "ticket" not in fields:
        return None
    return html.unescape(action.group(1)), fields


class InMemoryTokenStorage:
    """mcp.client.auth.TokenStorage kept in this process only."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _same_endpoint(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    return (a.scheme, a.hostname, a.port, a.path) == (b.scheme, b.hostname, b.port, b.path)


def _redacted(url: str) -> str:
    """The URL without its query (codes and state do not belong in messages)."""
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))


class BrowserlessAuthorization:
    """The provider's redirect_handler and callback_handler: act as the user agent, no browser."""

    def __init__(self, login_hint: str, redirect_uri: str, roles: str | None) -> None:
        self.login_hint = login_hint
        self.roles = roles
        self.redirect_uri = redirect_uri
        self.authorizations = 0
        self._result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorizations += 1
        self._result = None
        url = _with_param(authorization_url, "login_hint", self.login_hint)
        # A fresh client (and cookie jar) per authorization, as a fresh browser tab would have;
        # trust_env=False so no proxy from the environment gets in between.
        with anyio.fail_after(AUTHORIZATION_DEADLINE_SECONDS):
            async with httpx2.AsyncClient(follow_redirects=False, timeout=10.0, trust_env=False) as http:
                response = await http.get(url)
                for _ in range(MAX_AUTHORIZATION_HOPS):
                    location = response.headers.get("location")
                    form = _page_form(response.text) if response.status_code == 200 else None
                    if form is not None:
                        url, fields = urljoin(str(response.url), form[0]), form[1]
                        if self.roles is not None and "roles" in fields:
                            fields["roles"] = self.roles
                        response = await http.post(url, data={**fields, "decision": "allow"})
                        continue
                    if response.status_code not in REDIRECT_STATUSES or not location:
                        raise OAuthFlowError(
                            f"authorization stopped at HTTP {response.status_code} from {_redacted(url)}: "
                            f"{response.text[:500]}"
                        )
                    url = urljoin(str(response.url), location)
                    if _same_endpoint(url, self.redirect_uri):
                        self._accept(url)
                        return
                    response = await http.get(url)
        raise OAuthFlowError(f"no redirect to {self.redirect_uri} after {MAX_AUTHORIZATION_HOPS} hops")

    def _accept(self, url: str) -> None:
        params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        if "error" in params:
            raise OAuthFlowError(
                f"authorization server answered error={params['error']}"
                f" ({params.get('error_description', 'no description')}), iss={params.get('iss')}"
            )
        if "code" not in params:
            raise OAuthFlowError(f"redirect to {_redacted(url)} carries no code")
        self._result = AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self._result is None:
            raise OAuthFlowError("no authorization response captured")
        result, self._result = self._result, None
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="Streamable HTTP endpoint, e.g. http://127.0.0.1:PORT/mcp")
    parser.add_argument("--user", required=True, help="login_hint sent to the authorization endpoint")
    common.add_mode_arg(parser)
    parser.add_argument("--title", default=DEFAULT_TITLE)
    parser.add_argument("--body", default=DEFAULT_BODY)
    parser.add_argument("--allow-tool-error", action="store_true")
    parser.add_argument("--roles", help="roles typed into the development sign-in page")
    args = parser.parse_args()

    storage = InMemoryTokenStorage()
    browserless = BrowserlessAuthorization(args.user, REDIRECT_URI, args.roles)
    oauth = OAuthClientProvider(
        server_url=args.url,
        client_metadata=OAuthClientMetadata(
            client_name="toolhost e2e oauth_roundtrip (mcp python)",
            redirect_uris=[AnyUrl(REDIRECT_URI)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            # A native app keeps no secret (RFC 8252): a public client, PKCE only.
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browserless.redirect_handler,
        callback_handler=browserless.callback_handler,
    )

    async def session() -> None:
        common.OBSERVER = observer = common.HttpObserver()
        http = httpx2.AsyncClient(
            auth=oauth,
            timeout=httpx2.Timeout(30.0, read=300.0),
            event_hooks={"response": [observer.on_response]},
            trust_env=False,
        )
        async with http:
            transport = streamable_http_client(args.url, http_client=http)
            async with Client(
                transport, mode=args.mode, cache=None, read_timeout_seconds=common.REQUEST_TIMEOUT_SECONDS
            ) as client:
                report: dict[str, Any] = await common.roundtrip(client, args.title, args.body, args.allow_tool_error)
        report["subject_hint"] = args.user
        tokens, client_info = storage.tokens, storage.client_info
        report["oauth"] = {
            "issuer": client_info.issuer if client_info else None,
            "client_id": client_info.client_id if client_info else None,
            "scope": tokens.scope if tokens else None,
            "refresh_token": bool(tokens and tokens.refresh_token),
            "authorizations": browserless.authorizations,
        }
        common.print_json(report)

    common.run(session)


if __name__ == "__main__":
    main()
