#!/usr/bin/env node
// Times an MCP stdio server's start-up as seen by the official TypeScript SDK client (v1): from
// spawning the command to `initialize` answered, to `tools/list` answered and to the first
// `tools/call` (recall) answered. Used by bench/bench_startup.py.
//
// Usage: node startup.mjs <command> [args...]
// Prints one line of JSON: {"initialize": s, "tools_list": s, "first_call": s, "tools": n}.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport, getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: node startup.mjs <command> [args...]\n');
  process.exit(2);
}
const env = getDefaultEnvironment();
for (const [key, value] of Object.entries(process.env)) {
  if ((key.startsWith('HABITUS_') || key.startsWith('XDG_')) && value !== undefined) env[key] = value;
}
const transport = new StdioClientTransport({ command, args, env, stderr: 'ignore' });
const client = new Client({ name: 'habitus-startup-bench', version: '1.0.0' });
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

const start = process.hrtime.bigint();
await client.connect(transport);
const initialize = seconds(start);
const { tools } = await client.listTools();
const toolsList = seconds(start);
await client.callTool({ name: 'recall', arguments: { query: 'start-up' } }, undefined, { timeout: 120_000 });
const firstCall = seconds(start);
await client.close();
process.stdout.write(JSON.stringify({ initialize, tools_list: toolsList, first_call: firstCall, tools: tools.length }) + '\n');
