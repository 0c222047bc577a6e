import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface Row { benchmark: string; measure: string; value: string; baseline: string; ratio: string; target?: string; met?: string }

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

export function machine(redisBin = 'redis-server'): Record<string, string> {
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync(redisBin, ['--version']).toString())?.[1] ?? redis;
  } catch { /* reported as unknown */ }
  return { cpus: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`, node: process.version, redis, load: os.loadavg().map((l) => l.toFixed(2)).join(' ') };
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function table(rows: Row[]): string {
  const head = '| benchmark | measure | synchub | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.benchmark} | ${r.measure} | ${r.value} | ${r.baseline} | ${r.ratio} | ${r.target ?? ''} | ${r.met ?? ''} |`)].join('\n');
}

/** A process's peak resident memory and CPU time so far (user + system), from /proc (Linux). */
export const procStat = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = 100; // USER_HZ
  return { peakRssMb: Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024, cpuMs: ((Number(stat[11]) + Number(stat[12])) / ticks) * 1000 };
};

/**
 * The Shopify sandbox's GraphQL cost bucket in the benchmarks: large enough never to throttle,
 * so the figures are the hub's. On a real shop paged GraphQL reads are bound by the plan's
 * restore rate (an order page of 12 asks about 974 points: ~12 orders/s on Plus at 1,000
 * points/s), which is why full pulls go through a bulk operation.
 */
export const BENCH_SHOP_GRAPHQL = { maximumAvailable: 1e12, restoreRate: 1e12 };
