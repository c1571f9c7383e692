/**
 * GET /slots and POST /slots/{id}?action=save|restore|erase, after llama.cpp's server. A slot
 * keeps the state its last sequence ended with (prompt and output, less the final token); save
 * writes it to --state-cache-dir/slots/{filename} (safetensors: the tokens and the per-layer
 * state), restore reads such a file into an idle slot, where the next request whose prompt
 * extends those tokens resumes from it (and it joins the prefix cache), erase forgets it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensorsWithMetadata, writeSafetensors } from '../io/safetensors.js';
import { hostStateBytes, stateFromHost } from '../model/state-host.js';
import { disposeExcept } from '../backend/scope.js';
import { ApiError, badRequest } from './api-error.js';
import type { ServerContext } from './context.js';

const FORMAT = 'mamba-ts-slot-state-1';

export function listSlots(ctx: ServerContext) {
  return ctx.engine.slots.map((s) => ({
    id: s.id,
    state: s.phase,
    is_processing: s.phase !== 'idle',
    prompt_tokens: s.job?.input.prompt.length ?? 0,
    generated_tokens: s.seq?.generated.length ?? 0,
    kept_tokens: s.kept?.tokens.length ?? 0,
  }));
}

type SlotRequest = FastifyRequest<{ Params: { id: string }; Querystring: { action: 'save' | 'restore' | 'erase' }; Body: { filename?: string } | null }>;

export function slotAction(ctx: ServerContext, req: SlotRequest) {
  const id = Number(req.params.id);
  const slot = ctx.engine.slots[id];
  if (!slot) throw new ApiError(404, `no slot ${id}: this server has slots 0-${ctx.engine.slots.length - 1}`, 'id', 'slot_not_found');
  if (slot.phase !== 'idle') throw new ApiError(409, `slot ${id} is processing a request`, 'id', 'slot_busy');
  const action = req.query.action;
  if (action === 'erase') {
    const n = slot.kept?.tokens.length ?? 0;
    slot.kept = undefined;
    return { id_slot: id, n_erased: n };
  }
  if (!ctx.slotDir) throw badRequest(null, 'slot files need the server started with --state-cache-dir', 'no_slot_dir');
  const filename = req.body?.filename;
  if (!filename) throw badRequest('filename', `action=${action} needs {"filename": NAME} in the body`);
  const file = path.join(ctx.slotDir, filename);
  if (action === 'save') {
    if (!slot.kept) throw badRequest('id', `slot ${id} holds no state (it has not finished a request since it was erased or started)`, 'slot_empty');
    const tokens: HostTensor = { shape: [slot.kept.tokens.length], dtype: 'i32', data: Int32Array.from(slot.kept.tokens) };
    fs.mkdirSync(ctx.slotDir, { recursive: true });
    writeSafetensors(file, new Map([['tokens', tokens], ...slot.kept.state]), { format: FORMAT, model: ctx.fingerprint });
    return { id_slot: id, filename, n_saved: slot.kept.tokens.length, n_written: fs.statSync(file).size };
  }
  if (!fs.existsSync(file)) throw badRequest('filename', `${filename}: no such file in ${ctx.slotDir}`, 'file_not_found');
  const { tensors, metadata } = readSafetensorsWithMetadata(file);
  if (metadata.format !== FORMAT || metadata.model !== ctx.fingerprint) {
    throw badRequest('filename', `${filename} is not a slot state of this model`, 'state_mismatch');
  }
  const tokens = tensors.get('tokens');
  tensors.delete('tokens');
  if (!tokens) throw badRequest('filename', `${filename} has no tokens tensor`, 'state_mismatch');
  // loading it once checks every tensor's shape against the model
  disposeExcept(stateFromHost(ctx.model, tensors, ctx.maxModelLen, filename), undefined);
  slot.kept = { tokens: [...tokens.data], state: tensors };
  if (ctx.engine.cache.enabled) ctx.engine.cache.insert(slot.kept.tokens, tensors);
  return { id_slot: id, filename, n_restored: tokens.data.length, n_read: hostStateBytes(tensors) };
}
