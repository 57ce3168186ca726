#!/usr/bin/env node
// An independent MCP client for habitus, written against the official TypeScript SDK (v1), to
// prove that a non-Python client can use all five memory tools.
//
// Usage:
//   node client.mjs stdio <habitus-executable> <db-dir>   spawn `habitus --db DIR serve`
//   node client.mjs http <url>                             streamable HTTP, e.g. http://127.0.0.1:PORT/mcp
//   node client.mjs sse <url>                              legacy SSE, e.g. http://127.0.0.1:PORT/sse
//
// The client declares the `roots` capability, as assistants do, and answers roots/list with a
// fresh temporary directory, so every run writes to its own project scope (several runs may share
// one HTTP server). On success it prints one line of JSON and exits 0; on any failure it prints
// `FAIL: ...` on stderr and exits 1 (2 for bad usage).

import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const TOOLS = ['find_procedures', 'forget', 'link', 'recall', 'reflect', 'remember', 'report_outcome', 'submit_trajectory'];
const REQUEST_TIMEOUT_MS = 60_000; // the first call may wait for the store and embedder to open

class Failure extends Error {}

function check(condition, message, detail) {
  if (!condition) {
    const suffix = detail === undefined ? '' : `\n  got: ${JSON.stringify(detail).slice(0, 2000)}`;
    throw new Failure(message + suffix);
  }
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node client.mjs stdio <habitus-executable> <db-dir>\n` +
      '       node client.mjs http <url>\n       node client.mjs sse <url>\n',
  );
  process.exit(2);
}

function sdkVersion() {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@modelcontextprotocol/sdk/client/index.js');
    const root = entry.slice(0, entry.lastIndexOf('/dist/'));
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function makeTransport(mode, args) {
  if (!['stdio', 'http', 'sse'].includes(mode)) usage(`unknown transport: ${mode}`);
  if (mode === 'stdio') {
    if (args.length !== 2) usage('stdio needs <habitus-executable> <db-dir>');
    const [command, db] = args;
    // Like a real host: the SDK's bare default environment plus the server's own settings (an
    // `env` block in a host's config), absolute paths, stderr kept apart from the protocol.
    const env = getDefaultEnvironment();
    for (const [key, value] of Object.entries(process.env)) {
      if (key.startsWith('HABITUS_') && key !== 'HABITUS_DB' && value !== undefined) env[key] = value;
    }
    return new StdioClientTransport({
      command: resolve(command),
      args: ['--db', resolve(db), 'serve'],
      env,
      stderr: 'pipe',
    });
  }
  if (args.length !== 1) usage(`${mode} needs <url>`);
  let url;
  try {
    url = new URL(args[0]);
  } catch {
    usage(`not a URL: ${args[0]}`);
  }
  return mode === 'http' ? new StreamableHTTPClientTransport(url) : new SSEClientTransport(url);
}

/** Call a tool and return its result; with expectError, insist on isError instead of success. */
async function call(client, name, args, { expectError = false } = {}) {
  let result;
  try {
    result = await client.callTool({ name, arguments: args }, undefined, { timeout: REQUEST_TIMEOUT_MS });
  } catch (error) {
    throw new Failure(`${name}(${JSON.stringify(args)}) raised instead of returning a result: ${error.message}`);
  }
  if (expectError) {
    check(result.isError === true, `${name}(${JSON.stringify(args)}) should return isError=true`, result);
    const text = (result.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    check(text.length > 0, `${name} error result should explain the error in text content`, result);
    return result;
  }
  check(!result.isError, `${name}(${JSON.stringify(args)}) returned isError`, result);
  const data = result.structuredContent;
  check(data && typeof data === 'object', `${name} should return structuredContent`, result);
  // Clients without structured-output support read the text block: it must carry the same data.
  const texts = (result.content ?? []).filter((c) => c.type === 'text');
  check(texts.length >= 1, `${name} should also return a text content block`, result);
  let parsed;
  try {
    parsed = JSON.parse(texts[0].text);
  } catch {
    throw new Failure(`${name}: text content is not JSON: ${texts[0].text.slice(0, 300)}`);
  }
  check(JSON.stringify(parsed) === JSON.stringify(data),
    `${name}: text content differs from structuredContent`, { text: parsed, structured: data });
  return data;
}

async function scenario(client, root, rootScopeHint) {
  const steps = [];

  // 1. tools/list: the five tools, with the right annotations.
  const { tools } = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  check(JSON.stringify(Object.keys(byName).sort()) === JSON.stringify(TOOLS),
    `tools/list should give exactly ${TOOLS.join(', ')}`, Object.keys(byName));
  for (const tool of tools) {
    check(tool.inputSchema?.type === 'object', `${tool.name} needs an object inputSchema`, tool);
    check(tool.outputSchema?.type === 'object', `${tool.name} needs an object outputSchema`, tool);
    check(typeof tool.description === 'string' && tool.description.length > 0, `${tool.name} needs a description`);
  }
  check(byName.recall.annotations?.readOnlyHint === true, 'recall should be annotated readOnlyHint=true', byName.recall.annotations);
  check(byName.forget.annotations?.destructiveHint === true, 'forget should be annotated destructiveHint=true', byName.forget.annotations);
  check(byName.remember.annotations?.readOnlyHint === false, 'remember should not be readOnlyHint', byName.remember.annotations);
  check(byName.recall.inputSchema.required?.includes('query'), 'recall should require query', byName.recall.inputSchema);
  steps.push('list');

  // 2. remember two memories.
  const deploy = await call(client, 'remember', {
    content: 'Deployments run scripts/deploy.sh with AWS_PROFILE=staging; production needs a manual approval.',
    kind: 'procedural',
    tags: ['deploy', 'ops'],
    importance: 0.8,
  });
  check(typeof deploy.id === 'string' && deploy.id.length > 0, 'remember should return an id', deploy);
  check(deploy.status === 'created', 'first remember should have status created', deploy);
  check(deploy.kind === 'procedural', 'remember should echo the kind', deploy);
  const lint = await call(client, 'remember', {
    content: 'The Python code style is enforced by ruff with a line length of 100 characters.',
    tags: ['style'],
  });
  check(lint.status === 'created' && lint.id !== deploy.id, 'second remember should create a new memory', lint);
  check(lint.kind === 'semantic', 'default kind should be semantic', lint);
  check(deploy.scope === lint.scope, 'both memories should land in the same scope', [deploy.scope, lint.scope]);
  // The scope comes from the roots this client announced (unless HABITUS_SCOPE overrides it).
  if (rootScopeHint) {
    check(deploy.scope.includes(rootScopeHint),
      `the project scope should come from the client's root ${root}`, deploy.scope);
  }
  const again = await call(client, 'remember', {
    content: 'The Python code style is enforced by ruff with a line length of 100 characters.',
  });
  check(again.id === lint.id && again.status === 'reinforced', 'remembering the same content should reinforce it', again);
  steps.push('remember');

  // 3. recall: the deploy memory comes first.
  const found = await call(client, 'recall', { query: 'how do I deploy with the AWS profile?', limit: 5 });
  check(Array.isArray(found.memories) && found.memories.length >= 1, 'recall should find memories', found);
  check(found.memories[0].id === deploy.id, 'recall should rank the deploy memory first', found.memories);
  check(found.memories[0].content.includes('scripts/deploy.sh'), 'recall should return the content', found.memories[0]);
  check(typeof found.memories[0].score === 'number', 'recall hits should carry a score', found.memories[0]);
  check(found.scopes.includes(deploy.scope), 'recall should search the project scope', found.scopes);
  check(typeof found.tokens_used === 'number' && Array.isArray(found.warnings), 'recall should report tokens_used and warnings', found);
  const filtered = await call(client, 'recall', { query: 'code style line length', tags: ['style'] });
  check(filtered.memories.length >= 1 && filtered.memories.every((m) => m.tags.includes('style')),
    'recall with tags should only return tagged memories', filtered.memories);
  check(filtered.memories[0].id === lint.id, 'recall should rank the style memory first', filtered.memories);
  steps.push('recall');

  // 4. link them, twice: the second is merged.
  const linked = await call(client, 'link', {
    source: lint.id, target: deploy.id, relation: 'related_to', note: 'both run in CI',
  });
  check(linked.source === lint.id && linked.target === deploy.id && linked.relation === 'related_to',
    'link should echo source, target and relation', linked);
  check(linked.created === true, 'a new link should have created=true', linked);
  const relinked = await call(client, 'link', { source: lint.id, target: deploy.id, relation: 'related_to' });
  check(relinked.created === false, 'the same link again should be merged (created=false)', relinked);
  // The edge is visible through the memory resource.
  const resource = await client.readResource({ uri: `memory://${lint.id}` }, { timeout: REQUEST_TIMEOUT_MS });
  const record = JSON.parse(resource.contents[0].text);
  check(record.id === lint.id, 'memory:// resource should return the memory', record);
  check((record.links ?? []).some((e) => JSON.stringify(e).includes(deploy.id)),
    'memory:// resource should list the new link', record.links);
  steps.push('link');

  // 5. reflect on a topic: changes nothing, returns groups and instructions.
  const bundle = await call(client, 'reflect', { topic: 'deploy' });
  check(Array.isArray(bundle.groups), 'reflect should return groups', bundle);
  check(typeof bundle.instructions === 'string' && bundle.instructions.length > 0, 'reflect should return instructions', bundle);
  const topicIds = bundle.groups.filter((g) => g.reason === 'topic').flatMap((g) => g.memories.map((m) => m.id));
  check(topicIds.includes(deploy.id), 'reflect(topic=deploy) should gather the deploy memory', bundle.groups);
  check(bundle.draft == null, 'reflect should not draft without sampling', bundle.draft);
  steps.push('reflect');

  // 6. forget the deploy memory by id; recall no longer returns it.
  const dry = await call(client, 'forget', { ids: [deploy.id], dry_run: true });
  check(dry.dry_run === true && dry.count === 1, 'forget dry_run should preview one memory', dry);
  const gone = await call(client, 'forget', { ids: [deploy.id] });
  check(gone.count === 1 && gone.ids.includes(deploy.id) && gone.dry_run === false && gone.purged === false,
    'forget by id should soft-delete exactly that memory', gone);
  const after = await call(client, 'recall', { query: 'how do I deploy with the AWS profile?', limit: 10 });
  check(!after.memories.some((m) => m.id === deploy.id), 'a forgotten memory should not be recalled', after.memories);
  check(after.memories.some((m) => m.id === lint.id), 'the other memory should still be recalled', after.memories);
  steps.push('forget');

  // 7. invalid calls are tool errors the model can read, and the server keeps serving.
  await call(client, 'recall', { query: '' }, { expectError: true });
  await call(client, 'recall', { query: 'x', limit: 0 }, { expectError: true });
  await call(client, 'remember', { content: 'bad kind', kind: 'opinion' }, { expectError: true });
  await call(client, 'link', { source: lint.id, target: 'no-such-memory' }, { expectError: true });
  const still = await call(client, 'recall', { query: 'ruff line length' });
  check(still.memories.some((m) => m.id === lint.id), 'the server should keep serving after errors', still);
  steps.push('errors');

  return { steps, ids: [deploy.id, lint.id], scope: deploy.scope };
}

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  if (!mode) usage('missing transport');
  const started = Date.now();
  const transport = makeTransport(mode, args);

  // Server stderr (stdio only): keep the tail to show on failure.
  let serverLog = '';
  if (mode === 'stdio') {
    transport.stderr?.on('data', (chunk) => {
      serverLog = (serverLog + chunk.toString()).slice(-8000);
    });
  }
  let protocolVersion = null;
  const setVersion = transport.setProtocolVersion?.bind(transport);
  transport.setProtocolVersion = (version) => {
    protocolVersion = version;
    setVersion?.(version);
  };

  const root = realpathSync(mkdtempSync(join(tmpdir(), 'habitus-js-root-')));
  const rootScopeHint = process.env.HABITUS_SCOPE ? null : root.split('/').pop();
  let rootsAsked = 0;
  const client = new Client(
    { name: 'habitus-js-test-client', version: '0.0.0' },
    { capabilities: { roots: { listChanged: false } } },
  );
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    rootsAsked += 1;
    return { roots: [{ uri: pathToFileURL(root).href, name: 'test project' }] };
  });

  let connected = false;
  try {
    await client.connect(transport, { timeout: REQUEST_TIMEOUT_MS });
    connected = true;
    const server = client.getServerVersion();
    check(server?.name === 'habitus', 'server should call itself habitus', server);
    check(client.getServerCapabilities()?.tools, 'server should offer tools', client.getServerCapabilities());
    check((client.getInstructions() ?? '').includes('recall'), 'server should send instructions');
    const result = await scenario(client, root, rootScopeHint);
    check(rootsAsked >= 1, 'the server should have asked this client for its roots');
    const summary = {
      ok: true,
      transport: mode,
      sdk: `@modelcontextprotocol/sdk@${sdkVersion()}`,
      node: process.version,
      protocol: protocolVersion,
      server: `${server.name} ${server.version}`,
      tools: TOOLS,
      steps: result.steps,
      scope: result.scope,
      roots_requests: rootsAsked,
      ms: Date.now() - started,
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
  } catch (error) {
    let what = error instanceof Failure ? error.message : (error?.stack ?? String(error));
    if (error?.cause) what += `\n  cause: ${error.cause.message ?? error.cause}`;
    process.stderr.write(`FAIL (${mode}${connected ? '' : ', connecting'}): ${what}\n`);
    if (serverLog) process.stderr.write(`--- server stderr (tail) ---\n${serverLog}\n`);
    process.exitCode = 1;
  } finally {
    try {
      await client.close();
    } catch {
      // closing a broken connection may fail; the exit code already says what happened
    }
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
