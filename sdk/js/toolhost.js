// toolhost: write a toolhost tool in JavaScript.
//
// A tool is `export default defineTool({ name, description, inputSchema, call })`.
// `call(ctx, args)` gets the verified caller in `ctx` and the arguments (already
// validated by the host against `inputSchema`) as a plain object, and returns a
// JSON object: the structured result, also rendered as text for the client.
// Throw `new ToolError(kind, message)` to fail with a kind the client sees;
// any other exception fails the call as `failed` with its message.
// `fetch` reaches the APIs the operator granted to the tool (the host decides
// every request and attaches the credential); `ctx.apiUrl(name)` is the base
// URL of one of them.
//
// build.mjs bundles this module with the tool and exports the WIT world
// `toolhost:plugin/tool@0.1.0` from it; see README.md.

import * as store from 'toolhost:plugin/store@0.1.0';
import { write } from 'toolhost:plugin/log@0.1.0';
import { getEnvironment } from 'wasi:cli/environment@0.2.10';

/** The kinds of `tool-error`, as the client sees them. */
export const ERROR_KINDS = Object.freeze(['invalid-input', 'forbidden', 'not-found', 'failed']);

/** A failure the client should see as `kind` with `message`. */
export class ToolError extends Error {
  constructor(kind, message) {
    if (!ERROR_KINDS.includes(kind)) {
      throw new TypeError(`ToolError kind must be one of ${ERROR_KINDS.join(', ')}, not ${JSON.stringify(kind)}`);
    }
    super(String(message));
    this.name = 'ToolError';
    this.kind = kind;
  }
}

/** A store operation failed (a limit was broken, or the backend failed). */
export class StoreError extends Error {
  constructor(kind, message) {
    super(kind === 'invalid' ? `store rejected the request: ${message}` : `storage failed: ${message}`);
    this.name = 'StoreError';
    this.kind = kind;
  }
}

// Imported functions that return `result` throw their error payload wrapped
// in an object with `payload`; turn it into a StoreError.
function storeCall(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    const p = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
    if (p && typeof p === 'object' && typeof p.tag === 'string') {
      throw new StoreError(p.tag, p.val);
    }
    throw e;
  }
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function text(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Log lines that land in the host's log, tagged with the tool and the request.
 * Several arguments are joined with spaces; non-strings are written as JSON.
 */
export const log = Object.freeze(
  Object.fromEntries(LEVELS.map((level) => [level, (...parts) => write(level, parts.map(text).join(' '))])),
);

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** One key with its value (bytes), and decoders for the value. */
export class Entry {
  constructor(key, value) {
    this.key = key;
    this.value = value;
  }

  /** The value as UTF-8 text. */
  text() {
    try {
      return decoder.decode(this.value);
    } catch {
      throw new ToolError('failed', `stored value under ${JSON.stringify(this.key)} is not UTF-8`);
    }
  }

  /** The value parsed as JSON. */
  json() {
    const t = this.text();
    try {
      return JSON.parse(t);
    } catch (e) {
      throw new ToolError('failed', `stored value under ${JSON.stringify(this.key)} is not valid JSON: ${e.message}`);
    }
  }
}

let maxScan;
/** The largest page the host returns for one scan. */
export function maxScanLimit() {
  maxScan ??= store.maxScanLimit();
  return maxScan;
}

function pageSize(limit) {
  const max = maxScanLimit();
  if (limit === undefined || limit === null) return max;
  const n = Math.floor(Number(limit));
  if (!Number.isFinite(n) || n < 1) throw new TypeError(`scan limit must be a positive integer, not ${limit}`);
  return Math.min(n, max);
}

function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return encoder.encode(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError('a stored value must be a string or bytes; use putJson for objects');
}

/**
 * The caller's keys in one bucket. The host scopes every key to the caller of
 * the current call: a tool cannot read or write another user's data.
 */
export class Bucket {
  constructor(name) {
    this.name = String(name);
  }

  /** The bytes under `key`, or undefined. */
  get(key) {
    return storeCall(store.get, this.name, key) ?? undefined;
  }

  /** The UTF-8 text under `key`, or undefined. */
  getText(key) {
    const v = this.get(key);
    return v === undefined ? undefined : new Entry(key, v).text();
  }

  /** The JSON value under `key`, or undefined. */
  getJson(key) {
    const v = this.get(key);
    return v === undefined ? undefined : new Entry(key, v).json();
  }

  /** Store a string (as UTF-8) or bytes under `key`. Durable when this returns. */
  set(key, value) {
    storeCall(store.set, this.name, key, toBytes(value));
  }

  /** Store `value` as JSON under `key`. Durable when this returns. */
  putJson(key, value) {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`cannot store ${typeof value} as JSON`);
    this.set(key, json);
  }

  /** Remove `key`; true if it existed. */
  delete(key) {
    return storeCall(store.delete, this.name, key);
  }

  /**
   * One page of the keys that start with `prefix`, in key order (descending
   * with `reverse`), after `startAfter` (exclusive), at most `limit` (capped
   * by the host, default the largest page). Pass the last key as `startAfter`
   * to read the next page.
   */
  scan({ prefix = '', startAfter, limit, reverse = false } = {}) {
    const request = { prefix, startAfter: startAfter ?? undefined, limit: pageSize(limit), reverse: !!reverse };
    return storeCall(store.scan, this.name, request).map((e) => new Entry(e.key, e.value));
  }

  /**
   * Every key that starts with `prefix`, page by page (`pageSize` entries per
   * host call), as an iterator of entries: stopping early reads no more pages.
   * Works with `for...of` and `for await...of`.
   */
  *scanAll({ prefix = '', startAfter, pageSize: size, reverse = false } = {}) {
    const limit = pageSize(size);
    let after = startAfter;
    for (;;) {
      const page = this.scan({ prefix, startAfter: after, limit, reverse });
      yield* page;
      if (page.length < limit) return;
      after = page[page.length - 1].key;
    }
  }
}

