/**
 * An identity of a model folder for state files: saved states only fit the weights they came
 * from. sha256 over config.json and each file's name, size, first and last 64 KiB (cheap for
 * large checkpoints, and changed by any re-save in practice).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

const EDGE = 64 * 1024;

export function modelFingerprint(dir: string): string {
  const h = createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    const stat = fs.statSync(file);
    if (!stat.isFile()) continue;
    h.update(`${name}\0${stat.size}\0`);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.min(EDGE, stat.size));
      fs.readSync(fd, buf, 0, buf.length, 0);
      h.update(buf);
      fs.readSync(fd, buf, 0, buf.length, stat.size - buf.length);
      h.update(buf);
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex').slice(0, 32);
}
