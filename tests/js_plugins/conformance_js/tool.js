// conformance_js: the content, error, logging and progress tools the official
// MCP conformance suite calls, as one JavaScript 0.2 component: each returns
// what its scenario checks for (the same as the Rust fixtures did). The
// suite's other fixtures are `tests/plugins/conformance_tools` and
// `conformance_served` (Rust) and `tests/py_plugins/conformance_py` (Python).
// Build: sdk/js/build.sh tests/js_plugins/conformance_js target/polyglot/conformance_js.wasm
import { Content, defineComponent, defineTool, toolResult, ToolError } from 'toolhost';

/** A 1x1 transparent PNG. */
const PNG = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
  0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
  0x42, 0x60, 0x82,
]);

/** A WAV header with no samples (each character of the string is one byte). */
const WAV = Uint8Array.from(
  'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00' +
    '\x02\x00\x10\x00data\x00\x00\x00\x00',
  (c) => c.charCodeAt(0),
);

/** No arguments (any object is accepted), and nothing structured back: the scenarios read content. */
const NOTHING = { type: 'object' };

/**
 * A read-only tool without arguments whose result is what `call(ctx)` returns (content blocks, or
 * text) and an empty structured result.
 */
function fixed(name, description, call) {
  return defineTool({
    name,
    description,
    annotations: { readOnly: true },
    inputSchema: NOTHING,
    outputSchema: NOTHING,
    call: (ctx) => toolResult(call(ctx), {}),
  });
}

const simpleText = fixed('test_simple_text', 'Returns simple text.', () => 'This is a simple text response for testing.');

const image = fixed('test_image_content', 'Returns an image.', () => Content.image(PNG, 'image/png'));

const audio = fixed('test_audio_content', 'Returns audio.', () => Content.audio(WAV, 'audio/wav'));

const embedded = fixed('test_embedded_resource', 'Returns an embedded resource.', () =>
  Content.embeddedText('test://embedded-resource', 'text/plain', 'This is an embedded resource content.'),
);

const mixed = fixed('test_multiple_content_types', 'Returns text, an image and an embedded resource.', () => [
  'Multiple content types test:',
  Content.image(PNG, 'image/png'),
  Content.embeddedText('test://mixed-content-resource', 'application/json', JSON.stringify({ test: 'data', value: 123 })),
]);

const logging = fixed('test_tool_with_logging', 'Sends three log messages while it runs.', (ctx) => {
  for (const message of ['Tool execution started', 'Tool processing data', 'Tool execution completed']) {
    ctx.notifyClient('info', message);
  }
  return 'Tool with logging executed successfully';
});

const failing = defineTool({
  name: 'test_error_handling',
  description: 'Always fails, with a message.',
  annotations: { readOnly: true },
  inputSchema: NOTHING,
  outputSchema: NOTHING,
  call() {
    throw new ToolError('failed', 'This tool intentionally returns an error for testing');
  },
});

const progress = fixed('test_tool_with_progress', 'Reports progress three times.', (ctx) => {
  for (const done of [0, 50, 100]) ctx.reportProgress(done, 100, `${done}% done`);
  return 'Progress test completed';
});

export default defineComponent({
  tools: [simpleText, image, audio, embedded, mixed, logging, failing, progress],
});
