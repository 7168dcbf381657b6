// js_served: one JavaScript component serving what contract 0.2 offers, for
// the tests of the JavaScript kit: tools with annotations and every kind of
// content, progress, client logging, cancellation, configuration and asks;
// a fixed resource, a template reading the caller's notes (those the Rust
// notes_create writes), and a prompt.
// Build: sdk/js/build.sh tests/js_plugins/js_served target/polyglot/js_served.wasm
import { AskError, Content, defineComponent, definePrompt, defineResource, defineTool, toolResult, ToolError } from 'toolhost';

/** A 1x1 transparent PNG. */
const PNG = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
  0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
  0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
  0x42, 0x60, 0x82,
]);

const media = defineTool({
  name: 'js_media',
  title: 'Media',
  description: 'Return a picture, an embedded text resource and a link, with the caller in the structured result.',
  annotations: { readOnly: true, destructive: false, idempotent: true, openWorld: false },
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  outputSchema: {
    type: 'object',
    properties: { subject: { type: 'string' }, blocks: { type: 'integer' } },
    required: ['subject', 'blocks'],
  },
  call(ctx) {
    return toolResult(
      [
        'a picture and a note',
        Content.image(PNG, 'image/png'),
        Content.embeddedText('jsserved://about', 'text/plain', `made for ${ctx.principal.subject}`),
        Content.resourceLink('jsserved://about', 'about', { title: 'About', mimeType: 'text/plain' }),
      ],
      { subject: ctx.principal.subject, blocks: 4 },
    );
  },
});

const steps = defineTool({
  name: 'js_steps',
  title: 'Steps',
  description: 'Report progress three times, tell the client once, say `jsserved://about` changed, and greet with the operator\'s `greeting`.',
  annotations: { readOnly: true, openWorld: false },
  inputSchema: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 50 } },
    required: ['name'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      greeting: { type: 'string' },
      steps: { type: 'integer' },
      configured: { type: 'boolean', description: 'Whether the operator set `greeting`.' },
    },
    required: ['greeting', 'steps', 'configured'],
  },
  call(ctx, { name }) {
    let done = 0;
    for (let i = 1; i <= 3; i++) {
      if (ctx.cancelled()) throw new ToolError('failed', `cancelled after ${done} steps`);
      done = i;
      ctx.reportProgress(i, 3, `step ${i} of 3`);
    }
    ctx.notifyClient('info', { done, name }, 'js_steps');
    // Its subscribers hear that the about page changed.
    ctx.resourceUpdated('jsserved://about');
    const configured = ctx.config('greeting');
    return { greeting: `${configured ?? 'Hello'}, ${name}!`, steps: done, configured: configured !== undefined };
  },
  render: ({ greeting, steps: n }) => `${greeting} (${n} steps)`,
});

const ask = defineTool({
  name: 'js_ask',
  title: 'Ask',
  description: 'Ask the user for their name (elicitation) and say what they answered, or why they could not be asked.',
  annotations: { readOnly: true },
  inputSchema: { type: 'object', properties: {}, additionalProperties: false },
  call(ctx) {
    try {
      const answer = ctx.elicit('What is your name?', {
        type: 'object',
        properties: { name: { type: 'string', description: 'Your name' } },
        required: ['name'],
      });
      return { action: answer.action, name: answer.action === 'accept' ? answer.content.name : null };
    } catch (e) {
      if (e instanceof AskError) return { action: 'not asked', reason: e.message };
      throw e;
    }
  },
});

const about = defineResource({
  uri: 'jsserved://about',
  name: 'about',
  title: 'About js_served',
  description: 'What this component is.',
  mimeType: 'text/plain',
  read(ctx, request) {
    return { uri: request.uri, text: `js_served, read by ${ctx.principal.subject}` };
  },
});

const note = defineResource({
  uriTemplate: 'jsnotes://{id}',
  name: 'js-note',
  title: 'A note (JavaScript)',
  description: "One of the caller's notes, by id, as Markdown and as the stored JSON.",
  mimeType: 'text/markdown',
  read(ctx, { uri, vars }) {
    const stored = ctx.bucket('notes').getJson(`note:${vars.id}`);
    if (stored === undefined) throw new ToolError('not-found', `no note with id ${JSON.stringify(vars.id)}`);
    return [
      { uri, text: `# ${stored.title}\n\n${stored.body}\n` },
      { uri, mimeType: 'application/json', blob: new TextEncoder().encode(JSON.stringify(stored)) },
    ];
  },
});

const brainstorm = definePrompt({
  name: 'js_brainstorm',
  title: 'Brainstorm',
  description: 'Ask the model for ideas about a topic.',
  arguments: [
    { name: 'topic', title: 'Topic', description: 'What to brainstorm about', required: true },
    { name: 'count', description: 'How many ideas (default 3)' },
  ],
  get(ctx, { topic, count = '3' }) {
    return {
      description: `Ideas about ${topic}`,
      messages: [
        { role: 'user', content: `Give me ${count} ideas about ${topic}.` },
        { role: 'assistant', content: Content.text(`Here are ${count} ideas about ${topic} for ${ctx.principal.subject}:`) },
      ],
    };
  },
});

export default defineComponent({
  tools: [media, steps, ask],
  resources: [about, note],
  prompts: [brainstorm],
});
