/**
 * `mamba-ts eval --model DIR --task NAME`: exact-match accuracy of a model on fresh sequences of
 * a synthetic task, printed as one JSON object. A model trained here on that task is evaluated
 * with the task options it was trained with (run.json); --seq-len tests other lengths.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readJsonFile } from '../io/json.js';
import { loadModel } from '../model/load.js';
import { makeTask, parseTaskOptions, TASK_NAMES, taskOptions, taskSpec } from '../tasks/index.js';
import { evaluate } from '../train/evaluate.js';
import { Rng } from '../train/rng.js';
import { RUN_FILE } from '../train/trainer.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder or Hub repo id' },
  task: { kind: 'string', value: 'NAME', required: true, choices: TASK_NAMES, help: 'synthetic task' },
  'task-options': { kind: 'string', value: 'K=V,...', help: 'task sizes (default: those the model was trained with, else the task\'s)' },
  'seq-len': { kind: 'int', value: 'L', min: 1, help: 'the task\'s length option (test lengths beyond training)' },
  batches: { kind: 'int', value: 'N', default: 8, min: 1, help: 'batches to score' },
  'batch-size': { kind: 'int', value: 'B', default: 16, min: 1, help: 'sequences per batch' },
  seed: { kind: 'int', value: 'S', default: 1, min: 0, max: 0xffffffff, help: 'seed of the evaluation sequences' },
  device: deviceFlag,
  ...hubFlags,
} as const;

export async function runEval(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts eval --model DIR|ORG/NAME --task NAME [--seq-len L] [--task-options K=V,...]',
    summary: 'Scores a model on a synthetic task: exact-match accuracy on the answer positions, and the loss there.',
  });
  if (!flags) return 0;
  const dir = await resolveModelPath(flags.model, flags);
  const overrides = { ...trainedOptions(dir, flags.task), ...parseTaskOptions(flags['task-options'] ?? '') };
  if (flags['seq-len'] !== undefined) overrides[taskSpec(flags.task).lengthOption] = flags['seq-len'];
  const options = taskOptions(flags.task, overrides);
  const task = makeTask(flags.task, options);
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModel(dir, dev.backend);
    if (task.vocabSize > model.config.vocabSize) {
      throw new UserError(`--task ${flags.task}: its vocabulary (${task.vocabSize}) is larger than the model's (${model.config.vocabSize})`);
    }
    const rng = new Rng(flags.seed);
    const batches = Array.from({ length: flags.batches }, () => task.sample(rng, flags['batch-size']));
    const ev = await evaluate(model, batches, true);
    process.stdout.write(JSON.stringify({
      task: flags.task, options, length: task.length, sequences: flags.batches * flags['batch-size'],
      accuracy: ev.accuracy, sequenceAccuracy: ev.sequenceAccuracy, loss: ev.loss,
    }) + '\n');
  } finally {
    dev.close();
  }
  return 0;
}

/** The options of `task` in the model folder's run.json when it was trained on that task. */
function trainedOptions(dir: string, task: string): Record<string, number> {
  const file = path.join(dir, RUN_FILE);
  if (!fs.existsSync(file)) return {};
  const data = (readJsonFile(file) as { data?: { kind?: string; task?: string; options?: Record<string, number> } }).data;
  return data?.kind === 'task' && data.task === task && data.options ? { ...data.options } : {};
}
