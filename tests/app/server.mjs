#!/usr/bin/env node
// Test-only application server: the API that toolhost's outbound HTTP reaches in the tests.
// It trusts nothing but the bearer token, verified with the `jose` library against the
// JWKS it is told about, exactly as a real application behind toolhost would.
//
//   PORT=0 JWKS_URL=http://127.0.0.1:3001/oauth/jwks.json ISSUER=... AUDIENCE=... \
//     node tests/app/server.mjs
//
// When ready it prints `listening http://<host>:<port>` on stdout, then one line per /api
// request. Errors go to stderr. It exits on SIGTERM, SIGINT, SIGHUP, or when its stdin is a
// pipe or socket that reaches end-of-file. See README.md for the routes.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import * as jose from 'jose';

// ---------------------------------------------------------------------------------------
// Configuration

const MAX_BODY = 1 << 20; // request bodies over this get 413
const MAX_LOG = 10_000; // request log entries kept (the oldest are dropped)
const MAX_PROJECTS = 1_000; // projects per owner
const MAX_BYTES = 64 << 20; // largest /api/big or /api/chunked answer
const MAX_SLOW_MS = 60_000; // longest /api/slow wait

function config() {
  const missing = ['PORT', 'JWKS_URL', 'ISSUER', 'AUDIENCE'].filter((k) => !process.env[k]);
  if (missing.length > 0) {
    fail(`missing environment variable(s) ${missing.join(', ')}; needed: PORT (0 = any free port), ` +
      'JWKS_URL (where the caller tokens\' keys are), ISSUER and AUDIENCE (the tokens\' iss and aud)');
  }
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`PORT must be an integer in 0..65535, got ${JSON.stringify(process.env.PORT)}`);
  }
  let jwksUrl;
  try {
    jwksUrl = new URL(process.env.JWKS_URL);
  } catch {
    fail(`JWKS_URL is not a URL: ${JSON.stringify(process.env.JWKS_URL)}`);
  }
  return {
    port,
    host: process.env.HOST || '127.0.0.1',
    jwksUrl,
    issuer: process.env.ISSUER,
    audience: process.env.AUDIENCE,
  };
}

function fail(message) {
  process.stderr.write(`toolhost test app: ${message}\n`);
  process.exit(2);
}

const CONFIG = config();
const JWKS = jose.createRemoteJWKSet(CONFIG.jwksUrl);

// ---------------------------------------------------------------------------------------
// State (in memory)

/** @type {Map<string, object[]>} owner sub -> projects, oldest first */
const projects = new Map();
/** Every request except /requests and /reset, oldest first, at most MAX_LOG. */
let requests = [];

// ---------------------------------------------------------------------------------------
// Helpers

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The request's headers, with only the presence of `authorization` shown. */
function shownHeaders(req) {
  const headers = { ...req.headers };
  if ('authorization' in headers) headers.authorization = 'present';
  return headers;
}

