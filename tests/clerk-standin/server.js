#!/usr/bin/env node
// Test-only stand-in for Clerk's OAuth 2.1 frontend API, built on oidc-provider.
// NEVER expose this: it logs anyone in without a password and mints tokens on request.
//
//   node tests/clerk-standin/server.js --port PORT [--access-token-ttl SECONDS]
//   (PORT 0 = any free port; access tokens live 3600 s unless told otherwise)
//
// Listens on 127.0.0.1 only. When ready it prints exactly one line on stdout,
// `LISTENING http://127.0.0.1:<port>`, and nothing else ever goes to stdout (logs go to
// stderr). It exits on SIGTERM, SIGINT, SIGHUP, or when its stdin is a pipe/socket that
// reaches end-of-file. See README.md for the routes, the user table and the test-only
// endpoints.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors as oidcErrors } from 'oidc-provider';

// oidc-provider prints its development notices with console.info, i.e. on stdout; stdout
// carries only the LISTENING line, so every console method is routed to stderr.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

function log(...args) {
  console.error(`[clerk-standin ${new Date().toISOString()}]`, ...args);
}

// ---------------------------------------------------------------------------------------
// Command line

let port;
let ACCESS_TOKEN_TTL;
try {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'access-token-ttl': { type: 'string', default: '3600' },
    },
    strict: true,
    allowPositionals: false,
  });
  port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer in 0..65535, got ${JSON.stringify(values.port)}`);
  }
  ACCESS_TOKEN_TTL = Number(values['access-token-ttl']);
  if (!Number.isInteger(ACCESS_TOKEN_TTL) || ACCESS_TOKEN_TTL < 1) {
    throw new Error(`--access-token-ttl must be a positive integer (seconds), got ${JSON.stringify(values['access-token-ttl'])}`);
  }
} catch (err) {
  console.error(`usage: node server.js [--port PORT] [--access-token-ttl SECONDS]\n${err.message}`);
  process.exit(2);
}

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------
// Fixed data

/** The user table. Keys are the `sub` of the tokens and the accepted `login_hint` values. */
const USERS = {
  alice: { roles: ['member'], name: 'Alice Example', email: 'alice@example.test' },
  bob: { roles: ['member'], name: 'Bob Example', email: 'bob@example.test' },
  guest: { roles: [], name: 'Guest Example', email: 'guest@example.test' },
};
const DEFAULT_USER = 'alice';

/** Every scope a client may ask for; also the resource servers' scope set. */
const SCOPES = ['openid', 'profile', 'email', 'offline_access', 'notes:read', 'notes:write'];

/** Pre-registered public client, used by GET /__test/token and available to curl flows. */
const TEST_CLIENT_ID = 'standin-test-client';
const TEST_CLIENT_REDIRECT_URI = 'http://127.0.0.1/callback';


// ---------------------------------------------------------------------------------------
// Signing keys. Newest first: oidc-provider signs with the first matching key, and the
// resource-server config below also names the current kid explicitly. The JWKS lists all.

const signingKeys = [];

function addSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `standin-${signingKeys.length + 1}-${crypto.randomBytes(4).toString('hex')}`;
  signingKeys.unshift({ ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });
  return kid;
}

function currentKid() {
  return signingKeys[0].kid;
}

// ---------------------------------------------------------------------------------------
// Storage: a plain in-memory adapter (oidc-provider's bundled one is an LRU capped at 1000
// entries, which could evict registered clients in a long test run). Module-level, so a
// provider rebuilt by /__test/rotate keeps every client, grant, code and refresh token.

const store = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms) | undefined }
const grantMembers = new Map(); // grantId -> Set of store keys
const uidIndex = new Map(); // `${model}:${uid}` -> id
const userCodeIndex = new Map(); // `${model}:${userCode}` -> id
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    store.set(key, {
      payload: structuredClone(payload),
      expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined,
    });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.uid) uidIndex.set(`${this.model}:${payload.uid}`, id);
    if (payload.userCode) userCodeIndex.set(`${this.model}:${payload.userCode}`, id);
  }

  async find(id) {
    const entry = live(this.key(id));
    return entry ? structuredClone(entry.payload) : undefined;
  }

  async findByUid(uid) {
    const id = uidIndex.get(`${this.model}:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = userCodeIndex.get(`${this.model}:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = live(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// Drop expired entries now and then so a long test run does not grow without bound.
setInterval(() => {
  for (const key of store.keys()) live(key);
  for (const [grantId, keys] of grantMembers) {
    for (const key of keys) if (!store.has(key)) keys.delete(key);
    if (!keys.size) grantMembers.delete(grantId);
  }
  for (const index of [uidIndex, userCodeIndex]) {
    for (const [k, id] of index) if (!store.has(`${k.slice(0, k.indexOf(':'))}:${id}`)) index.delete(k);
  }
}, 60_000).unref();

// ---------------------------------------------------------------------------------------
// oidc-provider configuration

function resourceServerInfo(resourceIndicator) {
  return {
    scope: SCOPES.join(' '),
    audience: resourceIndicator, // the JWT's `aud` is exactly the requested resource (RFC 8707)
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt', // RFC 9068 `typ: at+jwt`
    jwt: { sign: { alg: 'RS256', kid: currentKid() } },
  };
}

function isAcceptableResource(value) {
  const url = URL.parse(value);
  return !!url && (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
}

function configuration() {
  return {
    adapter: MemoryAdapter,
    jwks: { keys: signingKeys.map((k) => ({ ...k })) },
    clients: [{
      client_id: TEST_CLIENT_ID,
      client_name: 'clerk-standin test client',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: [TEST_CLIENT_REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    }],
    // Dynamically registered clients that name no grant_types may refresh (as Clerk's do).
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 implements
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      jwks: '/.well-known/jwks.json',
      userinfo: '/oauth/userinfo',
      registration: '/oauth/register',
    },
    features: {
      devInteractions: { enabled: false }, // replaced by the automatic /interaction/:uid below
      registration: { enabled: true, initialAccessToken: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        // A token request without `resource` still gets the resource of the authorization request.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (!isAcceptableResource(resourceIndicator)) {
            throw new oidcErrors.InvalidTarget('resource must be an absolute http(s) URL');
          }
          return resourceServerInfo(resourceIndicator);
        },
      },
      userinfo: { enabled: true },
      // Not offered by Clerk; off so clients cannot end up with tokens toolhost would not expect.
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      rpInitiatedLogout: { enabled: false },
    },
    interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const user = USERS[sub];
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          return {
            sub, name: user.name, preferred_username: sub, email: user.email, email_verified: true,
          };
        },
      };
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      return { roles: [...(USERS[token.accountId]?.roles ?? [])] };
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: 60 * 60,
      RefreshToken: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
      Interaction: 10 * 60,
      Session: 60 * 60,
    },
    clientBasedCORS: () => true, // loopback-only test server
    // Errors as JSON instead of oidc-provider's HTML page.
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Server

addSigningKey();

const server = http.createServer();
server.requestTimeout = 30_000;
server.headersTimeout = 10_000;

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, HOST, resolve);
});
const ISSUER = `http://${HOST}:${server.address().port}`;

let provider;
let providerHandler;

function buildProvider() {
  const p = new Provider(ISSUER, configuration());
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'registration_create.error',
    'userinfo.error', 'jwks.error', 'discovery.error']) {
    p.on(event, (ctx, err) => log(`${event}: ${err?.name}: ${err?.message}${err?.error_detail ? ` (${err.error_detail})` : ''}`));
  }
  p.on('registration_create.success', (ctx, client) => log(`registered client ${client.clientId}`));
  p.on('grant.success', (ctx) => log(`token issued to ${ctx.oidc.client?.clientId} for ${ctx.oidc.entities.AccessToken?.accountId ?? '?'} (${ctx.oidc.params.grant_type})`));
  provider = p;
  providerHandler = p.callback();
}

