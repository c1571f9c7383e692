/**
 * `startServer(options)`: the OpenAI-compatible server on fastify. Routes:
 *   POST /v1/completions, /v1/chat/completions   (openai.ts)
 *   GET  /v1/models, /health, /metrics
 *   POST /tokenize, /detokenize                  (tokenize.ts)
 *   GET  /slots, POST /slots/{id}?action=...     (slots.ts)
 * Every body is checked against its JSON schema (schemas.ts); every error is an OpenAI error
 * object. With an API key, every route but /health needs `Authorization: Bearer KEY`.
 */
import { timingSafeEqual } from 'node:crypto';
import * as path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Backend } from '../backend/backend.js';
import { readGenerationDefaults } from '../generate/generation-config.js';
import { UserError } from '../errors.js';
import { DEFAULT_MAX_LEN } from '../model/lm.js';
import { loadModel } from '../model/load.js';
import { loadTokenizer } from '../text/load.js';
import { ApiError } from './api-error.js';
import { ChatTemplate } from './chat-template.js';
import type { ServerContext } from './context.js';
import { Engine } from './engine.js';
import { modelFingerprint } from './fingerprint.js';
import { Metrics } from './metrics.js';
import { chatCompletions, completions, type ChatBody, type CompletionBody } from './openai.js';
import { PrefixCache } from './prefix-cache.js';
import { chatSchema, completionSchema, detokenizeSchema, slotActionSchema, tokenizeSchema } from './schemas.js';
import { listSlots, slotAction } from './slots.js';
import { detokenize, tokenize } from './tokenize.js';

export interface ServerOptions {
  /** a model folder (Hub repos are resolved by the CLI) */
  modelDir: string;
  /** what requests call the model (default: modelDir) */
  modelName?: string;
  backend: Backend;
  host?: string;
  /** 0: an ephemeral port */
  port?: number;
  /** slots: sequences decoded together */
  maxBatch?: number;
  /** requests that may wait for a slot before 429 */
  maxQueue?: number;
  /**
   * prompt + output tokens at most; the KV cache size of attention layers (default: DEFAULT_MAX_LEN
   * with attention layers, SSM_MAX_MODEL_LEN without: a pure SSM's state does not grow)
   */
  maxModelLen?: number;
  apiKey?: string;
  /** bytes of prefix states kept, in MiB; 0 turns the cache off */
  stateCacheMb?: number;
  stateCacheDir?: string;
  prefillChunk?: number;
  snapshotEvery?: number;
  /** where internal errors (500s, a failed engine step) are reported, one line each */
  log?: (line: string) => void;
}

export const SERVER_DEFAULTS = { host: '127.0.0.1', port: 8080, maxBatch: 16, maxQueue: 64, stateCacheMb: 512, prefillChunk: 256, snapshotEvery: 512 };

/** the context of a model without attention layers unless told otherwise */
export const SSM_MAX_MODEL_LEN = 1 << 20;

