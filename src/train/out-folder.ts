/**
 * The --out folder belongs to one training run at a time: an exclusive lock file (created with
 * O_EXCL, holding the pid and host) refuses a second `train` on the same folder, and a lock left
 * by a process that is gone (killed, machine rebooted) is taken over with a note. Under the lock,
 * temporary files that a killed checkpoint write left behind are removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../errors.js';

export const LOCK_FILE = 'train.lock';

interface Owner {
  pid: number;
  host: string;
}

/** Takes the folder's lock (creating the folder); returns the function that releases it. */
export function lockOutFolder(dir: string, note: (line: string) => void): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid, host: os.hostname() };
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me) + '\n');
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new UserError(`${file}: cannot create the lock (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    }
    const owner = readOwner(file);
    if (owner && (owner.host !== me.host || alive(owner.pid))) {
      const where = owner.host === me.host ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`;
      throw new UserError(`${dir}: another training run (${where}) is using this folder; wait for it to end or use another --out`);
    }
    // a lock half-written by a killed process (no owner) is as stale as one whose process died
    note(`mamba-ts: ${dir}: taking over the lock of ${owner ? `pid ${owner.pid}, which is no longer running` : 'a run that was killed'}`);
    fs.rmSync(file, { force: true });
  }
  const release = () => {
    if (readOwner(file)?.pid === me.pid) fs.rmSync(file, { force: true });
    process.off('exit', release);
  };
  // a second Ctrl-C ends the process from its signal handler: the lock must go with it
  process.on('exit', release);
  return release;
}

function readOwner(file: string): Owner | undefined {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Owner>;
    return Number.isSafeInteger(o.pid) && typeof o.host === 'string' ? { pid: o.pid!, host: o.host } : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists under another user
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the `.NAME.PID.TIME.tmp` files of atomic writes (io/files.ts) that a kill interrupted; returns their names. */
export function removeOrphanTemps(dir: string): string[] {
  const orphans = fs.readdirSync(dir).filter((f) => /^\..+\.tmp$/.test(f));
  for (const f of orphans) fs.rmSync(path.join(dir, f), { force: true });
  return orphans;
}