buildProvider();

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * GET /interaction/:uid: the "login page". Completes login for `login_hint` (default alice)
 * and consent for everything requested, then resumes the authorization request itself and
 * hands the client the final redirect, so the client needs no cookies and sees just
 * authorize -> 303 /interaction/:uid -> 303 redirect_uri?code&state&iss.
 */
async function handleInteraction(req, res, uid) {
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'interaction not found or expired' });
    return;
  }
  const { params } = interaction;
  const hint = typeof params.login_hint === 'string' && params.login_hint !== '' ? params.login_hint : DEFAULT_USER;
  let result;
  if (!Object.hasOwn(USERS, hint)) {
    log(`interaction ${uid}: unknown user ${JSON.stringify(hint)}, denying`);
    result = { error: 'access_denied', error_description: `unknown user ${hint}` };
  } else {
    const requested = (params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
    const grant = new provider.Grant({ accountId: hint, clientId: params.client_id });
    if (requested.length) {
      grant.addOIDCScope(requested.join(' '));
      const resources = params.resource === undefined ? [] : [].concat(params.resource);
      for (const resource of resources) grant.addResourceScope(resource, requested.join(' '));
    }
    const grantId = await grant.save();
    log(`interaction ${uid}: logged in ${hint} for client ${params.client_id}, granted ${JSON.stringify(requested.join(' '))}`);
    result = { login: { accountId: hint, remember: false }, consent: { grantId } };
  }
  interaction.result = result;
  await interaction.save(Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));

  // Resume the authorization request as the browser would, presenting the resume cookie
  // (unsigned: no cookie keys are configured). Its Set-Cookie headers (the login session)
  // are deliberately not passed on, so every authorization request starts without a
  // session and always logs in the user its login_hint names.
  const resumeCookie = `${provider.cookieName('resume')}=${uid}`;
  const resumed = await fetch(interaction.returnTo, {
    redirect: 'manual',
    headers: { cookie: req.headers.cookie ? `${req.headers.cookie}; ${resumeCookie}` : resumeCookie },
    signal: AbortSignal.timeout(10_000),
  });
  const location = resumed.headers.get('location');
  const body = await resumed.text();
  if (location) {
    res.writeHead(303, { location, 'cache-control': 'no-store' });
    res.end();
  } else {
    res.writeHead(resumed.status, { 'content-type': resumed.headers.get('content-type') ?? 'text/plain' });
    res.end(body);
  }
}

