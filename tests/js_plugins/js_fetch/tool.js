// js_fetch: GET a path under the granted API `app` with plain `fetch`, for
// the tests of outbound HTTP from JavaScript tools.
// Build: sdk/js/build.sh tests/js_plugins/js_fetch target/polyglot/js_fetch.wasm
import { defineTool, ToolError } from 'toolhost';

/** The most of the answer's body returned, in characters. */
const MAX_BODY = 100_000;

export default defineTool({
  name: 'js_fetch',
  description: 'GET `path` under the API "app" granted to this tool and return the status and body.',
  apis: ['app'],
  inputSchema: {
    type: 'object',
    properties: { path: { type: 'string', description: 'Appended to the API\'s base URL.' } },
    required: ['path'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      status: { type: 'integer' },
      body: { type: 'string', description: `The body as text, at most ${MAX_BODY} characters.` },
    },
    required: ['status', 'body'],
  },

  async call(ctx, { path }) {
    const url = ctx.apiUrl('app') + path;
    let response;
    try {
      response = await fetch(url);
    } catch (e) {
      throw new ToolError('failed', `fetch ${url} failed: ${e?.message ?? e}`);
    }
    const body = await response.text();
    return { status: response.status, body: body.slice(0, MAX_BODY) };
  },
});