/** The whole request body as a Buffer, or null (after answering 413) if it is too large. */
function readBody(req, res) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      send(res, 413, { error: `request body over ${MAX_BODY} bytes` }, { connection: 'close' });
      resolve(null);
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return tooLarge();
    const chunks = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_BODY) {
        over = true;
        tooLarge();
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => over || resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Write `n` bytes of 'x' with backpressure, then end. */
function writeX(res, n) {
  const block = Buffer.alloc(64 * 1024, 'x');
  const more = () => {
    while (n > 0) {
      const chunk = n >= block.length ? block : block.subarray(0, n);
      n -= chunk.length;
      if (!res.write(chunk)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

/** Query parameter `name` as an integer in 0..max, or an error message. */
function intParam(query, name, max) {
  const raw = query.get(name);
  const n = Number(raw);
  if (raw === null || raw === '' || !Number.isInteger(n) || n < 0 || n > max) {
    return { error: `query parameter ${name} must be an integer in 0..${max}` };
  }
  return { value: n };
}

/** Verify `Authorization: Bearer <jwt>`: the verified payload and header, or why not. */
async function verify(req) {
  const header = req.headers.authorization;
  if (!header) return { error: 'no Authorization header' };
  const match = /^Bearer +([^ ]+)$/i.exec(header);
  if (!match) return { error: 'the Authorization header is not "Bearer <token>"' };
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(match[1], JWKS, {
      issuer: CONFIG.issuer,
      audience: CONFIG.audience,
      algorithms: ['ES256', 'RS256'],
    });
    if (typeof payload.sub !== 'string' || payload.sub === '') {
      return { error: 'the token has no "sub" claim' };
    }
    return { payload, protectedHeader };
  } catch (err) {
    const cause = err.cause ? ` (${err.cause.code ?? err.cause.message})` : '';
    const reason = err.code ? `${err.code}: ${err.message}` : `cannot verify the token: ${err.message}${cause}`;
    return { error: reason.replace(/\s+/g, ' ') };
  }
}

// ---------------------------------------------------------------------------------------
// Routes

async function api(req, res, entry, path, rawQuery) {
  const query = new URLSearchParams(rawQuery);
  const verified = await verify(req);
  if (verified.error) {
    entry.error = verified.error;
    process.stdout.write(`rejected ${req.method} ${path}: ${verified.error}\n`);
    return send(res, 401, { error: verified.error }, { 'www-authenticate': 'Bearer' });
  }
  const { payload } = verified;
  const sub = payload.sub;
  const tool = typeof payload.act?.sub === 'string' ? payload.act.sub : null;
  entry.verified_sub = sub;
  entry.tool = tool;
  process.stdout.write(
    `verified caller sub=${JSON.stringify(sub)} tool=${JSON.stringify(tool)} ${req.method} ${path}\n`,
  );
  const body = await readBody(req, res);
  if (body === null) {
    entry.error = `request body over ${MAX_BODY} bytes`;
    return;
  }
  // Every other refusal: answered `{"error": ...}` and kept in the request log.
  const refuse = (status, error) => {
    entry.error = error;
    return send(res, status, { error });
  };
  const route = `${req.method} ${path}`;
  if (path === '/api/echo') {
    return send(res, 200, {
      method: req.method,
      path,
      query: rawQuery,
      headers: shownHeaders(req),
      body: body.toString('utf8'),
    });
  }
  switch (route) {
    case 'GET /api/projects':
      return send(res, 200, { projects: projects.get(sub) ?? [] });
    case 'POST /api/projects': {
      let input;
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch {
        return refuse(400, 'the body is not JSON');
      }
      const name = input?.name;
      if (typeof name !== 'string' || [...name].length < 1 || [...name].length > 100) {
        return refuse(400, '"name" must be a string of 1 to 100 characters');
      }
      const owned = projects.get(sub) ?? [];
      if (owned.length >= MAX_PROJECTS) {
        return refuse(409, `an owner may have at most ${MAX_PROJECTS} projects`);
      }
      const project = { id: crypto.randomUUID(), name, owner: sub, created_at: new Date().toISOString() };
      owned.push(project);
      projects.set(sub, owned);
      return send(res, 201, { project });
    }
    case 'GET /api/whoami': {
      const { protectedHeader } = verified;
      return send(res, 200, { payload, protected_header: protectedHeader, headers: shownHeaders(req) });
    }
    case 'GET /api/slow': {
      const ms = intParam(query, 'ms', MAX_SLOW_MS);
      if (ms.error) return refuse(400, ms.error);
      const timer = setTimeout(() => send(res, 200, 'slow'), ms.value);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    case 'GET /api/big':
    case 'GET /api/chunked': {
      const bytes = intParam(query, 'bytes', MAX_BYTES);
      if (bytes.error) return refuse(400, bytes.error);
      const headers = { 'content-type': 'text/plain' };
      if (path === '/api/big') headers['content-length'] = bytes.value;
      res.writeHead(200, headers);
      return writeX(res, bytes.value);
    }
    case 'GET /api/redirect': {
      const to = query.get('to');
      if (!to || /[\x00-\x1f\x7f]/.test(to)) {
        return refuse(400, 'query parameter to is required, without control characters');
      }
      res.writeHead(302, { location: to, 'content-length': 0 });
      return res.end();
    }
    default:
      return refuse(404, `no route ${route}`);
  }
}

async function handle(req, res) {
  const [path, rawQuery = ''] = req.url.split(/\?(.*)/s);
  if (req.method === 'GET' && path === '/requests') return send(res, 200, requests);
  if (req.method === 'POST' && path === '/reset') {
    requests = [];
    res.writeHead(204);
    return res.end();
  }
  const entry = {
    method: req.method,
    path,
    query: rawQuery,
    authorization: req.headers.authorization !== undefined,
    verified_sub: null,
    tool: null,
    status: null,
    error: null,
  };
  requests.push(entry);
  if (requests.length > MAX_LOG) requests.splice(0, requests.length - MAX_LOG);
  res.on('finish', () => {
    entry.status = res.statusCode;
  });
  res.on('close', () => {
    if (!res.writableFinished) entry.error ??= 'the connection closed before the response was sent';
  });
  if (path === '/api' || path.startsWith('/api/')) return api(req, res, entry, path, rawQuery);
  entry.error = `no route ${req.method} ${path}`;
  return send(res, 404, { error: entry.error });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    process.stderr.write(`toolhost test app: ${req.method} ${req.url}: ${err.stack ?? err}\n`);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});

// ---------------------------------------------------------------------------------------
// Lifecycle

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, stop);

// Exit when the parent closes our stdin, but only if it is a pipe or socket: /dev/null or
// a file would "close" at once.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
} catch {
  // no stdin at all
}

server.on('error', (err) => fail(`cannot listen on ${CONFIG.host}:${CONFIG.port}: ${err.message}`));
server.listen(CONFIG.port, CONFIG.host, () => {
  const { port } = server.address();
  const host = CONFIG.host.includes(':') ? `[${CONFIG.host}]` : CONFIG.host;
  process.stdout.write(`listening http://${host}:${port}\n`);
});
