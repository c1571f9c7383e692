/**
 * From an OpenAI request body to what the engine runs: prompt ids checked against the model,
 * sampling parameters with generation_config.json's defaults under the request's, and the
 * context limit.
 */
import { badRequest } from './api-error.js';
import type { ChatMessage } from './chat-template.js';
import type { ServerContext } from './context.js';
import type { JobInput } from './engine.js';

export interface SamplingBody {
  model: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  ignore_eos?: boolean | null;
  /** vLLM's extension: each choice also lists its token ids */
  return_token_ids?: boolean | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
}

export type ContentPart = { type: string; text?: string };
export type BodyMessage = { role: string; content?: string | ContentPart[] | null };

/** OpenAI's default when a completion request gives no max_tokens */
const COMPLETION_MAX_TOKENS = 16;

export function checkModel(ctx: ServerContext, model: string | undefined): void {
  if (model !== undefined && model !== ctx.modelName) {
    throw badRequest('model', `model "${model}" is not served here; GET /v1/models lists "${ctx.modelName}"`, 'model_not_found');
  }
}

/** Token ids within the model's (padded) vocabulary; `param` names the field in errors. */
export function checkIds(ctx: ServerContext, ids: readonly number[], param: string): void {
  const V = ctx.model.vocabPadded;
  const i = ids.findIndex((id) => !(id >= 0 && id < V));
  if (i >= 0) throw badRequest(param, `${param}: token id ${ids[i]} (item ${i}) is outside the model's vocabulary [0, ${V})`, 'invalid_token_id');
}

export function messagesText(ctx: ServerContext, messages: readonly BodyMessage[]): string {
  if (!ctx.template) {
    throw badRequest('messages', `model "${ctx.modelName}" has no chat template (chat_template in tokenizer_config.json); use /v1/completions with a prompt`, 'no_chat_template');
  }
  const plain: ChatMessage[] = messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text ?? '').join(''),
  }));
  return ctx.template.render(plain);
}

/**
 * The engine's parameters for a prompt of `promptLen` tokens. `maxTokens`: the request's limit
 * (undefined: COMPLETION_MAX_TOKENS for completions, the rest of the context for chat).
 */
export function jobParams(ctx: ServerContext, body: SamplingBody, promptLen: number, maxTokens: number | null | undefined, chat: boolean, logprobs?: number): JobInput['params'] {
  for (const f of ['presence_penalty', 'frequency_penalty'] as const) {
    if (body[f]) throw badRequest(f, `${f} is not supported (use repetition_penalty)`, 'unsupported_parameter');
  }
  const room = ctx.maxModelLen - promptLen;
  if (room < 1) {
    throw badRequest(chat ? 'messages' : 'prompt', `the prompt has ${promptLen} tokens; this server's context is ${ctx.maxModelLen} (--max-model-len), which leaves no room for output`, 'context_length_exceeded');
  }
  const max = maxTokens ?? (chat ? room : Math.min(COMPLETION_MAX_TOKENS, room));
  if (max > room) {
    throw badRequest(chat ? 'max_completion_tokens' : 'max_tokens', `prompt (${promptLen} tokens) + max_tokens (${max}) exceed this server's context of ${ctx.maxModelLen} tokens (--max-model-len)`, 'context_length_exceeded');
  }
  const d = ctx.defaults;
  const topK = body.top_k ?? d.topK ?? 0;
  return {
    maxTokens: max,
    temperature: body.temperature ?? d.temperature ?? 1,
    topP: body.top_p ?? d.topP ?? 1,
    topK: topK < 0 ? 0 : topK,
    minP: body.min_p ?? d.minP ?? 0,
    repetitionPenalty: body.repetition_penalty ?? d.repetitionPenalty ?? 1,
    seed: body.seed ?? undefined,
    stopIds: body.ignore_eos ? [] : ctx.eosIds,
    stop: body.stop === undefined || body.stop === null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop,
    logprobs,
  };
}
