// toolhost: write toolhost tools, resources and prompts in JavaScript.
//
// A module's default export is what its component serves: one tool
// (`defineTool({...})`), or several tools, resources and prompts
// (`defineComponent({ tools, resources, prompts })`).
//
// A tool's `call(ctx, args)` gets the verified caller in `ctx` and the
// arguments (already validated by the host against `inputSchema`) as a plain
// object, and returns a JSON object (the structured result, also rendered as
// text for the client) or `toolResult(content, structured?)` for images,
// audio, resource links and embedded resources. A resource's `read(ctx,
// request)` returns its contents; a prompt's `get(ctx, args)` its messages.
// Throw `new ToolError(kind, message)` to fail with a kind the client sees;
// any other exception fails the request as `failed` with its message.
// While a call runs, `ctx` reports progress, writes to the client's log,
// tells whether the client cancelled, asks the user (`elicit`) or the
// client's model (`sample`), and reads the operator's configuration values
// for the tool (`config`). `fetch` reaches the APIs the operator granted to
// the tool (the host decides every request and attaches the credential);
// `ctx.apiUrl(name)` is the base URL of one of them.
//
// build.mjs bundles this module with the tool's and exports the WIT world
// `toolhost:plugin/tools@0.2.0` from it; see README.md.

import * as store from 'toolhost:plugin/store@0.2.0';
import { write } from 'toolhost:plugin/log@0.2.0';
import * as running from 'toolhost:plugin/call@0.2.0';
import { get as configValue } from 'wasi:config/store@0.2.0-rc.1';
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

/**
 * The user (or the client's model) could not be asked: the client does not
 * support it, no answer in time, the call was cancelled, or too many asks
 * in one call. Uncaught, it fails the call as `failed`.
 */
export class AskError extends Error {
  constructor(message) {
    super(String(message));
    this.name = 'AskError';
  }
}

// Imported functions that return `result` throw their error payload wrapped
// in an object with `payload`: the payload, or undefined for other errors.
function payloadOf(e) {
  return e && typeof e === 'object' && 'payload' in e ? e.payload : undefined;
}

