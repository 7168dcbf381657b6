// Build a JavaScript tool into a toolhost component.
//
//   node sdk/js/build.mjs <plugin-dir | entry.js> <out.wasm> [--wit <dir>]
//
// The entry is <plugin-dir>/tool.js (or package.json "main"); it must
// `export default defineComponent({...})` (or defineTool, defineResource,
// definePrompt) and may import 'toolhost', relative modules and its own
// node_modules. The entry is bundled with the helper (esbuild) and turned
// into a component (componentize-js) of the world toolhost:plugin/tools@0.2.0
// (which imports wasi:config/store from the contract's deps/) plus
// wasi:cli/environment, where `ctx.apiUrl` finds the URLs of the APIs
// granted to the tool. Outbound HTTP is on: `fetch`
// goes out over wasi:http/outgoing-handler, and the host decides each
// request. Fetch events (incoming HTTP) are off: a tool is not an HTTP
// handler. The output is written atomically.
// Installs nothing: run build.sh (or `npm ci` in this directory) first.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { copyFile, cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// The contract's world, and the kit's world of the same name that adds
// wasi:cli/environment to it.
const WORLD = 'tools';
// The version of wasi:cli/environment in wit/deps/wasi-cli: the one the
// componentize-js engine itself imports, so the component imports it once.
const WASI_CLI = '0.2.10';

class BuildError extends Error {}

function fail(message) {
  throw new BuildError(message);
}

function usage() {
  fail('usage: node build.mjs <plugin-dir | entry.js> <out.wasm> [--wit <dir>]');
}

function parseArgs(argv) {
  const positional = [];
  let wit = join(here, '..', '..', 'wit', '0.2');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--wit') {
      wit = argv[++i] ?? usage();
    } else if (argv[i] === '-h' || argv[i] === '--help') {
      usage();
    } else {
      positional.push(argv[i]);
    }
  }
  if (positional.length !== 2) usage();
  return { plugin: resolve(positional[0]), out: resolve(positional[1]), wit: resolve(wit) };
}

function entryOf(plugin) {
  if (!existsSync(plugin)) fail(`${plugin} does not exist`);
  if (statSync(plugin).isFile()) return plugin;
  const pkg = join(plugin, 'package.json');
  if (existsSync(pkg)) {
    const main = JSON.parse(readFileSync(pkg, 'utf8')).main;
    if (main) return join(plugin, main);
  }
  const entry = join(plugin, 'tool.js');
  if (!existsSync(entry)) fail(`${plugin} has no tool.js (nor a package.json "main")`);
  return entry;
}

/**
 * The WIT the component is built against, under `work`: the contract in
 * `wit` as a dependency, its own dependencies (`wit/deps/*`, e.g.
 * wasi:config) and the kit's beside it in one flat `deps/`, and a world
 * `tools` that includes the contract's `tools` world and imports
 * wasi:cli/environment. Returns the directory.
 */
async function kitWit(wit, work) {
  const files = readdirSync(wit).filter((f) => f.endsWith('.wit'));
  if (files.length === 0) fail(`WIT directory ${wit} has no .wit files`);
  const pkg = files
    .map((f) => /^\s*package\s+([^;\s]+)\s*;/m.exec(readFileSync(join(wit, f), 'utf8'))?.[1])
    .find(Boolean);
  if (!pkg) fail(`no .wit file in ${wit} declares a package`);
  const [name, version] = pkg.split('@');
  const dir = join(work, 'wit');
  const contract = join(dir, 'deps', 'toolhost-contract');
  await mkdir(contract, { recursive: true });
  for (const f of files) await copyFile(join(wit, f), join(contract, f));
  if (existsSync(join(wit, 'deps'))) await cp(join(wit, 'deps'), join(dir, 'deps'), { recursive: true });
  await cp(join(here, 'wit', 'deps'), join(dir, 'deps'), { recursive: true });
  await writeFile(join(dir, 'kit.wit'), [
    'package toolhost:js-kit;',
    '',
    `world ${WORLD} {`,
    `  include ${name}/${WORLD}${version ? `@${version}` : ''};`,
    `  import wasi:cli/environment@${WASI_CLI};`,
    '}',
    '',
  ].join('\n'));
  return dir;
}

async function toolchain() {
  const need = ['@bytecodealliance/componentize-js', 'esbuild'];
  const missing = need.filter((p) => !existsSync(join(here, 'node_modules', p, 'package.json')));
  if (missing.length) {
    fail(`${missing.join(' and ')} not installed in ${join(here, 'node_modules')}; ` +
      `run ${join(here, 'build.sh')} (it installs them) or \`npm ci --prefix ${here}\``);
  }
  const { componentize } = await import('@bytecodealliance/componentize-js');
  const esbuild = await import('esbuild');
  return { componentize, esbuild };
}

async function main() {
  const { plugin, out, wit } = parseArgs(process.argv.slice(2));
  const entry = entryOf(plugin);
  if (!existsSync(wit)) fail(`WIT directory ${wit} does not exist`);
  const { componentize, esbuild } = await toolchain();

  const work = await mkdtemp(join(tmpdir(), 'toolhost-js-'));
  try {
    // The module componentize-js sees: what the default export serves,
    // exported as the world's `describe`, `call`, `read-resource` and
    // `get-prompt`.
    const bundled = join(work, 'component.js');
    const result = await esbuild.build({
      stdin: {
        contents: [
          `import served from ${JSON.stringify(entry)};`,
          `import { exportsOf } from 'toolhost';`,
          `const world = exportsOf(served);`,
          `export function describe() { return world.describe(); }`,
          `export function call(ctx, tool, args) { return world.call(ctx, tool, args); }`,
          `export function readResource(ctx, request) { return world.readResource(ctx, request); }`,
          `export function getPrompt(ctx, name, args) { return world.getPrompt(ctx, name, args); }`,
        ].join('\n'),
        resolveDir: dirname(entry),
        sourcefile: 'toolhost-entry.js',
        loader: 'js',
      },
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      alias: { toolhost: join(here, 'toolhost.js') },
      external: ['toolhost:*', 'wasi:*'],
      outfile: bundled,
      logLevel: 'silent',
    }).catch((e) => {
      const errors = e.errors?.map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
      const hint = errors?.some((m) => m.includes('for import "default"'))
        ? '\n  (the module must `export default defineComponent({ ... })` or `defineTool({ ... })`)'
        : '';
      fail(`cannot bundle ${entry}:\n  ${(errors ?? [e.message]).join('\n  ')}${hint}`);
    });
    for (const w of result.warnings) console.error(`build: warning: ${w.text}`);

    let component;
    process.env.TMPDIR = work; // componentize-js's own scratch files go with ours
    try {
      ({ component } = await componentize({
        sourcePath: bundled,
        witPath: await kitWit(wit, work),
        worldName: WORLD,
        disableFeatures: ['fetch-event'],
      }));
    } catch (e) {
      fail(`cannot make a component of ${entry}: ${e.message ?? e}`);
    }

    await mkdir(dirname(out), { recursive: true });
    const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
    try {
      await writeFile(tmp, component);
      await rename(tmp, out);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    console.error(`build: wrote ${out} (${(component.length / 1048576).toFixed(1)} MiB)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (e) {
  console.error(`build: ${e instanceof BuildError ? e.message : (e?.stack ?? e)}`);
  process.exitCode = 2;
}
