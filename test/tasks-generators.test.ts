import test from 'node:test';
import assert from 'node:assert/strict';
import { answerAccuracy, IGNORE, makeTask, parseTaskOptions, TASK_NAMES, type Batch } from '../src/tasks/index.js';
import { UserError } from '../src/errors.js';
import { Mulberry32 } from '../src/rng.js';

const row = (a: Int32Array, b: Batch, s: number) => [...a.subarray(s * b.length, (s + 1) * b.length)];
const scored = (b: Batch, s: number) => row(b.targets, b, s).flatMap((t, i) => (t === IGNORE ? [] : [i]));

test('selective copying: data tokens among noise, answered in order after the copy marker', () => {
  const task = makeTask('selective-copying', { vocab: 10, context: 30, memorize: 5 });
  assert.equal(task.length, 35);
  const b = task.sample(new Mulberry32(1), 16);
  for (let s = 0; s < b.batch; s++) {
    const x = row(b.inputs, b, s), y = row(b.targets, b, s);
    const data = x.slice(0, 30).filter((t) => t !== 0);
    assert.equal(data.length, 5);
    assert.ok(data.every((t) => t >= 1 && t <= 8));
    assert.equal(x[30], 9);
    assert.deepEqual(scored(b, s), [30, 31, 32, 33, 34]);
    assert.deepEqual(y.slice(30), data);
    assert.deepEqual(x.slice(31), data.slice(0, 4));       // teacher forcing
  }
  assert.deepEqual(task.sample(new Mulberry32(1), 16), b);         // seeded
  assert.notDeepEqual(task.sample(new Mulberry32(2), 16).inputs, b.inputs);
});

test('induction heads: the last token is the special one; its answer followed the earlier one', () => {
  const task = makeTask('induction-heads', { vocab: 8, length: 20 });
  const b = task.sample(new Mulberry32(5), 64);
  for (let s = 0; s < b.batch; s++) {
    const x = row(b.inputs, b, s), y = row(b.targets, b, s);
    const specials = x.flatMap((t, i) => (t === 7 ? [i] : []));
    assert.equal(specials.length, 2);
    assert.equal(specials[1], 19);
    assert.ok(specials[0] <= 17);
    assert.deepEqual(scored(b, s), [19]);
    assert.equal(y[19], x[specials[0] + 1]);
  }
  assert.equal(makeTask('induction-heads', { length: 256 }).sample(new Mulberry32(1), 1).length, 256);
});

test('MQAR: pairs up front, each key queried once later with its value as the target', () => {
  const task = makeTask('mqar', { vocab: 32, length: 48, pairs: 6 });
  const b = task.sample(new Mulberry32(9), 32);
  let early = 0;
  for (let s = 0; s < b.batch; s++) {
    const x = row(b.inputs, b, s), y = row(b.targets, b, s);
    const value = new Map<number, number>();
    for (let j = 0; j < 6; j++) {
      assert.ok(x[2 * j] >= 1 && x[2 * j] < 16, `key ${x[2 * j]}`);
      assert.ok(x[2 * j + 1] >= 16 && x[2 * j + 1] < 32, `value ${x[2 * j + 1]}`);
      value.set(x[2 * j], x[2 * j + 1]);
    }
    assert.equal(value.size, 6);                              // distinct keys
    const q = scored(b, s);
    assert.equal(q.length, 6);
    assert.deepEqual(new Set(q.map((i) => x[i])), new Set(value.keys()));
    for (const i of q) {
      assert.ok(i >= 12 && (i - 12) % 2 === 0);
      assert.equal(y[i], value.get(x[i]));
      if (i < 12 + 18) early++;
    }
  }
  // power law 0.01: most queries fall in the first half of the 18 gap slots; powerA 1 is uniform
  // (expected fractions, by simulating the weighted draws: 0.73 and 0.5)
  const uniform = makeTask('mqar', { vocab: 32, length: 48, pairs: 6, powerA: 1 }).sample(new Mulberry32(9), 32);
  const uniformEarly = [...uniform.targets].filter((t, i) => t !== IGNORE && i % 48 < 30).length;
  assert.ok(early / 192 > 0.68 && uniformEarly / 192 < 0.58, `early fraction ${early / 192} vs uniform ${uniformEarly / 192}`);
  assert.throws(() => makeTask('mqar', { vocab: 8, pairs: 4, length: 64 }), UserError);
  assert.throws(() => makeTask('mqar', { pairs: 8, length: 20 }), UserError);
});

test('phonebook: the query name\'s number is the target, digit by digit, in ASCII', () => {
  const task = makeTask('phonebook', { entries: 5, nameLength: 3, numberLength: 4 });
  assert.equal(task.vocabSize, 128);
  assert.equal(task.length, 5 * 9 + 1 + 3 + 1 + 3);
  const b = task.sample(new Mulberry32(3), 8);
  for (let s = 0; s < b.batch; s++) {
    const text = String.fromCharCode(...row(b.inputs, b, s));
    const lines = text.split('\n');
    assert.equal(lines.length, 6);
    const book = new Map(lines.slice(0, 5).map((l) => l.split(':') as [string, string]));
    assert.equal(book.size, 5);
    for (const [nm, num] of book) { assert.match(nm, /^[a-z]{3}$/); assert.match(num, /^\d{4}$/); }
    const m = /^\?([a-z]{3}):(\d{3})$/.exec(lines[5]);
    assert.ok(m, lines[5]);
    const want = book.get(m[1])!;
    assert.equal(m[2], want.slice(0, 3));
    const q = scored(b, s);
    assert.deepEqual(q, [task.length - 4, task.length - 3, task.length - 2, task.length - 1]);
    assert.equal(String.fromCharCode(...q.map((i) => b.targets[s * b.length + i])), want);
  }
});

test('answerAccuracy: exact match on scored positions only, per token and per sequence', () => {
  const b: Batch = { batch: 2, length: 4, inputs: new Int32Array(8),
    targets: Int32Array.of(-1, 5, -1, 6, -1, -1, 7, 8) };
  // right: 5, 6 (row 0 all right); row 1: 7 right, 8 wrong; unscored positions wrong everywhere
  const acc = answerAccuracy(Int32Array.of(9, 5, 9, 6, 9, 9, 7, 1), b);
  assert.deepEqual(acc, { accuracy: 0.75, sequenceAccuracy: 0.5, answers: 4 });
});

test('task options: parsed, unknown names and bad values are UserErrors', () => {
  assert.deepEqual(TASK_NAMES, ['selective-copying', 'induction-heads', 'mqar', 'phonebook']);
  assert.deepEqual(parseTaskOptions('pairs=8, vocab=64,powerA=0.5'), { pairs: 8, vocab: 64, powerA: 0.5 });
  assert.throws(() => parseTaskOptions('pairs'), /not name=number/);
  assert.throws(() => makeTask('mqar', { keys: 3 }), /no option "keys" \(options: vocab, length, pairs, powerA\)/);
  assert.throws(() => makeTask('copying', {}), /unknown task "copying"/);
  assert.throws(() => makeTask('selective-copying', { context: 2, memorize: 4 }), /context must be an integer >= 4/);
});
