// Types of the toolhost JavaScript helper (module 'toolhost') and of the WIT
// contract it wraps (wit/0.2/plugin.wit, package toolhost:plugin@0.2.0).
//
// Editors pick them up with a jsconfig.json/tsconfig.json in the plugin:
//   { "compilerOptions": { "checkJs": true, "module": "es2022", "target": "es2022",
//       "paths": { "toolhost": ["../../sdk/js/toolhost.d.ts"] } } }

declare module 'toolhost' {
  import type * as wit from 'toolhost:plugin/types@0.2.0';

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

  /**
   * The user (or the client's model) could not be asked: the client does not support it, the
   * request's protocol revision has no server-to-client requests (2026-07-28), no answer in time,
   * the call was cancelled, or more than 10 asks in one call. Uncaught, it fails the call as `failed`.
   */
  export class AskError extends Error {
    constructor(message: string);
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

  /** Any JSON value. */
  export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

  /** The severity of a message for the client (MCP's levels), lowest first. */
  export type ClientLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';
  export const CLIENT_LEVELS: readonly ClientLevel[];

  /** What the user answered to `ctx.elicit`. */
  export type Elicitation =
    | { action: 'accept'; content: Record<string, Json> }
    | { action: 'decline' }
    | { action: 'cancel' };

  /** What a tool, a resource read or a prompt gets for one request. */
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
    /**
     * Tell the client how far the call got (MCP progress), when it asked for progress:
     * `progress` must grow from one report to the next (one that does not is dropped), `total`
     * when known. The host sends at most 100 reports per call: report milestones.
     */
    reportProgress(progress: number, total?: number, message?: string): void;
    /**
     * A log message for the client (MCP `notifications/message`), sent only at or above the
     * level the client asked for (default `info`), at most 100 per call. `data` is any JSON value.
     */
    notifyClient(level: ClientLevel, data: Json, logger?: string): void;
    /** Whether the client cancelled the call (or went away): check it between steps. */
    cancelled(): boolean;
    /**
     * Tell the caller's clients that subscribed to the resource at `uri` (one this host serves)
     * that it changed (MCP `notifications/resources/updated`); nobody else's hear it. At most 100
     * per call.
     */
    resourceUpdated(uri: string): void;
    /**
     * Ask the user through the client (MCP elicitation, form mode): `message` says what and
     * why, `requestedSchema` is the form (a JSON Schema object of primitive properties). Waits
     * for the answer, at most 5 minutes. Throws AskError when the user could not be asked.
     * Ask before changing anything: on a 2026-07-28 request the host may run the call again
     * with the answer, repeating what was done before the ask.
     */
    elicit(message: string, requestedSchema: JsonSchema): Elicitation;
    /**
     * Ask the client's model (MCP `sampling/createMessage`): `request` is the request's params
     * (messages, maxTokens, ...); returns the result (role, content, model). Throws AskError
     * like `elicit`. Deprecated by MCP 2026-07-28, where the host refuses it.
     */
    sample(request: Record<string, Json>): Record<string, Json>;
    /**
     * The operator's configuration value `key` for the tool being called
     * (`[tools.<name>.config]`), or undefined when it is not set (always for resource reads
     * and prompts). Keep secrets out of results and logs.
     */
    config(key: string): string | undefined;
  }

  /** A JSON Schema, as an object or as JSON text. */
  export type JsonSchema = Record<string, unknown> | string;

  /** One block of MCP content, shown to the model and the user. */
  export class Content {
    private constructor();
    /** The WIT case: text, image, audio, resource-link, embedded or mcp. */
    readonly kind: wit.Content['tag'];
    /** Text. */
    static text(text: string): Content;
    /** An image, e.g. `Content.image(png, 'image/png')`. */
    static image(data: Uint8Array | ArrayBufferView | ArrayBuffer, mimeType: string): Content;
    /** An audio clip, e.g. `Content.audio(wav, 'audio/wav')`. */
    static audio(data: Uint8Array | ArrayBufferView | ArrayBuffer, mimeType: string): Content;
    /** A link to a resource the client may fetch. */
    static resourceLink(
      uri: string,
      name: string,
      details?: { title?: string; description?: string; mimeType?: string },
    ): Content;
    /** A text resource carried in the result. */
    static embeddedText(uri: string, mimeType: string | undefined, text: string): Content;
    /** A binary resource carried in the result (sent base64-encoded). */
    static embeddedBlob(uri: string, mimeType: string | undefined, data: Uint8Array | ArrayBufferView | ArrayBuffer): Content;
    /** Any MCP content block (an object with a `type` the host knows), for kinds without a function here. */
    static mcp(block: { type: string; [key: string]: unknown }): Content;
  }

  /** A tool's result with content blocks; make it with `toolResult`. */
  export interface ToolResult<Output extends object = Record<string, unknown>> {
    readonly content: readonly wit.Content[];
    readonly structured?: Output;
  }

  /**
   * A result with content blocks (each a Content, or a string for text), and the structured
   * result when given (a JSON object, checked against the tool's `outputSchema`).
   */
  export function toolResult<Output extends object = Record<string, unknown>>(
    content: Content | string | Array<Content | string>,
    structured?: Output,
  ): ToolResult<Output>;

