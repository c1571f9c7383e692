/** The synthetic tasks by name, built from `--task NAME` and `--task-options k=v,...`. */
import { UserError } from '../errors.js';
import { inductionHeads } from './induction-heads.js';
import { mqar } from './mqar.js';
import { phonebook } from './phonebook.js';
import { selectiveCopying } from './selective-copying.js';
import type { Task, TaskSpec } from './task.js';

export { answerAccuracy, IGNORE, type Accuracy, type Batch, type Task, type TaskSpec } from './task.js';

export const TASKS: readonly TaskSpec[] = [selectiveCopying, inductionHeads, mqar, phonebook] as unknown as TaskSpec[];
export const TASK_NAMES = TASKS.map((t) => t.name);

export function taskSpec(name: string): TaskSpec {
  const spec = TASKS.find((t) => t.name === name);
  if (!spec) throw new UserError(`--task: unknown task "${name}" (known: ${TASK_NAMES.join(', ')})`);
  return spec;
}

/** The options of `name` with `overrides` applied; an unknown option is a UserError naming the known ones. */
export function taskOptions(name: string, overrides: Record<string, number>): Record<string, number> {
  const spec = taskSpec(name);
  for (const k of Object.keys(overrides)) {
    if (!Object.hasOwn(spec.defaults, k)) {
      throw new UserError(`--task-options: task ${name} has no option "${k}" (options: ${Object.keys(spec.defaults).join(', ')})`);
    }
  }
  return { ...spec.defaults, ...overrides };
}

export function makeTask(name: string, options: Record<string, number>): Task {
  return taskSpec(name).create(taskOptions(name, options));
}

/** "pairs=8,vocab=64" -> { pairs: 8, vocab: 64 }; an item that is not name=number is a UserError. */
export function parseTaskOptions(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s)) {
    const m = /^([A-Za-z]\w*)=(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/.exec(item);
    if (!m) throw new UserError(`--task-options: "${item}" is not name=number`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}