export interface RunningServer {
  url: string;
  port: number;
  app: FastifyInstance;
  engine: Engine;
  /** stops taking requests, finishes the ones in flight, closes the listener */
  drain(): Promise<void>;
}

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const opt = { ...SERVER_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as typeof SERVER_DEFAULTS & ServerOptions;
  const model = await loadModel(opt.modelDir, opt.backend);
  opt.maxModelLen ??= model.config.layers.some((l) => l.mixer.kind === 'attention') ? DEFAULT_MAX_LEN : SSM_MAX_MODEL_LEN;
  const tokenizer = loadTokenizer(opt.modelDir);
  const defaults = readGenerationDefaults(opt.modelDir);
  const fingerprint = modelFingerprint(opt.modelDir);
  const metrics = new Metrics();
  const cache = new PrefixCache(opt.stateCacheMb * 2 ** 20, fingerprint, opt.stateCacheDir && path.join(opt.stateCacheDir, 'prefix'));
  const engine = new Engine(model, tokenizer, {
    maxBatch: opt.maxBatch, maxQueue: opt.maxQueue, maxModelLen: opt.maxModelLen, prefillChunk: opt.prefillChunk, snapshotEvery: opt.snapshotEvery,
  }, cache, metrics, (e) => opt.log?.(`engine step failed, its requests got a 500: ${e.stack ?? e.message}`));
  metrics.watch(engine);
  const ctx: ServerContext = {
    model, modelName: opt.modelName ?? opt.modelDir, tokenizer, template: ChatTemplate.load(opt.modelDir), defaults,
    eosIds: [...new Set([...defaults.eosIds, ...(tokenizer.eosId === undefined ? [] : [tokenizer.eosId])])],
    engine, metrics, maxModelLen: opt.maxModelLen, slotDir: opt.stateCacheDir && path.join(opt.stateCacheDir, 'slots'),
    fingerprint, created: Math.floor(Date.now() / 1000),
  };

  const app = Fastify({ ajv: { customOptions: { coerceTypes: false, removeAdditional: false } }, bodyLimit: 64 * 2 ** 20 });
  let draining = false;
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    reply.raw.once('close', () => metrics.requests.inc({ route, status: reply.raw.statusCode }));
    if (route === '/health') return;
    if (draining) throw new ApiError(503, 'the server is shutting down', null, 'shutting_down');
    if (opt.apiKey !== undefined && !keyMatches(req.headers.authorization, opt.apiKey)) {
      throw new ApiError(401, 'missing or wrong API key: send "Authorization: Bearer KEY"', null, 'invalid_api_key');
    }
  });
  app.setErrorHandler((e: FastifyError | ApiError | UserError, _req, reply) => {
    const err = toApiError(e);
    if (err.status === 429) void reply.header('retry-after', '1');
    if (err.status >= 500) opt.log?.(`internal error: ${(e as Error).stack ?? e.message}`);
    void reply.status(err.status).send(err.body());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(new ApiError(404, `no route ${req.method} ${req.url}`, null, 'not_found').body());
  });

  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionSchema } }, (req, reply) => completions(ctx, req, reply));
  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatSchema } }, (req, reply) => chatCompletions(ctx, req, reply));
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: ctx.modelName, object: 'model', created: ctx.created, owned_by: 'mamba-ts', max_model_len: ctx.maxModelLen }],
  }));
  app.post<{ Body: { model?: string; prompt?: string } }>('/tokenize', { schema: { body: tokenizeSchema } }, async (req) => tokenize(ctx, req));
  app.post<{ Body: { model?: string; tokens: number[] } }>('/detokenize', { schema: { body: detokenizeSchema } }, async (req) => detokenize(ctx, req));
  app.get('/slots', async () => listSlots(ctx));
  app.post('/slots/:id', { schema: slotActionSchema }, async (req) => slotAction(ctx, req as Parameters<typeof slotAction>[1]));
  app.get('/health', async (_req, reply) => (draining ? reply.status(503).send({ status: 'draining' }) : { status: 'ok' }));
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  await app.listen({ host: opt.host, port: opt.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opt.port;
  const host = opt.host.includes(':') ? `[${opt.host}]` : opt.host;
  return {
    url: `http://${host}:${port}`, port, app, engine,
    async drain() {
      draining = true;
      await engine.idle();
      await app.close();
    },
  };
}

function keyMatches(header: string | undefined, key: string): boolean {
  const want = Buffer.from(`Bearer ${key}`);
  const got = Buffer.from(header ?? '');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** fastify's own errors (schema, JSON syntax, body size) and UserErrors as OpenAI errors */
function toApiError(e: FastifyError | ApiError | UserError): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof UserError) return new ApiError(400, e.message);
  const f = e as FastifyError;
  if (f.validation && f.validation.length > 0) {
    const v = f.validation[0];
    const missing = (v.params as { missingProperty?: string }).missingProperty;
    const field = [v.instancePath.slice(1).replace(/\//g, '.'), missing].filter(Boolean).join('.');
    const where = f.validationContext === 'body' ? field : `${f.validationContext}${field ? '.' + field : ''}`;
    return new ApiError(400, `${where || f.validationContext}: ${missing ? 'is required' : v.message}`, where || null, 'invalid_value');
  }
  const status = f.statusCode && f.statusCode >= 400 && f.statusCode < 500 ? f.statusCode : 500;
  return new ApiError(status, status === 500 ? `internal error: ${f.message}` : f.message);
}
