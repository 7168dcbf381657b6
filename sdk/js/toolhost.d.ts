// Types of the toolhost JavaScript helper (module 'toolhost') and of the WIT
// contract it wraps (wit/0.1/plugin.wit, package toolhost:plugin@0.1.0).
//
// Editors pick them up with a jsconfig.json/tsconfig.json in the plugin:
//   { "compilerOptions": { "checkJs": true, "module": "es2022", "target": "es2022",
//       "paths": { "toolhost": ["../../sdk/js/toolhost.d.ts"] } } }

declare module 'toolhost' {
  /** The kinds of `tool-error`, as the client sees them. */
  export type ErrorKind = 'invalid-input' | 'forbidden' | 'not-found' | 'failed';
  export const ERROR_KINDS: readonly ErrorKind[];

  /** A failure the client sees as `kind` with `message`. */
  export class ToolError extends Error {
    constructor(kind: ErrorKind, message: string);
    readonly kind: ErrorKind;
  }

  /** A store operation failed: a limit was broken (`invalid`) or the backend failed. */
  export class StoreError extends Error {
    readonly kind: 'invalid' | 'backend';
  }

  /** Log lines that land in the host's log, tagged with the tool and the request. */
  export interface Log {
    trace(...parts: unknown[]): void;
    debug(...parts: unknown[]): void;
    info(...parts: unknown[]): void;
    warn(...parts: unknown[]): void;
    error(...parts: unknown[]): void;
  }
  export const log: Log;

  /** One key with its value (bytes). */
  export class Entry {
    readonly key: string;
    readonly value: Uint8Array;
    /** The value as UTF-8 text (a `failed` ToolError if it is not). */
    text(): string;
    /** The value parsed as JSON (a `failed` ToolError if it is not). */
    json<T = any>(): T;
  }

  export interface ScanOptions {
    /** Only keys that start with this. Default: every key. */
    prefix?: string;
    /** Continue after this key (exclusive). */
    startAfter?: string;
    /** Descending key order. */
    reverse?: boolean;
  }

  /** The caller's keys in one bucket; the host scopes every key to the caller. */
  export class Bucket {
    readonly name: string;
    get(key: string): Uint8Array | undefined;
    getText(key: string): string | undefined;
    getJson<T = any>(key: string): T | undefined;
    /** Store a string (as UTF-8) or bytes. Durable when this returns. */
    set(key: string, value: string | Uint8Array | ArrayBufferView | ArrayBuffer): void;
    /** Store a value as JSON. Durable when this returns. */
    putJson(key: string, value: unknown): void;
    /** Remove `key`; true if it existed. */
    delete(key: string): boolean;
    /** One page of at most `limit` entries (default and cap: the host's maximum page). */
    scan(options?: ScanOptions & { limit?: number }): Entry[];
    /** Every matching entry, read `pageSize` entries per host call (default: the maximum). */
    scanAll(options?: ScanOptions & { pageSize?: number }): Generator<Entry, void, undefined>;
  }

  /** The largest page the host returns for one scan. */
  export function maxScanLimit(): number;

  /** The verified caller; a tool cannot forge it. */
  export interface Principal {
    readonly subject: string;
    readonly roles: readonly string[];
    readonly scopes: readonly string[];
    readonly clientId?: string;
    readonly orgId?: string;
    readonly email?: string;
    hasRole(role: string): boolean;
  }

  /** What a tool gets for one call. */
  export interface Context {
    readonly principal: Principal;
    /** Unique per call; the host logs it too. */
    readonly requestId: string;
    /** The caller's data in bucket `name` (shared between tools by name, never between callers). */
    bucket(name: string): Bucket;
    /**
     * The base URL of the API `name` granted to this tool (`[tools.<tool>] apis`), always
     * ending in `/`: append a relative path and pass it to `fetch`. Throws a `failed`
     * ToolError naming the missing grant when the API is not granted.
     */
    apiUrl(name: string): string;
    readonly log: Log;
  }

  /** A JSON Schema, as an object or as JSON text. */
  export type JsonSchema = Record<string, unknown> | string;