function storeCall(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    const p = payloadOf(e);
    if (p && typeof p === 'object' && typeof p.tag === 'string') throw new StoreError(p.tag, p.val);
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

/** `value` for a message: JSON where it has one. */
function shown(value) {
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

/** `value` as bytes, if it is bytes (a Uint8Array, another view, an ArrayBuffer). */
function bytesOrUndefined(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return undefined;
}

function toBytes(value) {
  if (typeof value === 'string') return encoder.encode(value);
  const bytes = bytesOrUndefined(value);
  if (bytes === undefined) throw new TypeError('a stored value must be a string or bytes; use putJson for objects');
  return bytes;
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

// ---------------------------------------------------------------------------
// Content

const WIT = Symbol('toolhost.wit');
const MAKING = Symbol('toolhost.making');

function requireString(value, what) {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string, not ${shown(value)}`);
  return value;
}

function optionalString(value, what) {
  return value === undefined || value === null ? undefined : requireString(value, what);
}

function requireBytes(value, what) {
  const bytes = bytesOrUndefined(value);
  if (bytes === undefined) throw new TypeError(`${what} must be bytes (a Uint8Array), not ${shown(value)}`);
  return bytes;
}

/**
 * One block of MCP content, shown to the model and the user: make it with
 * `Content.text`, `image`, `audio`, `resourceLink`, `embeddedText`,
 * `embeddedBlob` or `mcp`, and return it in `toolResult(...)` or a prompt
 * message.
 */
export class Content {
  /** @private use the static functions */
  constructor(making, wit) {
    if (making !== MAKING) {
      throw new TypeError('make content with Content.text(...), Content.image(...) and the other static functions');
    }
    /** The kind: text, image, audio, resource-link, embedded or mcp. */
    this.kind = wit.tag;
    Object.defineProperty(this, WIT, { value: wit });
    Object.freeze(this);
  }

  /** Text. */
  static text(text) {
    return new Content(MAKING, { tag: 'text', val: requireString(text, 'Content.text: the text') });
  }

  /** An image, e.g. `Content.image(png, 'image/png')`. */
  static image(data, mimeType) {
    return new Content(MAKING, {
      tag: 'image',
      val: { data: requireBytes(data, 'Content.image: data'), mimeType: requireString(mimeType, 'Content.image: mimeType') },
    });
  }

  /** An audio clip, e.g. `Content.audio(wav, 'audio/wav')`. */
  static audio(data, mimeType) {
    return new Content(MAKING, {
      tag: 'audio',
      val: { data: requireBytes(data, 'Content.audio: data'), mimeType: requireString(mimeType, 'Content.audio: mimeType') },
    });
  }

  /** A link to a resource the client may fetch, with its title, description and MIME type if given. */
  static resourceLink(uri, name, { title, description, mimeType } = {}) {
    const what = 'Content.resourceLink';
    return new Content(MAKING, {
      tag: 'resource-link',
      val: {
        uri: requireString(uri, `${what}: uri`),
        name: requireString(name, `${what}: name`),
        title: optionalString(title, `${what}: title`),
        description: optionalString(description, `${what}: description`),
        mimeType: optionalString(mimeType, `${what}: mimeType`),
      },
    });
  }

  /** A text resource carried in the result. */
  static embeddedText(uri, mimeType, text) {
    const what = 'Content.embeddedText';
    return new Content(MAKING, {
      tag: 'embedded',
      val: {
        uri: requireString(uri, `${what}: uri`),
        mimeType: optionalString(mimeType, `${what}: mimeType`),
        body: { tag: 'text', val: requireString(text, `${what}: text`) },
      },
    });
  }

  /** A binary resource carried in the result (sent base64-encoded). */
  static embeddedBlob(uri, mimeType, data) {
    const what = 'Content.embeddedBlob';
    return new Content(MAKING, {
      tag: 'embedded',
      val: {
        uri: requireString(uri, `${what}: uri`),
        mimeType: optionalString(mimeType, `${what}: mimeType`),
        body: { tag: 'blob', val: requireBytes(data, `${what}: data`) },
      },
    });
  }

  /**
   * Any MCP content block as a JSON object whose `type` the host knows; for
   * kinds this kit has no function for. The host checks it.
   */
  static mcp(block) {
    if (!isPlainObject(block) || typeof block.type !== 'string') {
      throw new TypeError(`Content.mcp takes an MCP content block, an object with a string "type", not ${shown(block)}`);
    }
    return new Content(MAKING, { tag: 'mcp', val: JSON.stringify(block) });
  }
}

/** `value` as a WIT content block: a Content, or a string as text. */
function blockOf(value, what) {
  if (value instanceof Content) return value[WIT];
  if (typeof value === 'string') return { tag: 'text', val: value };
  throw new TypeError(`${what} must be a string or a Content (Content.text(...), ...), not ${shown(value)}`);
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const RESULT = Symbol('toolhost.result');

/**
 * A tool's result with content blocks: `content` is one block or a list of
 * them (each a `Content`, or a string for text); `structured`, when given,
 * is the structured result (a JSON object, MCP `structuredContent`, checked
 * against the tool's `outputSchema`).
 */
export function toolResult(content, structured) {
  const blocks = (Array.isArray(content) ? content : [content]).map((c, i) => blockOf(c, `toolResult: content[${i}]`));
  if (structured !== undefined && !isPlainObject(structured)) {
    throw new TypeError(`toolResult: structured must be a JSON object, not ${shown(structured)}`);
  }
  return Object.freeze({ [RESULT]: true, content: blocks, structured });
}

// ---------------------------------------------------------------------------
// The context

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

/** The severities of a message for the client (MCP's levels), lowest first. */
export const CLIENT_LEVELS = Object.freeze(['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency']);

function finite(value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${what} must be a finite number, not ${shown(value)}`);
  }
  return value;
}

function reportProgress(progress, total, message) {
  running.reportProgress(
    finite(progress, 'reportProgress: progress'),
    total === undefined || total === null ? undefined : finite(total, 'reportProgress: total'),
    optionalString(message, 'reportProgress: message'),
  );
}

function notifyClient(level, data, logger) {
  if (!CLIENT_LEVELS.includes(level)) {
    throw new TypeError(`notifyClient: level must be one of ${CLIENT_LEVELS.join(', ')}, not ${shown(level)}`);
  }
  const json = JSON.stringify(data);
  if (json === undefined) throw new TypeError(`notifyClient: data must be a JSON value, not ${typeof data}`);
  running.notify(level, optionalString(logger, 'notifyClient: logger'), json);
}

/** `ask()`, its error an AskError. */
function asking(ask) {
  let answer;
  try {
    answer = ask();
  } catch (e) {
    const p = payloadOf(e);
    if (typeof p === 'string') throw new AskError(p);
    throw e;
  }
  return answer;
}

function parseAnswer(json) {
  try {
    return JSON.parse(json);
  } catch (e) {
    throw new AskError(`the answer is not JSON: ${e.message}`);
  }
}

function resourceUpdated(uri) {
  running.resourceUpdated(requireString(uri, 'resourceUpdated: uri'));
}

function elicit(message, requestedSchema) {
  const schema = schemaText(requestedSchema, 'elicit: requestedSchema');
  const answer = asking(() => running.elicit(requireString(message, 'elicit: message'), schema));
  switch (answer.tag) {
    case 'accept':
      return { action: 'accept', content: parseAnswer(answer.val) };
    case 'decline':
      return { action: 'decline' };
    default:
      return { action: 'cancel' };
  }
}

function sample(request) {
  if (!isPlainObject(request)) {
    throw new TypeError(`sample takes the sampling/createMessage params, an object, not ${shown(request)}`);
  }
  return parseAnswer(asking(() => running.sample(JSON.stringify(request))));
}

function config(key) {
  requireString(key, 'config: key');
  try {
    return configValue(key) ?? undefined;
  } catch (e) {
    const p = payloadOf(e);
    if (p && typeof p === 'object' && typeof p.tag === 'string') {
      throw new ToolError('failed', `cannot read the configuration value ${JSON.stringify(key)}: ${p.tag}: ${p.val}`);
    }
    throw e;
  }
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

/** What a tool, a resource read or a prompt gets for one request. */
function contextOf(ctx) {
  return Object.freeze({
    principal: principalOf(ctx.principal),
    requestId: ctx.requestId,
    bucket: (name) => new Bucket(name),
    apiUrl,
    log,
    reportProgress,
    notifyClient,
    cancelled: () => running.cancelled(),
    resourceUpdated,
    elicit,
    sample,
    config,
  });
}

// ---------------------------------------------------------------------------
// Definitions

const KIND = Symbol('toolhost.kind');

function schemaText(schema, what) {
  let value = schema;
  if (typeof schema === 'string') {
    try {
      value = JSON.parse(schema);
    } catch (e) {
      throw new TypeError(`${what} is not JSON: ${e.message}`);
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${what} must be a JSON Schema object`);
  }
  return JSON.stringify(value);
}

/** Throw if `spec` has a key not in `known`: a misspelt field would be lost silently. */
function knownFields(spec, known, what) {
  const unknown = Object.keys(spec).filter((k) => !known.includes(k));
  if (unknown.length) {
    throw new TypeError(`${what}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ')})`);
  }
}

function specObject(spec, what) {
  if (!isPlainObject(spec)) throw new TypeError(`${what} takes an object, not ${shown(spec)}`);
  return spec;
}

/** A tool's or a prompt's name, checked against the host's rule. */
function checkName(name, what) {
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_]{0,63}$/.test(name)) {
    throw new TypeError(`${what} name must be snake_case, 1 to 64 characters, not ${JSON.stringify(name) ?? String(name)}`);
  }
  return name;
}

function rolesOf(roles, what) {
  if (roles === undefined) return [];
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string' || !r || /\s/.test(r))) {
    throw new TypeError(`${what}: roles must be a list of role names (non-empty, no white space), not ${shown(roles)}`);
  }
  return [...roles];
}