/**
 * The base URL of the API `name` granted to this tool, always ending in `/`
 * (append a relative path to it). The host puts it in the tool's environment
 * as `TOOLHOST_API_<NAME>_URL`; without a grant it is absent and this throws
 * a `failed` ToolError that tells the operator what to configure.
 */
function apiUrl(name) {
  if (!(typeof name === 'string' && name)) {
    throw new TypeError(`apiUrl takes the name of an API, not ${JSON.stringify(name) ?? String(name)}`);
  }
  const variable = `TOOLHOST_API_${name.replace(/[a-z]/g, (c) => c.toUpperCase())}_URL`;
  const found = getEnvironment().find(([key]) => key === variable);
  if (!found) {
    throw new ToolError(
      'failed',
      `the API ${JSON.stringify(name)} is not granted to this tool: ask the operator to add ` +
        `apis = [${JSON.stringify(name)}] to this tool's [tools.<tool name>] section`,
    );
  }
  return found[1];
}

/** Who is calling, with `hasRole`. */
function principalOf(p) {
  return Object.freeze({
    subject: p.subject,
    roles: Object.freeze([...p.roles]),
    scopes: Object.freeze([...p.scopes]),
    clientId: p.clientId ?? undefined,
    orgId: p.orgId ?? undefined,
    email: p.email ?? undefined,
    hasRole(role) {
      return this.roles.includes(role);
    },
  });
}

/** What a tool gets for one call. */
function contextOf(ctx) {
  return Object.freeze({
    principal: principalOf(ctx.principal),
    requestId: ctx.requestId,
    bucket: (name) => new Bucket(name),
    apiUrl,
    log,
  });
}

const TOOL = Symbol('toolhost.tool');

function schemaText(schema, what) {
  const value = typeof schema === 'string' ? JSON.parse(schema) : schema;
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be a JSON Schema object`);
  }
  return JSON.stringify(value);
}

/**
 * Define a tool: `{ name, title?, description, inputSchema?, outputSchema?,
 * roles?, call(ctx, args), render?(output) }`. Export it as the module's default.
 */
export function defineTool(spec) {
  if (!spec || typeof spec !== 'object') throw new TypeError('defineTool takes an object');
  const { name, title, description, roles = [], call, render } = spec;
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(name)) {
    throw new TypeError(`tool name must be snake_case, 1 to 64 characters, not ${JSON.stringify(name)}`);
  }
  if (typeof description !== 'string' || !description) throw new TypeError('a tool needs a description');
  if (typeof call !== 'function') throw new TypeError('a tool needs a call(ctx, args) function');
  if (render !== undefined && typeof render !== 'function') throw new TypeError('render must be a function');
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string')) throw new TypeError('roles must be strings');
  const info = {
    name,
    title: title === undefined ? undefined : String(title),
    description,
    inputSchema: schemaText(spec.inputSchema ?? { type: 'object' }, 'inputSchema'),
    outputSchema: spec.outputSchema === undefined ? undefined : schemaText(spec.outputSchema, 'outputSchema'),
    roles: [...roles],
  };
  return Object.freeze({ [TOOL]: true, info, call, render: render ?? ((output) => JSON.stringify(output)) });
}

/** The `tool-error` variant for anything thrown by a tool. */
function errorOf(e) {
  if (e instanceof ToolError) return { tag: e.kind, val: e.message };
  if (e instanceof Error) return { tag: 'failed', val: e.message || e.name };
  return { tag: 'failed', val: text(e) };
}

function outputOf(tool, result) {
  if (result === null || typeof result !== 'object' || Array.isArray(result)) {
    throw new ToolError('failed', `the tool returned ${Array.isArray(result) ? 'an array' : typeof result}, not a JSON object`);
  }
  const structured = JSON.stringify(result);
  const rendered = tool.render(result);
  return { content: [{ tag: 'text', val: typeof rendered === 'string' ? rendered : text(rendered) }], structured };
}

/**
 * The WIT exports (`describe`, `call`) of a tool made with defineTool.
 * Used by the module build.mjs generates; a tool does not call it.
 */
export function exportsOf(tool) {
  if (!tool || !tool[TOOL]) {
    throw new Error('the tool module must `export default defineTool({ ... })`');
  }
  return {
    describe: () => tool.info,
    // The result goes back as `{ tag: 'ok' | 'err', val }`, never thrown:
    // the bindings turn an exception without an error payload into a trap.
    async call(ctx, args) {
      try {
        let input;
        try {
          input = JSON.parse(args);
        } catch (e) {
          throw new ToolError('invalid-input', `arguments are not JSON: ${e.message}`);
        }
        return { tag: 'ok', val: outputOf(tool, await tool.call(contextOf(ctx), input)) };
      } catch (e) {
        return { tag: 'err', val: errorOf(e) };
      }
    },
  };
}