  /** Behaviour hints for clients (MCP tool annotations); undefined leaves the client's default. */
  export interface Annotations {
    /** The tool changes nothing (`readOnlyHint`; default false). */
    readOnly?: boolean;
    /** A change it makes may destroy data (`destructiveHint`; default true). */
    destructive?: boolean;
    /** Calling it again with the same arguments changes nothing more (`idempotentHint`; default false). */
    idempotent?: boolean;
    /** It reaches beyond the caller's own data, e.g. the web (`openWorldHint`; default true). */
    openWorld?: boolean;
  }

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
    /** Hints for clients; the host's policy does not trust them. */
    annotations?: Annotations;
    /** The APIs (`[apis.<name>]`) the tool calls; declaring one grants nothing. */
    apis?: string[];
    /**
     * Run the tool: return the structured result (a JSON object, rendered as text by `render`)
     * or `toolResult(...)`; throw ToolError to fail.
     */
    call(ctx: Context, args: Args): Output | ToolResult<Output> | Promise<Output | ToolResult<Output>>;
    /** The text shown to clients for a plain-object result; default: the result's JSON. */
    render?(output: Output): string;
  }

  /** Made by `defineTool`. */
  export interface Tool {
    readonly info: wit.ToolInfo;
  }

  /** Define a tool; export it as the module's default, or list it in `defineComponent`. */
  export function defineTool<Args = any, Output extends object = Record<string, unknown>>(
    spec: ToolSpec<Args, Output>,
  ): Tool;

  /** Which resource a read is for. */
  export interface ResourceRequest {
    /** The URI the client asked for. */
    readonly uri: string;
    /** The template it matched, as declared; undefined for a fixed resource. */
    readonly template?: string;
    /** The template's values by expression name, percent-decoded (empty for a fixed resource). */
    readonly vars: Readonly<Record<string, string>>;
  }

  /** One part of a resource's contents; `mimeType` defaults to the resource's. */
  export type Contents =
    | { uri: string; mimeType?: string; text: string }
    | { uri: string; mimeType?: string; blob: Uint8Array | ArrayBufferView | ArrayBuffer };

  interface ResourceSpecBase {
    /** Its name, for the client (e.g. a file name). */
    name: string;
    title?: string;
    /** What it holds, for the model. */
    description?: string;
    /** The MIME type of its contents. */
    mimeType?: string;
    /** Roles allowed to read it by default; empty: any authenticated caller. */
    roles?: string[];
    /** Read it for the caller: one or more contents; throw ToolError('not-found', ...) when there is none. */
    read(ctx: Context, request: ResourceRequest): Contents | Contents[] | Promise<Contents | Contents[]>;
  }

  export type ResourceSpec =
    | (ResourceSpecBase & {
        /** The resource's absolute URI (`scheme:...`), unique in the host. */
        uri: string;
        uriTemplate?: never;
      })
    | (ResourceSpecBase & {
        /** An absolute URI with `{name}` (no `/ ? #`) or `{+name}` (no `? #`) expressions, text between two. */
        uriTemplate: string;
        uri?: never;
      });

  /** Made by `defineResource`. */
  export interface Resource {
    readonly info: wit.ResourceInfo | wit.ResourceTemplateInfo;
  }

  /** Define a resource at one URI, or a template of resources; list it in `defineComponent`. */
  export function defineResource(spec: ResourceSpec): Resource;

  export interface PromptArgument {
    /** 1 to 64 of a-z A-Z 0-9 _ -. */
    name: string;
    title?: string;
    description?: string;
    /** The host refuses a request without it. Default false. */
    required?: boolean;
  }

  /** One message of a filled-in prompt: text (a string) or any Content. */
  export interface PromptMessage {
    role: 'user' | 'assistant';
    content: string | Content;
  }

  export interface PromptSpec<Args extends Record<string, string> = Record<string, string>> {
    /** snake_case, 1 to 64 characters, unique in the host. */
    name: string;
    title?: string;
    /** What the prompt is for. */
    description: string;
    /** The arguments it takes, names unique. */
    arguments?: PromptArgument[];
    /** Roles allowed to get it by default; empty: any authenticated caller. */
    roles?: string[];
    /** Fill it in: every required argument is present (the host checks), and no unknown one. */
    get(
      ctx: Context,
      args: Args,
    ):
      | { description?: string; messages: PromptMessage[] }
      | Promise<{ description?: string; messages: PromptMessage[] }>;
  }

  /** Made by `definePrompt`. */
  export interface Prompt {
    readonly info: wit.PromptInfo;
  }

  /** Define a prompt; list it in `defineComponent`. */
  export function definePrompt<Args extends Record<string, string> = Record<string, string>>(
    spec: PromptSpec<Args>,
  ): Prompt;

  /** Made by `defineComponent`. */
  export interface Served {
    readonly info: wit.ComponentInfo;
  }

  /**
   * Everything the component serves (at least one thing; names, URIs and templates unique);
   * export it as the module's default.
   */
  export function defineComponent(spec: { tools?: Tool[]; resources?: Resource[]; prompts?: Prompt[] }): Served;

  type WitResult<T> = Promise<{ tag: 'ok'; val: T } | { tag: 'err'; val: wit.ToolError }>;

  /** The WIT exports of what a module serves (used by the build, not by tools). */
  export function exportsOf(served: Served | Tool | Resource | Prompt): {
    describe(): wit.ComponentInfo;
    call(ctx: wit.CallContext, tool: string, args: string): WitResult<wit.ToolOutput>;
    readResource(ctx: wit.CallContext, request: wit.ResourceRequest): WitResult<wit.EmbeddedResource[]>;
    getPrompt(ctx: wit.CallContext, name: string, args: Array<[string, string]>): WitResult<wit.PromptOutput>;
  };
}