function description(value, what) {
  if (typeof value !== 'string' || !value.trim()) {
    throw new TypeError(`${what}: description must be a non-empty string, not ${shown(value)}`);
  }
  return value;
}

function fn(value, field, what) {
  if (typeof value !== 'function') throw new TypeError(`${what}: ${field} must be a function, not ${shown(value)}`);
  return value;
}

const ANNOTATIONS = ['readOnly', 'destructive', 'idempotent', 'openWorld'];

function annotationsOf(annotations, what) {
  if (annotations === undefined) annotations = {};
  if (!isPlainObject(annotations)) throw new TypeError(`${what}: annotations must be an object, not ${shown(annotations)}`);
  knownFields(annotations, ANNOTATIONS, `${what}: annotations`);
  const hints = {};
  for (const key of ANNOTATIONS) {
    const v = annotations[key];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new TypeError(`${what}: annotations.${key} must be true, false or undefined, not ${shown(v)}`);
    }
    hints[key] = v;
  }
  return hints;
}

function apisOf(apis, what) {
  if (apis === undefined) return [];
  if (!Array.isArray(apis) || apis.some((a) => typeof a !== 'string' || !/^[a-z][a-z0-9_]{0,31}$/.test(a))) {
    throw new TypeError(
      `${what}: apis must be a list of API names (1 to 32 of a-z, 0-9, '_', starting with a letter), not ${shown(apis)}`,
    );
  }
  return [...apis];
}

