/** How speeds read on stderr and in tables: tokens, seconds and tokens/s with sensible digits. */
import { tokensPerSecond } from '../generate/generate.js';

export function formatSpeed(what: string, tokens: number, seconds: number): string {
  return `${what} ${tokens} tokens in ${seconds.toFixed(2)} s (${formatRate(tokensPerSecond(tokens, seconds))} tokens/s)`;
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond >= 10 ? perSecond.toFixed(1) : perSecond.toFixed(2);
}
