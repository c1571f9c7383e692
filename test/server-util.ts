/** Shared by the server tests: in-process servers on fixture models, the openai client, references. */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startServer, type RunningServer, type ServerOptions } from '../src/server/server.js';
import { cliAsync, FIXTURES, tempDir } from './cli-util.js';
import { cpu, rng } from './cpu-util.js';

export const MAMBA2 = join(FIXTURES, 'hf/mamba2-tiny');
export const MAMBA1 = join(FIXTURES, 'hf/mamba1-tiny');
export const HYBRID = join(FIXTURES, 'mamba_ssm/ms-hybrid');
export const MODEL = 'tiny';

export const CHAT_TEMPLATE = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

/** what CHAT_TEMPLATE makes of `messages` */
export function renderChat(messages: { role: string; content: string }[]): string {
  return messages.map((m) => `<|${m.role}|>${m.content}\n`).join('') + '<|assistant|>';
}

/** A copy of mamba2-tiny with a tokenizer_config.json holding CHAT_TEMPLATE. */
export function chatModel(): string {
  const dir = tempDir();
  for (const f of ['config.json', 'model.safetensors', 'generation_config.json']) copyFileSync(join(MAMBA2, f), join(dir, f));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: CHAT_TEMPLATE, eos_token: '\u0000' }));
  return dir;
}

export interface TestServer {
  server: RunningServer;
  client: OpenAI;
  url: string;
  close(): Promise<void>;
}

/** A server on 127.0.0.1, an ephemeral port, the shared CPU backend; requests call the model MODEL. */
export async function serve(modelDir: string, opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const server = await startServer({ modelDir, modelName: MODEL, backend: cpu, host: '127.0.0.1', port: 0, ...opts });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0 });
  return { server, client, url: server.url, close: () => server.drain() };
}

/** `n` token ids in [0, 256) (byte-level fixtures), the same for the same seed. */
export function promptIds(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** The ids `mamba-ts generate` makes for `ids` (greedy unless `more` says otherwise). */
export async function cliIds(modelDir: string, ids: readonly number[], maxNew: number, ...more: string[]): Promise<number[]> {
  const r = await cliAsync(['generate', '--model', modelDir, '--prompt-ids', ids.join(','), '--max-new-tokens', String(maxNew), '--ids-only', '--ignore-eos', ...(more.length ? more : ['--temperature', '0'])]);
  if (r.code !== 0) throw new Error(`generate failed: ${r.stderr}`);
  return r.stdout.trim().split(',').map(Number);
}

/** `mamba-ts generate --json` for a text prompt */
export async function cliJson(modelDir: string, prompt: string, maxNew: number): Promise<{ ids: number[]; text: string }> {
  const r = await cliAsync(['generate', '--model', modelDir, '--prompt', prompt, '--max-new-tokens', String(maxNew), '--temperature', '0', '--json']);
  if (r.code !== 0) throw new Error(`generate failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ids: number[]; text: string };
}

/** The extensions this server takes beyond the openai client's types. */
export type Extra = { ignore_eos?: boolean; return_token_ids?: boolean; top_k?: number; min_p?: number };

export interface CompletionOut {
  choices: { index: number; text: string; token_ids: number[]; finish_reason: string; logprobs: { token_logprobs: number[]; top_logprobs: Record<string, number>[] } | null }[];
  usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

/** A greedy completion of prompt ids with its token ids. */
export async function complete(client: OpenAI, prompt: string | number[] | number[][], maxTokens: number, more: Record<string, unknown> = {}): Promise<CompletionOut> {
  const body = { model: MODEL, prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, return_token_ids: true, ...more };
  return (await client.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming)) as unknown as CompletionOut;
}

/** POST a JSON body (or raw text) with fetch, for what the openai client would not send. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, headers: r.headers, json: text ? JSON.parse(text) : undefined };
}

/** One sample of a Prometheus text exposition (no labels), NaN when absent. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** Polls `check` until it holds (each await lets the server work); fails after `tries`. */
export async function eventually(check: () => Promise<boolean>, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`never happened: ${what}`);
}
