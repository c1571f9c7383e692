/**
 * The lines of a UTF-8 text file, read in 1 MiB chunks so that memory stays flat however large
 * the file: `\n` ends a line, a `\r` before it is dropped (CRLF files), a final line without `\n`
 * still counts. Bytes that are not UTF-8 are a UserError naming the file and line.
 */
import * as fs from 'node:fs';
import { UserError } from '../../errors.js';

const CHUNK = 1 << 20;

export function* readLines(file: string): Generator<{ line: string; lineNo: number }> {
  let fd: number;
  try {
    if (!fs.statSync(file).isFile()) throw new UserError(`${file}: not a regular file`);
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const buf = Buffer.alloc(CHUNK);
  let carry = '';
  let lineNo = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      let text: string;
      try {
        text = carry + decoder.decode(buf.subarray(0, n), { stream: n > 0 });
      } catch {
        throw new UserError(`${file}: not valid UTF-8 (after line ${lineNo})`);
      }
      const parts = text.split('\n');
      carry = n > 0 ? parts.pop()! : '';
      if (n === 0 && carry === '' && parts[parts.length - 1] === '') parts.pop();
      for (const p of parts) yield { line: p.endsWith('\r') ? p.slice(0, -1) : p, lineNo: ++lineNo };
      if (n === 0) return;
    }
  } finally {
    fs.closeSync(fd);
  }
}
