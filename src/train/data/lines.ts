/**
 * The lines of a UTF-8 text file, read in 1 MiB chunks so that memory stays flat however large
 * the file: `\n` ends a line, a `\r` before it is dropped (CRLF files), a final line without `\n`
 * still counts. Bytes that are not UTF-8 are a UserError naming the file and line.
 */
import { utf8Chunks } from '../../io/files.js';

export function* readLines(file: string): Generator<{ line: string; lineNo: number }> {
  let carry = '';
  let lineNo = 0;
  for (const chunk of utf8Chunks(file, () => `not valid UTF-8 (after line ${lineNo})`)) {
    const end = chunk.bytes.length === 0;
    const parts = (carry + chunk.text).split('\n');
    carry = end ? '' : parts.pop()!;
    if (end && parts[parts.length - 1] === '') parts.pop();
    for (const p of parts) yield { line: p.endsWith('\r') ? p.slice(0, -1) : p, lineNo: ++lineNo };
  }
}