/**
 * GET|POST /oauth/userinfo with one of our JWT access tokens. oidc-provider's own userinfo
 * endpoint refuses tokens that carry an `aud` (every token issued for a `resource`), while
 * Clerk's userinfo accepts its OAuth access tokens; so those are answered here, and anything
 * else (opaque tokens, no token) goes to oidc-provider. Returns false if not handled.
 */
function handleJwtUserinfo(req, res) {
  const m = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const deny = (description) => {
    res.writeHead(401, {
      'content-type': 'application/json',
      'www-authenticate': `Bearer realm="${ISSUER}", error="invalid_token", error_description="${description}"`,
    });
    res.end(JSON.stringify({ error: 'invalid_token', error_description: description }));
    return true;
  };
  let header;
  let payload;
  try {
    header = JSON.parse(Buffer.from(m[1], 'base64url'));
    payload = JSON.parse(Buffer.from(m[2], 'base64url'));
  } catch {
    return deny('malformed token');
  }
  const jwk = signingKeys.find((k) => k.kid === header.kid);
  if (header.typ !== 'at+jwt' || header.alg !== 'RS256' || !jwk) return deny('not an access token of this issuer');
  const { kty, n, e } = jwk;
  const key = crypto.createPublicKey({ key: { kty, n, e }, format: 'jwk' });
  if (!crypto.verify('RSA-SHA256', Buffer.from(`${m[1]}.${m[2]}`), key, Buffer.from(m[3], 'base64url'))) {
    return deny('bad signature');
  }
  if (payload.iss !== ISSUER || typeof payload.exp !== 'number' || payload.exp <= Date.now() / 1000) {
    return deny('token expired or from another issuer');
  }
  const user = USERS[payload.sub];
  if (!user) return deny('unknown subject');
  const scopes = new Set(String(payload.scope ?? '').split(' '));
  sendJson(res, 200, {
    sub: payload.sub,
    ...(scopes.has('profile') ? { name: user.name, preferred_username: payload.sub } : {}),
    ...(scopes.has('email') ? { email: user.email, email_verified: true } : {}),
  });
  return true;
}