const TOOL_FIELDS = ['name', 'title', 'description', 'inputSchema', 'outputSchema', 'roles', 'annotations', 'apis', 'call', 'render'];

/**
 * Define a tool: `{ name, title?, description, inputSchema?, outputSchema?,
 * roles?, annotations?, apis?, call(ctx, args), render?(output) }`. Export it
 * as the module's default, or list it in `defineComponent({ tools })`.
 */
export function defineTool(spec) {
  specObject(spec, 'defineTool');
  const name = checkName(spec.name, 'tool');
  const what = `defineTool(${name})`;
  knownFields(spec, TOOL_FIELDS, what);
  const call = fn(spec.call, 'call(ctx, args)', what);
  const render = spec.render === undefined ? (output) => JSON.stringify(output) : fn(spec.render, 'render(output)', what);
  const apis = apisOf(spec.apis, what);
  const info = {
    name,
    title: optionalString(spec.title, `${what}: title`),
    description: description(spec.description, what),
    inputSchema: schemaText(spec.inputSchema ?? { type: 'object' }, `${what}: inputSchema`),
    outputSchema: spec.outputSchema === undefined ? undefined : schemaText(spec.outputSchema, `${what}: outputSchema`),
    roles: rolesOf(spec.roles, what),
    annotations: annotationsOf(spec.annotations, what),
    extensions: apis.length ? [{ key: 'apis', value: JSON.stringify(apis) }] : [],
  };
  return Object.freeze({ [KIND]: 'tool', info, call, render });
}

const RESOURCE_FIELDS = ['uri', 'uriTemplate', 'name', 'title', 'description', 'mimeType', 'roles', 'read'];
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/**
 * Define a resource: `{ uri, name, title?, description?, mimeType?, roles?,
 * read(ctx, request) }` for the one at `uri`, or the same with `uriTemplate`
 * (e.g. `notes://{id}`) for every URI that matches the template. List it in
 * `defineComponent({ resources })`.
 */
export function defineResource(spec) {
  specObject(spec, 'defineResource');
  const template = spec.uriTemplate !== undefined;
  if (template === (spec.uri !== undefined)) {
    throw new TypeError('defineResource takes either uri (one resource) or uriTemplate (a template), not both or neither');
  }
  const field = template ? 'uriTemplate' : 'uri';
  const key = requireString(spec[field], `defineResource: ${field}`);
  const what = `defineResource(${key})`;
  if (!SCHEME.test(key)) throw new TypeError(`${what}: ${field} must be an absolute URI (scheme:...)`);
  if (template && !/\{\+?[^{}]+\}/.test(key)) {
    throw new TypeError(`${what}: uriTemplate has no {name} expression: use uri for a single resource`);
  }
  knownFields(spec, RESOURCE_FIELDS, what);
  const name = requireString(spec.name, `${what}: name`);
  if (!name.trim()) throw new TypeError(`${what}: name is empty`);
  const info = {
    [template ? 'uriTemplate' : 'uri']: key,
    name,
    title: optionalString(spec.title, `${what}: title`),
    description: optionalString(spec.description, `${what}: description`),
    mimeType: optionalString(spec.mimeType, `${what}: mimeType`),
    roles: rolesOf(spec.roles, what),
    extensions: [],
  };
  return Object.freeze({ [KIND]: 'resource', template, key, info, read: fn(spec.read, 'read(ctx, request)', what) });
}

const PROMPT_FIELDS = ['name', 'title', 'description', 'arguments', 'roles', 'get'];
const ARGUMENT_FIELDS = ['name', 'title', 'description', 'required'];

function promptArguments(args, what) {
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new TypeError(`${what}: arguments must be a list, not ${shown(args)}`);
  const seen = new Set();
  return args.map((a, i) => {
    specObject(a, `${what}: arguments[${i}]`);
    knownFields(a, ARGUMENT_FIELDS, `${what}: arguments[${i}]`);
    if (typeof a.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(a.name)) {
      throw new TypeError(`${what}: arguments[${i}].name must be 1 to 64 of a-z A-Z 0-9 _ -, not ${shown(a.name)}`);
    }
    if (seen.has(a.name)) throw new TypeError(`${what}: argument ${JSON.stringify(a.name)} is declared twice`);
    seen.add(a.name);
    if (a.required !== undefined && typeof a.required !== 'boolean') {
      throw new TypeError(`${what}: arguments[${i}].required must be true or false, not ${shown(a.required)}`);
    }
    return {
      name: a.name,
      title: optionalString(a.title, `${what}: arguments[${i}].title`),
      description: optionalString(a.description, `${what}: arguments[${i}].description`),
      required: a.required === true,
    };
  });
}

