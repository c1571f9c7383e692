/**
 * Phonebook (Jelassi et al. 2024; Waleffe et al. 2024 §3): lines "name:number" then a query
 * "?name:" — the model must produce that name's number, digit by digit. Copying a long context
 * exactly is where fixed-state models trail attention, so hybrids are compared on it.
 *
 * Byte-level ASCII (vocab 128) so that a sequence reads as text:
 *   inputs  "abcd:1234\nefgh:5678\n ... ?efgh:567"
 *   targets  -1 ...                           "5678" at ':' and the first m-1 digits
 * Names are `nameLength` lowercase letters, distinct within a book; numbers `numberLength` digits.
 */
import { UserError } from '../errors.js';
import { buildBatch, checkInt, type Task, type TaskSpec } from './task.js';

export interface PhonebookOptions extends Record<string, number> {
  entries: number;
  nameLength: number;
  numberLength: number;
}

const code = (c: string): number => c.charCodeAt(0);
const COLON = code(':'), NEWLINE = code('\n'), QUERY = code('?'), A = code('a'), ZERO = code('0');

export const phonebook: TaskSpec<PhonebookOptions> = {
  name: 'phonebook',
  summary: 'name:number lines, then a query name: output its number (Waleffe et al. 2024)',
  defaults: { entries: 8, nameLength: 4, numberLength: 4 },
  lengthOption: 'entries',
  create(o): Task {
    const name = this.name;
    checkInt(name, 'entries', o.entries, 1);
    checkInt(name, 'nameLength', o.nameLength, 1);
    checkInt(name, 'numberLength', o.numberLength, 1);
    if (26 ** o.nameLength < o.entries) throw new UserError(`task ${name}: ${o.entries} distinct names do not fit in ${o.nameLength} letters`);
    const n = o.nameLength, m = o.numberLength;
    const line = n + 1 + m + 1;
    const length = o.entries * line + 1 + n + 1 + m - 1;
    return {
      name, vocabSize: 128, length,
      sample: (rng, batch) => buildBatch(batch, length, (x, y) => {
        const names = new Set<string>();
        while (names.size < o.entries) names.add(Array.from({ length: n }, () => String.fromCharCode(A + rng.int(26))).join(''));
        const book = [...names].map((nm) => ({ nm, digits: Array.from({ length: m }, () => ZERO + rng.int(10)) }));
        let at = 0;
        const put = (t: number) => { x[at++] = t; };
        for (const { nm, digits } of book) {
          for (const c of nm) put(code(c));
          put(COLON);
          digits.forEach(put);
          put(NEWLINE);
        }
        const q = book[rng.int(o.entries)];
        put(QUERY);
        for (const c of q.nm) put(code(c));
        put(COLON);
        q.digits.forEach((d, i) => {
          y[at - 1] = d;
          if (i + 1 < m) put(d);
        });
      }),
    };
  },
};
