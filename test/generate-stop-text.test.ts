/** StopText: the text before a stop string is never lost, the stop string is kept, the rest dropped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopText } from '../src/generate/stop-text.js';

const run = (stop: string, pieces: string[]) => {
  const s = new StopText([stop], true);
  const out = pieces.map((p) => s.push(p));
  return { out, stopped: s.stopped, rest: s.flush() };
};

test('a stop string inside one piece: text before it and the stop string, nothing after', () => {
  assert.deepEqual(run('END', ['hello ', 'wor', 'ldENDmore', 'never']), { out: ['hello ', 'wor', 'ldEND', ''], stopped: true, rest: '' });
});

test('a stop string that begins inside a piece and ends in a later one', () => {
  // "\n\n" starts at the end of "cat.\n" and completes in "\nThe"
  assert.deepEqual(run('\n\n', ['The cat', '.\n', '\nThe dog']), { out: ['The cat', '.', '\n\n'], stopped: true, rest: '' });
  assert.deepEqual(run('abcd', ['xab', 'c', 'dy']), { out: ['x', '', 'abcd'], stopped: true, rest: '' });
});

test('a partial match that does not complete is released, and held text comes out on flush', () => {
  assert.deepEqual(run('abcd', ['xab', 'cz', 'ab']), { out: ['x', 'abcz', ''], stopped: false, rest: 'ab' });
  // only the part that can still start the stop string is held: of "aa", the last "a"
  assert.deepEqual(run('abc', ['aa', 'b', 'c']), { out: ['a', '', 'abc'], stopped: true, rest: '' });
});