/**
 * Define a prompt: `{ name, title?, description, arguments?: [{ name,
 * title?, description?, required? }], roles?, get(ctx, args) }`. List it in
 * `defineComponent({ prompts })`.
 */
export function definePrompt(spec) {
  specObject(spec, 'definePrompt');
  const name = checkName(spec.name, 'prompt');
  const what = `definePrompt(${name})`;
  knownFields(spec, PROMPT_FIELDS, what);
  const info = {
    name,
    title: optionalString(spec.title, `${what}: title`),
    description: description(spec.description, what),
    arguments: promptArguments(spec.arguments, what),
    roles: rolesOf(spec.roles, what),
    extensions: [],
  };
  return Object.freeze({ [KIND]: 'prompt', info, get: fn(spec.get, 'get(ctx, args)', what) });
}

/** `items` (made by `define`) by `keyOf`, refusing a key twice. */
function byKey(items, kind, define, keyOf, what) {
  if (items === undefined) return new Map();
  if (!Array.isArray(items)) throw new TypeError(`defineComponent: ${what} must be a list, not ${shown(items)}`);
  const map = new Map();
  items.forEach((item, i) => {
    if (!item || item[KIND] !== kind) {
      throw new TypeError(`defineComponent: ${what}[${i}] is not made by ${define}(...)`);
    }
    const key = keyOf(item);
    if (map.has(key)) throw new TypeError(`defineComponent: ${what}: ${JSON.stringify(key)} is declared twice`);
    map.set(key, item);
  });
  return map;
}

/**
 * Define everything a component serves: `{ tools?, resources?, prompts? }`,
 * lists of what `defineTool`, `defineResource` and `definePrompt` made (at
 * least one in all). Names, URIs and templates must be unique. Export it as
 * the module's default.
 */
export function defineComponent(spec) {
  specObject(spec, 'defineComponent');
  knownFields(spec, ['tools', 'resources', 'prompts'], 'defineComponent');
  const tools = byKey(spec.tools, 'tool', 'defineTool', (t) => t.info.name, 'tools');
  const all = byKey(spec.resources, 'resource', 'defineResource', (r) => r.key, 'resources');
  const prompts = byKey(spec.prompts, 'prompt', 'definePrompt', (p) => p.info.name, 'prompts');
  if (tools.size + all.size + prompts.size === 0) {
    throw new TypeError('defineComponent: a component serves at least one tool, resource or prompt');
  }
  const resources = [...all.values()];
  const fixed = new Map(resources.filter((r) => !r.template).map((r) => [r.key, r]));
  const templates = new Map(resources.filter((r) => r.template).map((r) => [r.key, r]));
  const info = {
    tools: [...tools.values()].map((t) => t.info),
    resources: [...fixed.values()].map((r) => r.info),
    resourceTemplates: [...templates.values()].map((r) => r.info),
    prompts: [...prompts.values()].map((p) => p.info),
    extensions: [],
  };
  return Object.freeze({ [KIND]: 'component', info, tools, fixed, templates, prompts });
}

// ---------------------------------------------------------------------------
// The WIT exports

/** The `tool-error` variant for anything thrown. */
function errorOf(e) {
  if (e instanceof ToolError) return { tag: e.kind, val: e.message };
  if (e instanceof Error) return { tag: 'failed', val: e.message || e.name };
  return { tag: 'failed', val: text(e) };
}

/**
 * `run()` as a WIT result, `{ tag: 'ok' | 'err', val }`, never thrown: the
 * bindings turn an exception without an error payload into a trap.
 */
async function settle(run) {
  try {
    return { tag: 'ok', val: await run() };
  } catch (e) {
    return { tag: 'err', val: errorOf(e) };
  }
}

function outputOf(tool, result) {
  if (result && result[RESULT]) {
    const structured = result.structured === undefined ? undefined : JSON.stringify(result.structured);
    return { content: result.content, structured };
  }
  if (!isPlainObject(result)) {
    throw new ToolError(
      'failed',
      `tool ${tool.info.name} returned ${Array.isArray(result) ? 'an array' : shown(result)}, ` +
        'not a JSON object or a toolResult(...)',
    );
  }
  const structured = JSON.stringify(result);
  const rendered = tool.render(result);
  return { content: [{ tag: 'text', val: typeof rendered === 'string' ? rendered : text(rendered) }], structured };
}

