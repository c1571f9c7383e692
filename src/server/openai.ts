/**
 * POST /v1/completions and /v1/chat/completions: one engine job per prompt (n choices each),
 * answered as one JSON object or streamed as server-sent events (`data: {chunk}` lines, then
 * `data: [DONE]`). A client that goes away cancels its jobs at once.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from './api-error.js';
import type { ServerContext } from './context.js';
import type { Job, JobInput } from './engine.js';
import type { TokenLogprob } from './logprobs.js';
import { checkIds, checkModel, jobParams, messagesText, type BodyMessage, type SamplingBody } from './requests.js';
import type { Delta, FinishReason } from './sequence.js';

export interface CompletionBody extends SamplingBody {
  prompt: string | string[] | number[] | number[][];
  logprobs?: number | null;
  echo?: boolean | null;
  best_of?: number | null;
}

export interface ChatBody extends SamplingBody {
  messages: BodyMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
}

type Kind = 'completion' | 'chat';

interface Choice {
  text: string;
  ids: number[];
  logprobs: TokenLogprob[];
  finish: FinishReason | null;
  /** chat streams open each choice with a role-only delta */
  opened: boolean;
}

export async function completions(ctx: ServerContext, req: FastifyRequest<{ Body: CompletionBody }>, reply: FastifyReply): Promise<unknown> {
  const body = req.body;
  checkModel(ctx, body.model);
  if (body.echo) throw badRequest('echo', 'echo is not supported', 'unsupported_parameter');
  if (body.best_of != null && body.best_of !== (body.n ?? 1)) throw badRequest('best_of', 'best_of other than n is not supported', 'unsupported_parameter');
  const p = body.prompt;
  const prompts: number[][] = typeof p === 'string' ? [ctx.tokenizer.encode(p)]
    : typeof p[0] === 'string' ? (p as string[]).map((s) => ctx.tokenizer.encode(s))
    : typeof p[0] === 'number' ? [p as number[]]
    : (p as number[][]);
  prompts.forEach((ids, k) => {
    const param = prompts.length > 1 ? `prompt[${k}]` : 'prompt';
    if (ids.length === 0) throw badRequest(param, `${param} is empty (it encodes to no tokens)`);
    checkIds(ctx, ids, param);
  });
  const params = prompts.map((ids) => jobParams(ctx, body, ids.length, body.max_tokens, false, body.logprobs ?? undefined));
  return respond(ctx, 'completion', body, reply, prompts, params);
}

export async function chatCompletions(ctx: ServerContext, req: FastifyRequest<{ Body: ChatBody }>, reply: FastifyReply): Promise<unknown> {
  const body = req.body;
  checkModel(ctx, body.model);
  const ids = ctx.tokenizer.encode(messagesText(ctx, body.messages));
  if (ids.length === 0) throw badRequest('messages', 'the messages render to no tokens');
  const top = body.logprobs ? body.top_logprobs ?? 0 : undefined;
  if (!body.logprobs && body.top_logprobs) throw badRequest('top_logprobs', 'top_logprobs needs logprobs: true');
  const params = jobParams(ctx, body, ids.length, body.max_completion_tokens ?? body.max_tokens, true, top);
  return respond(ctx, 'chat', body, reply, [ids], [params]);
}