  export interface ToolSpec<Args = any, Output extends object = Record<string, unknown>> {
    /** snake_case, 1 to 64 characters, unique in the host. */
    name: string;
    title?: string;
    /** What the tool does, for the model that decides to call it. */
    description: string;
    /** The arguments object; the host validates every call against it. Default `{ "type": "object" }`. */
    inputSchema?: JsonSchema;
    /** The structured result. */
    outputSchema?: JsonSchema;
    /** Roles allowed to call the tool by default (any of them); empty: any authenticated caller. */
    roles?: string[];
    /** Run the tool: return the structured result (a JSON object); throw ToolError to fail. */
    call(ctx: Context, args: Args): Output | Promise<Output>;
    /** The text shown to clients; default: the result's JSON. */
    render?(output: Output): string;
  }

  export interface Tool {
    readonly info: import('toolhost:plugin/types@0.1.0').ToolInfo;
  }

  /** Define the component's tool; export it as the module's default. */
  export function defineTool<Args = any, Output extends object = Record<string, unknown>>(
    spec: ToolSpec<Args, Output>,
  ): Tool;

  /** The WIT exports of a tool (used by the build, not by tools). */
  export function exportsOf(tool: Tool): {
    describe(): import('toolhost:plugin/types@0.1.0').ToolInfo;
    call(
      ctx: import('toolhost:plugin/types@0.1.0').CallContext,
      args: string,
    ): Promise<
      | { tag: 'ok'; val: import('toolhost:plugin/types@0.1.0').ToolOutput }
      | { tag: 'err'; val: import('toolhost:plugin/types@0.1.0').ToolError }
    >;
  };
}

// The WIT contract as the component's JavaScript sees it.

declare module 'toolhost:plugin/types@0.1.0' {
  export interface Principal {
    subject: string;
    roles: Array<string>;
    scopes: Array<string>;
    clientId?: string;
    orgId?: string;
    email?: string;
  }
  export interface CallContext {
    principal: Principal;
    requestId: string;
  }
  export interface ToolInfo {
    name: string;
    title?: string;
    description: string;
    /** JSON Schema as JSON text. */
    inputSchema: string;
    /** JSON Schema as JSON text. */
    outputSchema?: string;
    roles: Array<string>;
  }
  export interface Image {
    data: Uint8Array;
    mimeType: string;
  }
  export type Content = { tag: 'text'; val: string } | { tag: 'image'; val: Image };
  export interface ToolOutput {
    content: Array<Content>;
    /** JSON object as text. */
    structured?: string;
  }
  export type ToolError =
    | { tag: 'invalid-input'; val: string }
    | { tag: 'forbidden'; val: string }
    | { tag: 'not-found'; val: string }
    | { tag: 'failed'; val: string };
}

declare module 'toolhost:plugin/store@0.1.0' {
  export type StoreError = { tag: 'invalid'; val: string } | { tag: 'backend'; val: string };
  export interface Entry {
    key: string;
    value: Uint8Array;
  }
  export interface ScanRequest {
    prefix: string;
    startAfter?: string;
    limit: number;
    reverse: boolean;
  }
  /** The largest `limit` a scan may ask for. */
  export function maxScanLimit(): number;
  /** Throws an error whose `payload` is a StoreError (also for the functions below). */
  export function get(bucket: string, key: string): Uint8Array | undefined;
  export function set(bucket: string, key: string, value: Uint8Array): void;
  function _delete(bucket: string, key: string): boolean;
  export { _delete as delete };
  export function scan(bucket: string, request: ScanRequest): Array<Entry>;
}

declare module 'wasi:cli/environment@0.2.10' {
  /** The tool's environment: the host puts only `TOOLHOST_API_<NAME>_URL` there. */
  export function getEnvironment(): Array<[string, string]>;
  export function getArguments(): Array<string>;
  export function initialCwd(): string | undefined;
}

declare module 'toolhost:plugin/log@0.1.0' {
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
  export function write(level: Level, message: string): void;
}