/** One part of a resource's contents as the WIT `embedded-resource`. */
function contentsOf(resource, part, i) {
  const what = `resource ${resource.key}: read returned contents[${i}]`;
  if (!isPlainObject(part)) throw new TypeError(`${what} = ${shown(part)}, not { uri, mimeType?, text | blob }`);
  knownFields(part, ['uri', 'mimeType', 'text', 'blob'], what);
  if ((part.text === undefined) === (part.blob === undefined)) {
    throw new TypeError(`${what} must have either text or blob`);
  }
  return {
    uri: requireString(part.uri, `${what}: uri`),
    mimeType: optionalString(part.mimeType, `${what}: mimeType`) ?? resource.info.mimeType,
    body: part.text !== undefined
      ? { tag: 'text', val: requireString(part.text, `${what}: text`) }
      : { tag: 'blob', val: requireBytes(part.blob, `${what}: blob`) },
  };
}

function promptOutputOf(prompt, out) {
  const what = `prompt ${prompt.info.name}: get returned`;
  if (!isPlainObject(out) || !Array.isArray(out.messages)) {
    throw new TypeError(`${what} ${shown(out)}, not { description?, messages: [...] }`);
  }
  knownFields(out, ['description', 'messages'], what);
  return {
    description: optionalString(out.description, `${what} a description that`),
    messages: out.messages.map((m, i) => {
      if (!isPlainObject(m) || (m.role !== 'user' && m.role !== 'assistant')) {
        throw new TypeError(`${what} messages[${i}] = ${shown(m)}, not { role: 'user' | 'assistant', content }`);
      }
      knownFields(m, ['role', 'content'], `${what} messages[${i}]`);
      return { role: m.role, content: blockOf(m.content, `${what} messages[${i}].content`) };
    }),
  };
}

/** What the module's default export serves, as a component. */
function componentOf(served) {
  switch (served?.[KIND]) {
    case 'component':
      return served;
    case 'tool':
      return defineComponent({ tools: [served] });
    case 'resource':
      return defineComponent({ resources: [served] });
    case 'prompt':
      return defineComponent({ prompts: [served] });
    default:
      throw new TypeError(
        'the module must `export default defineComponent({ ... })` (or defineTool, defineResource, definePrompt), ' +
          `not ${shown(served)}`,
      );
  }
}

/**
 * The WIT exports (`describe`, `call`, `readResource`, `getPrompt`) of what
 * the module's default export serves. Used by the module build.mjs
 * generates; a tool does not call it.
 */
export function exportsOf(served) {
  const component = componentOf(served);
  return {
    describe: () => component.info,

    call: (ctx, name, args) =>
      settle(async () => {
        const tool = component.tools.get(name);
        if (!tool) throw new ToolError('failed', `this component has no tool ${JSON.stringify(name)}`);
        let input;
        try {
          input = JSON.parse(args);
        } catch (e) {
          throw new ToolError('invalid-input', `arguments are not JSON: ${e.message}`);
        }
        return outputOf(tool, await tool.call(contextOf(ctx), input));
      }),

    readResource: (ctx, request) =>
      settle(async () => {
        const template = request.template ?? undefined;
        const resource = template === undefined ? component.fixed.get(request.uri) : component.templates.get(template);
        if (!resource) {
          throw new ToolError('not-found', `this component has no resource ${JSON.stringify(template ?? request.uri)}`);
        }
        const vars = Object.freeze(Object.fromEntries(request.variables));
        const read = await resource.read(contextOf(ctx), Object.freeze({ uri: request.uri, template, vars }));
        const parts = Array.isArray(read) ? read : [read];
        if (parts.length === 0) throw new TypeError(`resource ${resource.key}: read returned no contents`);
        return parts.map((part, i) => contentsOf(resource, part, i));
      }),

    getPrompt: (ctx, name, args) =>
      settle(async () => {
        const prompt = component.prompts.get(name);
        if (!prompt) throw new ToolError('not-found', `this component has no prompt ${JSON.stringify(name)}`);
        const values = Object.freeze(Object.fromEntries(args));
        return promptOutputOf(prompt, await prompt.get(contextOf(ctx), values));
      }),
  };
}
