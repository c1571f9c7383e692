/**
 * The fuzzer's child process: runs the cases run.ts sends, one at a time, in this process, and
 * answers each with its outcome and the peak memory it took (Linux: VmHWM, reset per case
 * through /proc/self/clear_refs). run.ts kills it when a case runs past the time limit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildCase, classify, type Format, type Result } from './cases.js';
import { corpusCase } from './corpus.js';
import { caseSeed, FuzzRng } from './mutate.js';

export type Request = { format: Format; seed: number; index: number } | { corpus: string };
export type Reply = Result & { index: number | string; peakMb: number; what: string };

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mamba-ts-fuzz-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
process.on('disconnect', () => process.exit(0));

function kb(field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

process.on('message', async (req: Request) => {
  const index = 'corpus' in req ? req.corpus : req.index;
  let what = String(index);
  const before = kb('VmRSS');
  const resettable = resetPeak();
  let result: Result;
  try {
    const c = 'corpus' in req ? corpusCase(req.corpus, work) : buildCase(req.format, new FuzzRng(caseSeed(req.seed, req.format, req.index)), work);
    what = c.what;
    result = await c.run();
  } catch (e) {
    result = classify(e, `building ${what}`);
  }
  const peak = resettable ? kb('VmHWM') : kb('VmRSS');
  for (const f of fs.readdirSync(work)) fs.rmSync(path.join(work, f), { recursive: true, force: true });
  const reply: Reply = { ...result, index, what, peakMb: Math.max(0, peak - before) / 1024 };
  process.send!(reply);
});
process.send!({ ready: true });
