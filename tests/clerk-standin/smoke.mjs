#!/usr/bin/env node
// Self-check of the Clerk stand-in: `node tests/clerk-standin/smoke.mjs` (or `npm test` here).
// Starts server.js on a free loopback port, drives it with plain HTTP (no cookies, like a
// test client following redirects), checks metadata, registration, the authorization-code +
// PKCE flow, the access-token JWTs (signature included), refresh, key rotation, the test-only
// endpoints and shutdown. Prints one line per check; exits 0 when all pass, 1 otherwise.
// Bounded: every request times out after 10 s and the whole run after 60 s.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./server.js', import.meta.url));
const RESOURCE = 'http://127.0.0.1:9/mcp';
const REDIRECT_URI = 'http://127.0.0.1:8765/callback';

const deadline = setTimeout(() => {
  console.error('smoke: timed out after 60 s');
  process.exit(1);
}, 60_000);

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

function request(url, init = {}) {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000), ...init });
}

async function json(url, init) {
  const res = await request(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function form(data) {
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(data).toString() };
}

function pkce() {
  const verifier = b64url(crypto.randomBytes(48));
  return { verifier, challenge: b64url(crypto.createHash('sha256').update(verifier).digest()) };
}

/** Follow redirects from `url` (at most 10 hops, no cookies) until one points at redirectUri. */
async function followToRedirectUri(url, redirectUri) {
  const hops = [];
  let next = url;
  for (let hop = 0; hop < 10; hop += 1) {
    const res = await request(next);
    await res.arrayBuffer();
    const location = res.headers.get('location');
    hops.push(`${res.status} ${new URL(next).pathname}`);
    if (!location) throw new Error(`no redirect after ${hops.join(' -> ')} (status ${res.status})`);
    const target = new URL(location, next);
    if (target.href.startsWith(redirectUri)) return { params: target.searchParams, hops };
    next = target.href;
  }
  throw new Error(`too many redirects: ${hops.join(' -> ')}`);
}

let passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${err.stack ?? err}`);
    process.exitCode = 1;
  }
}

async function startServer({ stdin = 'pipe', args = [] } = {}) {
  const child = spawn(process.execPath, [SERVER, '--port', '0', ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let stdout = '';
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no LISTENING line in 10 s; stderr:\n${stderr}`)), 10_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /^LISTENING (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}; stderr:\n${stderr}`)); });
  });
  return { child, issuer, stdout: () => stdout, stderr: () => stderr };
}

async function waitExit(child, ms) {
  if (child.exitCode !== null) return child.exitCode;
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = await once(child, 'exit');
  clearTimeout(timer);
  return code;
}

const server = await startServer();
const ISS = server.issuer;
let metadata;
let jwks;

async function verifyJwt(token) {
  const [h, p, s] = token.split('.');
  const header = decodePart(h);
  const payload = decodePart(p);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} not in JWKS`);
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${p}`), crypto.createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s, 'base64url'));
  assert.ok(ok, 'signature does not verify');
  return { header, payload };
}

async function register(extra = {}) {
  const { status, body } = await json(`${ISS}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      application_type: 'native',
      client_name: 'smoke',
      ...extra,
    }),
  });
  assert.equal(status, 201, JSON.stringify(body));
  return body;
}

function authorizeUrl(client, { loginHint, challenge, state = 'st-1', scope = 'openid notes:read offline_access', resource = RESOURCE, extra = {} }) {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    state,
    scope,
    prompt: 'consent',
    ...(challenge ? { code_challenge: challenge, code_challenge_method: 'S256' } : {}),
    ...(resource ? { resource } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
    ...extra,
  });
  return `${ISS}/oauth/authorize?${q}`;
}

