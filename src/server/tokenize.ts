/** POST /tokenize and /detokenize (vLLM's shapes): text or chat messages <-> token ids. */
import type { FastifyRequest } from 'fastify';
import type { ServerContext } from './context.js';
import { checkIds, checkModel, messagesText, type BodyMessage } from './requests.js';

export function tokenize(ctx: ServerContext, req: FastifyRequest<{ Body: { model?: string; prompt?: string; messages?: BodyMessage[] } }>) {
  const { model, prompt, messages } = req.body;
  checkModel(ctx, model);
  const tokens = ctx.tokenizer.encode(prompt ?? messagesText(ctx, messages!));
  return { tokens, count: tokens.length, max_model_len: ctx.maxModelLen };
}

export function detokenize(ctx: ServerContext, req: FastifyRequest<{ Body: { model?: string; tokens: number[] } }>) {
  const { model, tokens } = req.body;
  checkModel(ctx, model);
  checkIds(ctx, tokens, 'tokens');
  return { prompt: ctx.tokenizer.decode(tokens) };
}
