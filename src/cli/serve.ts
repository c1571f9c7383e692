/**
 * `mamba-ts serve`: the OpenAI-compatible server (src/server/) on one model. SIGTERM and SIGINT
 * stop taking requests, let the ones in flight finish, then exit 0 (a second signal exits at once).
 */
import { DEFAULT_MAX_LEN } from '../model/lm.js';
import { SERVER_DEFAULTS, SSM_MAX_MODEL_LEN, startServer } from '../server/server.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder or Hub repo id; requests name it as given here' },
  device: deviceFlag,
  host: { kind: 'string', value: 'ADDR', default: SERVER_DEFAULTS.host, help: 'address to listen on' },
  port: { kind: 'int', value: 'N', default: SERVER_DEFAULTS.port, min: 0, max: 65535, help: 'port (0: any free port, printed on start)' },
  'max-batch': { kind: 'int', value: 'N', default: SERVER_DEFAULTS.maxBatch, min: 1, max: 4096, help: 'slots: sequences decoded together in one batched step' },
  'max-queue': { kind: 'int', value: 'N', default: SERVER_DEFAULTS.maxQueue, min: 0, help: 'requests that may wait for a slot; more get 429' },
  'max-model-len': { kind: 'int', value: 'N', min: 2, help: `prompt + output tokens at most, the KV cache of attention layers (default ${DEFAULT_MAX_LEN} with attention layers, ${SSM_MAX_MODEL_LEN} without)` },
  'api-key': { kind: 'string', value: 'KEY', help: 'require "Authorization: Bearer KEY" (default $MAMBA_TS_API_KEY; none: open)' },
  'state-cache-mb': { kind: 'number', value: 'MB', default: SERVER_DEFAULTS.stateCacheMb, min: 0, help: 'memory for cached prefix states (LRU); 0 = off' },
  'state-cache-dir': { kind: 'string', value: 'DIR', help: 'keep the prefix states on disk too (reloaded on restart) and slot files (slots/)' },
  'prefill-chunk': { kind: 'int', value: 'N', default: SERVER_DEFAULTS.prefillChunk, min: 1, help: 'prompt tokens per forward between decode steps (smaller: smoother streams, slower prefill)' },
  'snapshot-every': { kind: 'int', value: 'N', default: SERVER_DEFAULTS.snapshotEvery, min: 1, help: 'long prompts leave a cached state every N tokens' },
  ...hubFlags,
} as const;

const NOTES = [
  'Endpoints: POST /v1/completions, /v1/chat/completions (stream: true for server-sent events),',
  'GET /v1/models, POST /tokenize, /detokenize, GET /health, /metrics (Prometheus), GET /slots,',
  'POST /slots/{id}?action=save|restore|erase.',
  'Every prompt resumes from the longest prefix of it whose state is cached, at any token position.',
  'The chat endpoint needs chat_template in the model folder\'s tokenizer_config.json.',
].join('\n');

export async function runServe(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts serve --model DIR|ORG/NAME [--port 8080] [options]',
    summary: 'Serves the model over an OpenAI-compatible HTTP API with continuous batching and a prefix-state cache.',
    notes: NOTES,
  });
  if (!flags) return 0;
  const dir = await resolveModelPath(flags.model, flags);
  const dev = await openBackend(flags.device);
  try {
    const server = await startServer({
      modelDir: dir, modelName: flags.model, backend: dev.backend, host: flags.host, port: flags.port,
      maxBatch: flags['max-batch'], maxQueue: flags['max-queue'], maxModelLen: flags['max-model-len'],
      apiKey: flags['api-key'] ?? process.env.MAMBA_TS_API_KEY, stateCacheMb: flags['state-cache-mb'], stateCacheDir: flags['state-cache-dir'],
      prefillChunk: flags['prefill-chunk'], snapshotEvery: flags['snapshot-every'],
      log: (line) => process.stderr.write(`mamba-ts: ${line}\n`),
    });
    process.stderr.write(`mamba-ts: serving ${flags.model} on ${dev.description} at ${server.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`mamba-ts: ${signal}: finishing the requests in flight\n`);
        process.once('SIGTERM', () => process.exit(143));
        process.once('SIGINT', () => process.exit(130));
        void server.drain().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    process.stderr.write('mamba-ts: stopped\n');
  } finally {
    dev.close();
  }
  return 0;
}
