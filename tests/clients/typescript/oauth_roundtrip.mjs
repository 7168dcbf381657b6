// Notes round trip behind OAuth with the official TypeScript MCP SDK client's own OAuth support.
//
//   node oauth_roundtrip.mjs --url URL --user NAME [--roles R] [--title T] [--allow-tool-error]
//
// Connects without a token. The SDK's StreamableHTTPClientTransport with an OAuthClientProvider
// does the OAuth work: protected resource metadata from the 401, authorization server metadata,
// dynamic client registration, PKCE. There is no browser: redirectToAuthorization below acts as
// the user agent, fetching the authorization URL with login_hint=NAME, following redirects by
// hand, submitting toolhost's consent or development sign-in form with the form's own values (the
// roles replaced by --roles when given), and taking the code from the redirect to our redirect
// URI, which is never contacted. Then, as the SDK documents, finishAuth(code) and a new connection.
//
// It lists tools, calls notes_create {title, body} and notes_list {limit: 100}, and prints one
// JSON object: {protocol_version, tools, created, created_is_error, listed,
// oauth: {client_id, scope, refresh_token, authorizations}}. Exit 1 on any failure (4 when
// notes_create fails without --allow-tool-error).

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const REDIRECT_URI = 'http://127.0.0.1:8766/oauth/callback';
const MAX_HOPS = 10;
const DEADLINE_MS = 30_000;

function args() {
  const out = { roles: null, title: 'typescript note', allowToolError: false };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--allow-tool-error') out.allowToolError = true;
    else if (['--url', '--user', '--roles', '--title'].includes(a) && i + 1 < argv.length) {
      out[a.slice(2)] = argv[++i];
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!out.url || !out.user) throw new Error('--url and --user are required');
  return out;
}

const unescape = (s) =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

// The action and fields of toolhost's consent or development sign-in form, or null.
function pageForm(page) {
  const action = /<form method=post action="([^"]+)"/.exec(page);
  const fields = {};
  for (const m of page.matchAll(/<input (?:type=hidden )?name=(\w+) value="([^"]*)"/g)) {
    fields[m[1]] = unescape(m[2]);
  }
  return action && 'ticket' in fields ? { action: unescape(action[1]), fields } : null;
}

class BrowserlessProvider {
  constructor(user, roles) {
    this.user = user;
    this.roles = roles;
    this.info = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.code = undefined;
    this.authorizations = 0;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: 'toolhost e2e oauth_roundtrip (mcp typescript)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(v) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url) {
    this.authorizations += 1;
    url.searchParams.set('login_hint', this.user);
    const signal = AbortSignal.timeout(DEADLINE_MS);
    let response = await fetch(url, { redirect: 'manual', signal });
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      const location = response.headers.get('location');
      const body = response.status === 200 ? await response.text() : '';
      const form = body ? pageForm(body) : null;
      if (form) {
        if (this.roles !== null && 'roles' in form.fields) form.fields.roles = this.roles;
        const target = new URL(form.action, response.url || url);
        response = await fetch(target, {
          method: 'POST',
          redirect: 'manual',
          signal,
          body: new URLSearchParams({ ...form.fields, decision: 'allow' }),
        });
        continue;
      }
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) {
        throw new Error(`authorization stopped at HTTP ${response.status}: ${body.slice(0, 300)}`);
      }
      const next = new URL(location, response.url || url);
      if (next.origin + next.pathname === new URL(REDIRECT_URI).origin + new URL(REDIRECT_URI).pathname) {
        const error = next.searchParams.get('error');
        if (error) throw new Error(`authorization server answered ${error}: ${next.searchParams.get('error_description')}`);
        this.code = next.searchParams.get('code');
        if (!this.code) throw new Error('the redirect carries no code');
        return;
      }
      response = await fetch(next, { redirect: 'manual', signal });
    }
    throw new Error(`no redirect to ${REDIRECT_URI} after ${MAX_HOPS} hops`);
  }
}

async function connect(url, provider) {
  const client = new Client({ name: 'toolhost-e2e-typescript', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  try {
    await client.connect(transport);
    return client;
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || !provider.code) throw e;
    await transport.finishAuth(provider.code);
    const again = new Client({ name: 'toolhost-e2e-typescript', version: '0.0.0' });
    await again.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
    return again;
  }
}

async function main() {
  const a = args();
  const provider = new BrowserlessProvider(a.user, a.roles);
  const client = await connect(a.url, provider);
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const created = await client.callTool({
    name: 'notes_create',
    arguments: { title: a.title, body: 'written after OAuth' },
  });
  if (created.isError && !a.allowToolError) {
    console.error(`notes_create failed: ${JSON.stringify(created.content)}`);
    process.exit(4);
  }
  const listed = await client.callTool({ name: 'notes_list', arguments: { limit: 100 } });
  const report = {
    protocol_version: client.transport?.protocolVersion ?? null,
    tools,
    created: created.structuredContent ?? null,
    created_is_error: Boolean(created.isError),
    listed: listed.structuredContent ?? null,
    oauth: {
      client_id: provider.info?.client_id ?? null,
      scope: provider.saved?.scope ?? null,
      refresh_token: Boolean(provider.saved?.refresh_token),
      authorizations: provider.authorizations,
    },
  };
  await client.close();
  console.log(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
