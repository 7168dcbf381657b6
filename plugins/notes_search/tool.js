// notes_search: the caller's notes ranked by relevance to a query.
// Build: sdk/js/build.sh plugins/notes_search target/polyglot/notes_search.wasm
import { defineTool, ToolError } from 'toolhost';

// Words: runs of anything but spaces and punctuation (the engine has no \p{...} classes).
const WORD = /[^\s!-\/:-@[-`{-~\u00a0-\u00bf\u2000-\u206f\u3000-\u303f]+/g;
const TITLE_WEIGHT = 3;

/**
 * How often each of `terms` occurs in `text` as a word, and where the first one is.
 * @param {string} text @param {Set<string>} terms
 */
function matches(text, terms) {
  const tf = new Map();
  let first = -1;
  for (const m of text.matchAll(WORD)) {
    const word = m[0].toLowerCase();
    if (!terms.has(word)) continue;
    tf.set(word, (tf.get(word) ?? 0) + 1);
    if (first < 0) first = m.index;
  }
  return { tf, first };
}

/**
 * About 120 characters of `body` around position `at`, cut at spaces where possible.
 * @param {string} body @param {number} at
 */
function snippet(body, at) {
  let start = Math.max(0, at - 40);
  let end = Math.min(body.length, start + 120);
  const space = body.indexOf(' ', start);
  if (start > 0 && space >= 0 && space < at) start = space + 1;
  const last = body.lastIndexOf(' ', end);
  if (end < body.length && last > at) end = last;
  const text = body.slice(start, end).replace(/\s+/g, ' ').trim();
  return (start > 0 ? '…' : '') + text + (end < body.length ? '…' : '');
}

export default defineTool({
  name: 'notes_search',
  title: 'Search notes',
  description:
    'Search the caller\'s notes for the words of `query` (case-insensitive) and return the best ' +
    'matches, most relevant first: title matches weigh more than body matches; ties go to the newest note.',
  roles: ['member'],
  // It only reads the caller's own notes.
  annotations: { readOnly: true, idempotent: true, openWorld: false },
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: 200, description: 'The words to look for.' },
      limit: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'How many results at most.' },
    },
    required: ['query'],
    additionalProperties: false,
  },
  outputSchema: {
    type: 'object',
    properties: {
      results: {
        type: 'array',
        description: 'Most relevant first.',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            title: { type: 'string' },
            createdAt: { type: 'string', description: 'RFC 3339 UTC.' },
            score: { type: 'number', description: 'Relevance; higher is better.' },
            snippet: { type: 'string', description: 'The text around the first match.' },
          },
          required: ['id', 'title', 'createdAt', 'score', 'snippet'],
        },
      },
      scanned: { type: 'integer', description: 'How many notes were searched.' },
    },
    required: ['results', 'scanned'],
  },

  call(ctx, { query, limit = 10 }) {
    const terms = new Set(Array.from(query.matchAll(WORD), (m) => m[0].toLowerCase()));
    if (terms.size === 0) throw new ToolError('invalid-input', 'the query has no words to look for');
    const hits = [];
    let scanned = 0;
    for (const entry of ctx.bucket('notes').scanAll({ prefix: 'note:' })) {
      scanned += 1;
      const note = entry.json();
      const title = matches(note.title, terms);
      const body = matches(note.body, terms);
      if (title.tf.size === 0 && body.tf.size === 0) continue;
      hits.push({ note, key: entry.key, title: title.tf, body: body.tf, first: body.first });
    }
    // TF-IDF: log-scaled term frequency, rarer terms count more, titles count TITLE_WEIGHT times.
    const df = new Map();
    for (const h of hits) for (const t of new Set([...h.title.keys(), ...h.body.keys()])) df.set(t, (df.get(t) ?? 0) + 1);
    const weight = (/** @type {number | undefined} */ tf) => (tf ? 1 + Math.log(tf) : 0);
    const results = hits.map((h) => {
      let score = 0;
      for (const t of terms) {
        const idf = Math.log(1 + scanned / (df.get(t) ?? 1));
        score += idf * (TITLE_WEIGHT * weight(h.title.get(t)) + weight(h.body.get(t)));
      }
      return { key: h.key, id: h.note.id, title: h.note.title, createdAt: h.note.createdAt,
        score: Math.round(score * 1000) / 1000, snippet: snippet(h.note.body, Math.max(h.first, 0)) };
    });
    results.sort((a, b) => b.score - a.score || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
    ctx.log.debug(`notes_search: ${hits.length} of ${scanned} notes match`);
    return { results: results.slice(0, limit).map(({ key, ...r }) => r), scanned };
  },

  render({ results, scanned }) {
    if (results.length === 0) return `No notes match (searched ${scanned}).`;
    const lines = results.map((r, i) => `${i + 1}. ${r.title} [${r.id}] (${r.createdAt}), score ${r.score}: ${r.snippet}`);
    return `${results.length} best match(es) of ${scanned} notes:\n${lines.join('\n')}`;
  },
});