// The WIT contract as the component's JavaScript sees it.

declare module 'toolhost:plugin/types@0.2.0' {
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
  export interface Extension {
    key: string;
    /** JSON text. */
    value: string;
  }
  export interface Annotations {
    readOnly?: boolean;
    destructive?: boolean;
    idempotent?: boolean;
    openWorld?: boolean;
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
    annotations: Annotations;
    extensions: Array<Extension>;
  }
  export interface ResourceInfo {
    uri: string;
    name: string;
    title?: string;
    description?: string;
    mimeType?: string;
    roles: Array<string>;
    extensions: Array<Extension>;
  }
  export interface ResourceTemplateInfo {
    uriTemplate: string;
    name: string;
    title?: string;
    description?: string;
    mimeType?: string;
    roles: Array<string>;
    extensions: Array<Extension>;
  }
  export interface PromptArgument {
    name: string;
    title?: string;
    description?: string;
    required: boolean;
  }
  export interface PromptInfo {
    name: string;
    title?: string;
    description: string;
    arguments: Array<PromptArgument>;
    roles: Array<string>;
    extensions: Array<Extension>;
  }
  export interface ComponentInfo {
    tools: Array<ToolInfo>;
    resources: Array<ResourceInfo>;
    resourceTemplates: Array<ResourceTemplateInfo>;
    prompts: Array<PromptInfo>;
    extensions: Array<Extension>;
  }
  export interface Media {
    data: Uint8Array;
    mimeType: string;
  }
  export interface ResourceLink {
    uri: string;
    name: string;
    title?: string;
    description?: string;
    mimeType?: string;
  }
  export type ResourceBody = { tag: 'text'; val: string } | { tag: 'blob'; val: Uint8Array };
  export interface EmbeddedResource {
    uri: string;
    mimeType?: string;
    body: ResourceBody;
  }
  export type Content =
    | { tag: 'text'; val: string }
    | { tag: 'image'; val: Media }
    | { tag: 'audio'; val: Media }
    | { tag: 'resource-link'; val: ResourceLink }
    | { tag: 'embedded'; val: EmbeddedResource }
    /** An MCP content block as JSON text. */
    | { tag: 'mcp'; val: string };
  export interface ToolOutput {
    content: Array<Content>;
    /** JSON object as text. */
    structured?: string;
  }
  export interface ResourceRequest {
    uri: string;
    template?: string;
    variables: Array<[string, string]>;
  }
  export type MessageRole = 'user' | 'assistant';
  export interface PromptMessage {
    role: MessageRole;
    content: Content;
  }
  export interface PromptOutput {
    description?: string;
    messages: Array<PromptMessage>;
  }
  export type ToolError =
    | { tag: 'invalid-input'; val: string }
    | { tag: 'forbidden'; val: string }
    | { tag: 'not-found'; val: string }
    | { tag: 'failed'; val: string };
}

declare module 'toolhost:plugin/store@0.2.0' {
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

declare module 'toolhost:plugin/log@0.2.0' {
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
  export function write(level: Level, message: string): void;
}

declare module 'toolhost:plugin/call@0.2.0' {
  export type Level = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';
  export function reportProgress(progress: number, total: number | undefined, message: string | undefined): void;
  export function notify(level: Level, logger: string | undefined, data: string): void;
  export function cancelled(): boolean;
  export function resourceUpdated(uri: string): void;
  export type ElicitAnswer = { tag: 'accept'; val: string } | { tag: 'decline' } | { tag: 'cancel' };
  /** Throws an error whose `payload` is the reason (a string) the user could not be asked. */
  export function elicit(message: string, requestedSchema: string): ElicitAnswer;
  /** Throws like `elicit`. */
  export function sample(request: string): string;
}

declare module 'wasi:config/store@0.2.0-rc.1' {
  export type Error = { tag: 'upstream'; val: string } | { tag: 'io'; val: string };
  /** Throws an error whose `payload` is an Error. */
  export function get(key: string): string | undefined;
  export function getAll(): Array<[string, string]>;
}

declare module 'wasi:cli/environment@0.2.10' {
  /** The tool's environment: the host puts only `TOOLHOST_API_<NAME>_URL` there. */
  export function getEnvironment(): Array<[string, string]>;
  export function getArguments(): Array<string>;
  export function initialCwd(): string | undefined;
}