async function respond(
  ctx: ServerContext, kind: Kind, body: SamplingBody, reply: FastifyReply,
  prompts: number[][], params: JobInput['params'][],
): Promise<unknown> {
  const n = body.n ?? 1;
  if (n > ctx.engine.slots.length) throw badRequest('n', `n ${n} is more than this server's ${ctx.engine.slots.length} slots (--max-batch)`);
  const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const object = kind === 'chat' ? (body.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
  const head = { id, object, created, model: ctx.modelName };
  const choices: Choice[] = Array.from({ length: prompts.length * n }, () => ({ text: '', ids: [], logprobs: [], finish: null, opened: false }));
  const stream = body.stream === true;
  const write = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);

  const onDelta = (index: number, d: Delta) => {
    const c = choices[index];
    c.text += d.text;
    c.ids.push(...d.ids);
    c.logprobs.push(...d.logprobs);
    c.finish = d.finishReason ?? null;
    if (!stream || (d.text === '' && d.logprobs.length === 0 && !d.finishReason && !body.return_token_ids)) return;
    const lp = d.logprobs.length === 0 ? null : formatLogprobs(ctx, kind, d.logprobs);
    const ids = body.return_token_ids ? { token_ids: d.ids } : {};
    if (kind === 'completion') {
      write({ ...head, choices: [{ index, text: d.text, logprobs: lp, finish_reason: c.finish, ...ids }] });
    } else {
      const role = c.opened ? {} : { role: 'assistant' };
      c.opened = true;
      write({ ...head, choices: [{ index, delta: { ...role, content: d.text }, logprobs: lp, finish_reason: c.finish, ...ids }] });
    }
  };

  const jobs: Job[] = [];
  try {
    prompts.forEach((prompt, k) => jobs.push(ctx.engine.submit({ prompt, n, params: params[k], onDelta: (d) => onDelta(k * n + d.index, d) })));
  } catch (e) {
    for (const j of jobs) ctx.engine.cancel(j);
    throw e;
  }
  let over = false;
  const gone = () => {
    if (!over) for (const j of jobs) ctx.engine.cancel(j);
  };
  reply.raw.on('close', gone);
  if (reply.raw.socket?.destroyed) gone();   // left before we listened
  if (stream) {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  }
  try {
    await Promise.all(jobs.map((j) => j.done));
  } catch (e) {
    over = true;
    if (!stream) throw e;
    write(e instanceof ApiError ? e.body() : new ApiError(500, (e as Error).message).body());
    reply.raw.end('data: [DONE]\n\n');
    return reply;
  }
  over = true;
  const completion = jobs.reduce((a, j) => a + j.completionTokens, 0);
  const prompt = prompts.reduce((a, p) => a + p.length, 0);
  ctx.metrics.promptTokens.inc(prompt);
  ctx.metrics.generatedTokens.inc(completion);
  const usage = {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: jobs.reduce((a, j) => a + j.cachedTokens, 0) },
  };
  if (stream) {
    if (jobs.some((j) => j.cancelled)) return reply;
    if (body.stream_options?.include_usage) write({ ...head, choices: [], usage });
    reply.raw.end('data: [DONE]\n\n');
    return reply;
  }
  return {
    ...head,
    choices: choices.map((c, index) => {
      const logprobs = c.logprobs.length === 0 ? null : formatLogprobs(ctx, kind, c.logprobs);
      const ids = body.return_token_ids ? { token_ids: c.ids } : {};
      return kind === 'completion'
        ? { index, text: c.text, logprobs, finish_reason: c.finish, ...ids }
        : { index, message: { role: 'assistant', content: c.text }, logprobs, finish_reason: c.finish, ...ids };
    }),
    usage,
  };
}

/** chat: {content: [{token, logprob, bytes, top_logprobs}]}; completions: the legacy parallel lists */
function formatLogprobs(ctx: ServerContext, kind: Kind, lps: readonly TokenLogprob[]): unknown {
  const text = (id: number) => ctx.tokenizer.decode([id]);
  if (kind === 'chat') {
    const entry = (id: number, logprob: number) => ({ token: text(id), logprob, bytes: [...Buffer.from(text(id), 'utf8')] });
    return { content: lps.map((t) => ({ ...entry(t.id, t.logprob), top_logprobs: t.top.map((a) => entry(a.id, a.logprob)) })), refusal: null };
  }
  let offset = 0;
  const textOffset = lps.map((t) => {
    const at = offset;
    offset += text(t.id).length;
    return at;
  });
  return {
    tokens: lps.map((t) => text(t.id)),
    token_logprobs: lps.map((t) => t.logprob),
    top_logprobs: lps.map((t) => Object.fromEntries(t.top.map((a) => [text(a.id), a.logprob]))),
    text_offset: textOffset,
  };
}
