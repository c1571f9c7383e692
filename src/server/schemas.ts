/**
 * JSON schemas of the request bodies (fastify validates every body against them; a failure is a
 * 400 naming the field). Fields of the OpenAI API that this server does not use are let through,
 * as OpenAI clients send some by default; those it refuses to honour silently are checked in
 * the routes.
 */
const ids = { type: 'array', items: { type: 'integer' }, minItems: 1 } as const;
const MAX_N = 128;

const sampling = {
  model: { type: 'string' },
  max_tokens: { type: ['integer', 'null'], minimum: 1 },
  temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
  top_p: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: ['integer', 'null'], minimum: -1 },
  min_p: { type: ['number', 'null'], minimum: 0, maximum: 1 },
  repetition_penalty: { type: ['number', 'null'], exclusiveMinimum: 0, maximum: 10 },
  seed: { type: ['integer', 'null'], minimum: 0, maximum: 2 ** 52 },
  stop: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 16 }, { type: 'null' }] },
  n: { type: ['integer', 'null'], minimum: 1, maximum: MAX_N },
  stream: { type: ['boolean', 'null'] },
  stream_options: { type: ['object', 'null'], properties: { include_usage: { type: ['boolean', 'null'] } } },
  ignore_eos: { type: ['boolean', 'null'] },
  return_token_ids: { type: ['boolean', 'null'] },
  presence_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
  frequency_penalty: { type: ['number', 'null'], minimum: -2, maximum: 2 },
} as const;

export const completionSchema = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: {
    ...sampling,
    prompt: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' }, minItems: 1 },
        ids,
        { type: 'array', items: ids, minItems: 1 },
      ],
    },
    logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 20 },
    echo: { type: ['boolean', 'null'] },
    best_of: { type: ['integer', 'null'], minimum: 1, maximum: MAX_N },
  },
} as const;

const content = {
  anyOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } } },
    { type: 'null' },
  ],
} as const;

export const messagesSchema = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['role'],
    properties: { role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] }, content, name: { type: 'string' } },
  },
} as const;

export const chatSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    ...sampling,
    messages: messagesSchema,
    max_completion_tokens: { type: ['integer', 'null'], minimum: 1 },
    logprobs: { type: ['boolean', 'null'] },
    top_logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 20 },
  },
} as const;

export const tokenizeSchema = {
  type: 'object',
  properties: { model: { type: 'string' }, prompt: { type: 'string' }, messages: messagesSchema },
  oneOf: [{ required: ['prompt'] }, { required: ['messages'] }],
} as const;

export const detokenizeSchema = {
  type: 'object',
  required: ['tokens'],
  properties: { model: { type: 'string' }, tokens: { type: 'array', items: { type: 'integer' } } },
} as const;

export const slotActionSchema = {
  params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,6}$' } } },
  querystring: { type: 'object', required: ['action'], properties: { action: { type: 'string', enum: ['save', 'restore', 'erase'] } } },
  body: { type: ['object', 'null'], properties: { filename: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}$' } } },
} as const;