/** POST /__test/rotate: new signing key, used from now on; old keys stay in the JWKS. */
function handleRotate(res) {
  const previous = currentKid();
  const kid = addSigningKey();
  buildProvider();
  log(`rotated signing key: ${previous} -> ${kid}`);
  sendJson(res, 200, { kid, previous_kid: previous, kids: signingKeys.map((k) => k.kid) });
}

/** GET /__test/token?sub=alice&aud=RESOURCE[&scope=...][&client_id=...][&ttl=SECONDS] */
async function handleMint(res, query) {
  const sub = query.get('sub') ?? DEFAULT_USER;
  const aud = query.get('aud');
  const scope = query.get('scope') ?? 'openid profile email notes:read notes:write';
  const clientId = query.get('client_id') ?? TEST_CLIENT_ID;
  const ttlParam = query.get('ttl');
  if (!Object.hasOwn(USERS, sub)) {
    sendJson(res, 400, { error: 'invalid_request', error_description: `unknown user ${sub}` });
    return;
  }
  if (!aud || !isAcceptableResource(aud)) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'aud must be an absolute http(s) URL' });
    return;
  }
  const ttl = ttlParam === null ? ACCESS_TOKEN_TTL : Number(ttlParam);
  if (!Number.isInteger(ttl) || ttl < 1) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'ttl must be a positive integer (seconds)' });
    return;
  }
  const client = await provider.Client.find(clientId);
  if (!client) {
    sendJson(res, 400, { error: 'invalid_request', error_description: `unknown client ${clientId}` });
    return;
  }
  const at = new provider.AccessToken({
    accountId: sub, client, gty: 'authorization_code', scope, expiresIn: ttl,
  });
  at.resourceServer = new provider.ResourceServer(aud, resourceServerInfo(aud));
  const accessToken = await at.save();
  sendJson(res, 200, {
    access_token: accessToken, token_type: 'Bearer', expires_in: ttl, scope, kid: currentKid(),
  });
}

server.on('request', (req, res) => {
  const started = Date.now();
  const requested = req.url; // before the metadata alias below rewrites req.url
  res.on('finish', () => log(`${req.method} ${requested} -> ${res.statusCode} (${Date.now() - started} ms)`));
  const url = new URL(req.url, ISSUER);
  const route = `${req.method} ${url.pathname}`;
  const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(url.pathname);

  const handled = (async () => {
    if (interaction && req.method === 'GET') {
      await handleInteraction(req, res, interaction[1]);
    } else if (route === 'POST /__test/rotate') {
      handleRotate(res);
    } else if (route === 'GET /__test/token') {
      await handleMint(res, url.searchParams);
    } else if (url.pathname === '/oauth/userinfo' && handleJwtUserinfo(req, res)) {
      // answered
    } else {
      if (url.pathname === '/.well-known/oauth-authorization-server') {
        // RFC 8414 metadata: the very same document as OpenID discovery.
        req.url = `/.well-known/openid-configuration${url.search}`;
      }
      await providerHandler(req, res);
    }
  })();
  handled.catch((err) => {
    log(`error handling ${route}: ${err?.stack ?? err}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err?.message ?? err) });
    else res.destroy();
  });
});

// ---------------------------------------------------------------------------------------
// Lifecycle

let stopping = false;
function stop(reason) {
  if (stopping) return;
  stopping = true;
  log(`stopping (${reason})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => stop(signal));

// Exit when the parent closes our stdin, but only if stdin is a pipe or socket: with
// /dev/null or a file it would "close" immediately.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin error'));
    process.stdin.resume();
  }
} catch {
  // no stdin at all
}

log(`issuer ${ISSUER}, signing kid ${currentKid()}`);
process.stdout.write(`LISTENING ${ISSUER}\n`);