async function codeFlow(client, loginHint, { basic } = {}) {
  const { verifier, challenge } = pkce();
  const { params } = await followToRedirectUri(authorizeUrl(client, { loginHint, challenge }), REDIRECT_URI);
  assert.equal(params.get('state'), 'st-1');
  assert.equal(params.get('iss'), ISS);
  assert.ok(params.get('code'), `no code: ${params}`);
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
  const data = {
    grant_type: 'authorization_code', code: params.get('code'), redirect_uri: REDIRECT_URI, code_verifier: verifier, resource: RESOURCE,
  };
  if (!basic) data.client_id = client.client_id;
  const token = await json(`${ISS}/oauth/token`, { method: 'POST', headers, body: new URLSearchParams(data).toString() });
  assert.equal(token.status, 200, JSON.stringify(token.body));
  return token.body;
}

await check('stdout carries exactly the LISTENING line', async () => {
  assert.match(server.stdout(), /^LISTENING http:\/\/127\.0\.0\.1:\d+\n$/);
});

await check('metadata at both well-known URLs, identical, with Clerk paths', async () => {
  const oidc = await json(`${ISS}/.well-known/openid-configuration`);
  const oauth = await json(`${ISS}/.well-known/oauth-authorization-server`);
  assert.equal(oidc.status, 200);
  assert.equal(oauth.status, 200);
  assert.deepEqual(oauth.body, oidc.body);
  metadata = oidc.body;
  assert.equal(metadata.issuer, ISS);
  assert.equal(metadata.authorization_endpoint, `${ISS}/oauth/authorize`);
  assert.equal(metadata.token_endpoint, `${ISS}/oauth/token`);
  assert.equal(metadata.registration_endpoint, `${ISS}/oauth/register`);
  assert.equal(metadata.userinfo_endpoint, `${ISS}/oauth/userinfo`);
  assert.equal(metadata.jwks_uri, `${ISS}/.well-known/jwks.json`);
  assert.equal(metadata.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.deepEqual(metadata.grant_types_supported, ['authorization_code', 'refresh_token']);
  for (const s of ['openid', 'profile', 'email', 'offline_access', 'notes:read', 'notes:write']) {
    assert.ok(metadata.scopes_supported.includes(s), s);
  }
});

await check('JWKS has one RS256 signing key', async () => {
  const res = await json(`${ISS}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  jwks = res.body;
  assert.equal(jwks.keys.length, 1);
  assert.equal(jwks.keys[0].alg, 'RS256');
  assert.equal(jwks.keys[0].d, undefined, 'private part leaked');
});

let publicClient;
let firstToken;
await check('public client: register, authorize as bob (no cookies), PKCE exchange, at+jwt claims', async () => {
  publicClient = await register({ token_endpoint_auth_method: 'none', scope: 'openid notes:read notes:write offline_access' });
  assert.equal(publicClient.token_endpoint_auth_method, 'none');
  const tokens = await codeFlow(publicClient, 'bob');
  assert.equal(tokens.token_type, 'Bearer');
  assert.equal(tokens.expires_in, 3600);
  assert.ok(tokens.refresh_token, 'refresh token expected with offline_access');
  const { header, payload } = await verifyJwt(tokens.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'RS256');
  assert.equal(payload.aud, RESOURCE);
  assert.equal(payload.sub, 'bob');
  assert.deepEqual(payload.roles, ['member']);
  assert.equal(payload.iss, ISS);
  assert.equal(payload.client_id, publicClient.client_id);
  assert.equal(payload.scope, 'openid notes:read offline_access');
  assert.equal(payload.exp - payload.iat, 3600);
  assert.ok(payload.jti);
  firstToken = tokens;
});

await check('refresh_token grant gives a new JWT for the same resource', async () => {
  const res = await json(`${ISS}/oauth/token`, form({
    grant_type: 'refresh_token', refresh_token: firstToken.refresh_token, client_id: publicClient.client_id, resource: RESOURCE,
  }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { payload } = await verifyJwt(res.body.access_token);
  assert.equal(payload.aud, RESOURCE);
  assert.equal(payload.sub, 'bob');
  assert.notEqual(res.body.refresh_token, firstToken.refresh_token, 'public-client refresh tokens rotate');
});

await check('no login_hint logs in alice; guest gets roles []', async () => {
  const alice = await verifyJwt((await codeFlow(publicClient, undefined)).access_token);
  assert.equal(alice.payload.sub, 'alice');
  assert.deepEqual(alice.payload.roles, ['member']);
  const guest = await verifyJwt((await codeFlow(publicClient, 'guest')).access_token);
  assert.equal(guest.payload.sub, 'guest');
  assert.deepEqual(guest.payload.roles, []);
});

await check('confidential client (default client_secret_basic) works too', async () => {
  const client = await register({ scope: 'openid notes:read offline_access' });
  assert.equal(client.token_endpoint_auth_method, 'client_secret_basic');
  assert.ok(client.client_secret);
  const { payload } = await verifyJwt((await codeFlow(client, 'alice', { basic: true })).access_token);
  assert.equal(payload.client_id, client.client_id);
});

await check('PKCE is required: no code_challenge -> error at redirect_uri', async () => {
  const { params } = await followToRedirectUri(authorizeUrl(publicClient, { loginHint: 'bob' }), REDIRECT_URI);
  assert.equal(params.get('error'), 'invalid_request');
  assert.match(params.get('error_description'), /PKCE/);
  assert.equal(params.get('iss'), ISS);
  const plain = await followToRedirectUri(authorizeUrl(publicClient, {
    loginHint: 'bob', extra: { code_challenge: pkce().verifier, code_challenge_method: 'plain' },
  }), REDIRECT_URI);
  assert.equal(plain.params.get('error'), 'invalid_request', 'plain PKCE must be refused');
});

await check('wrong code_verifier -> invalid_grant', async () => {
  const { challenge } = pkce();
  const { params } = await followToRedirectUri(authorizeUrl(publicClient, { loginHint: 'bob', challenge }), REDIRECT_URI);
  const res = await json(`${ISS}/oauth/token`, form({
    grant_type: 'authorization_code', code: params.get('code'), redirect_uri: REDIRECT_URI, client_id: publicClient.client_id, code_verifier: pkce().verifier, resource: RESOURCE,
  }));
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'invalid_grant');
});

await check('unknown login_hint -> access_denied at redirect_uri', async () => {
  const { challenge } = pkce();
  const { params } = await followToRedirectUri(authorizeUrl(publicClient, { loginHint: 'mallory', challenge }), REDIRECT_URI);
  assert.equal(params.get('error'), 'access_denied');
  assert.equal(params.get('state'), 'st-1');
});

await check('a scope outside the client\'s registered scope -> invalid_scope', async () => {
  const { params } = await followToRedirectUri(authorizeUrl(publicClient, { loginHint: 'bob', challenge: pkce().challenge, scope: 'openid email' }), REDIRECT_URI);
  assert.equal(params.get('error'), 'invalid_scope');
});

await check('userinfo: our JWT access tokens (claims per scope) and opaque tokens both work', async () => {
  const client = await register({ token_endpoint_auth_method: 'none' }); // no scope restriction
  const { verifier, challenge } = pkce();
  const { params } = await followToRedirectUri(authorizeUrl(client, { loginHint: 'bob', challenge, scope: 'openid email notes:read' }), REDIRECT_URI);
  assert.ok(params.get('code'), String(params));
  const tokens = (await json(`${ISS}/oauth/token`, form({
    grant_type: 'authorization_code', code: params.get('code'), redirect_uri: REDIRECT_URI, client_id: client.client_id, code_verifier: verifier, resource: RESOURCE,
  }))).body;
  const ui = await json(`${ISS}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(ui.status, 200, JSON.stringify(ui.body));
  assert.deepEqual(ui.body, { sub: 'bob', email: 'bob@example.test', email_verified: true });
  const tampered = `${tokens.access_token.slice(0, -4)}AAAA`;
  const bad = await json(`${ISS}/oauth/userinfo`, { headers: { authorization: `Bearer ${tampered}` } });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get('www-authenticate'), /invalid_token/);
  // Without `resource` the access token is oidc-provider's opaque userinfo token.
  const second = pkce();
  const r2 = await followToRedirectUri(authorizeUrl(client, { loginHint: 'alice', challenge: second.challenge, scope: 'openid profile', resource: null }), REDIRECT_URI);
  const opaque = (await json(`${ISS}/oauth/token`, form({
    grant_type: 'authorization_code', code: r2.params.get('code'), redirect_uri: REDIRECT_URI, client_id: client.client_id, code_verifier: second.verifier,
  }))).body;
  assert.equal(opaque.access_token.split('.').length, 1, 'expected an opaque token');
  const ui2 = await json(`${ISS}/oauth/userinfo`, { headers: { authorization: `Bearer ${opaque.access_token}` } });
  assert.equal(ui2.status, 200, JSON.stringify(ui2.body));
  assert.equal(ui2.body.sub, 'alice');
  assert.equal(ui2.body.name, 'Alice Example');
});

let oldKid;
await check('POST /__test/rotate: new kid signs, old kid stays in JWKS, old tokens still verify', async () => {
  oldKid = jwks.keys[0].kid;
  const rot = await json(`${ISS}/__test/rotate`, { method: 'POST' });
  assert.equal(rot.status, 200);
  assert.equal(rot.body.previous_kid, oldKid);
  assert.notEqual(rot.body.kid, oldKid);
  jwks = (await json(`${ISS}/.well-known/jwks.json`)).body;
  assert.deepEqual(jwks.keys.map((k) => k.kid), [rot.body.kid, oldKid]);
  const before = await verifyJwt(firstToken.access_token);
  assert.equal(before.header.kid, oldKid);
  const after = await verifyJwt((await codeFlow(publicClient, 'bob')).access_token);
  assert.equal(after.header.kid, rot.body.kid);
  // Clients registered before the rotation are still known.
  assert.equal(after.payload.client_id, publicClient.client_id);
});

await check('GET /__test/token mints the same kind of token', async () => {
  const res = await json(`${ISS}/__test/token?sub=alice&aud=${encodeURIComponent(RESOURCE)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const { header, payload } = await verifyJwt(res.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.kid, jwks.keys[0].kid);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.aud, RESOURCE);
  assert.deepEqual(payload.roles, ['member']);
  assert.equal(payload.iss, ISS);
  assert.equal(payload.client_id, 'standin-test-client');
  assert.equal(payload.exp - payload.iat, 3600);
  const short = await json(`${ISS}/__test/token?sub=guest&aud=${encodeURIComponent(RESOURCE)}&ttl=5&scope=notes:read`);
  const s = await verifyJwt(short.body.access_token);
  assert.equal(s.payload.exp - s.payload.iat, 5);
  assert.equal(s.payload.scope, 'notes:read');
  assert.deepEqual(s.payload.roles, []);
  assert.equal((await json(`${ISS}/__test/token?sub=mallory&aud=${encodeURIComponent(RESOURCE)}`)).status, 400);
  assert.equal((await json(`${ISS}/__test/token?sub=alice`)).status, 400);
});

await check('SIGTERM stops the server with exit code 0', async () => {
  server.child.kill('SIGTERM');
  assert.equal(await waitExit(server.child, 5_000), 0);
});

await check('closing stdin stops the server', async () => {
  const s = await startServer();
  s.child.stdin.end();
  assert.equal(await waitExit(s.child, 5_000), 0);
});

await check('stdin from /dev/null does not stop it (SIGTERM does); --access-token-ttl', async () => {
  const s = await startServer({ stdin: 'ignore', args: ['--access-token-ttl', '5'] });
  await new Promise((r) => { setTimeout(r, 300); });
  const minted = await json(`${s.issuer}/__test/token?sub=bob&aud=${encodeURIComponent(RESOURCE)}`);
  assert.equal(minted.status, 200);
  const payload = decodePart(minted.body.access_token.split('.')[1]);
  assert.equal(payload.exp - payload.iat, 5);
  s.child.kill('SIGTERM');
  assert.equal(await waitExit(s.child, 5_000), 0);
});

clearTimeout(deadline);
if (server.child.exitCode === null) server.child.kill('SIGKILL');
console.log(process.exitCode ? `smoke: FAILED (${passed} passed)` : `smoke: all ${passed} checks passed`);
