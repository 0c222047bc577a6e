import type { RunState } from '../state/store.js';

/**
 * What `synchub sync PIPELINE --wait` shows while it waits. On a terminal: one progress
 * line rewritten in place (pages, records pushed / skipped / dead-lettered, records/s) and a
 * table at the end. Piped or redirected: the final counts only, one line, as scripts expect.
 * No source reports its total count up front here, so there is no estimate of the time left.
 */
export interface RunProgress {
  update(run: RunState): void;
  finish(run: RunState): void;
}

const n = (v: number) => v.toLocaleString('en-US');

const settled = (run: RunState) => run.pushed + run.skipped + run.dead;

function rate(run: RunState, now: number): number {
  const seconds = (now - Date.parse(run.startedAt)) / 1000;
  return seconds > 0 ? settled(run) / seconds : 0;
}

export function progressLine(run: RunState, now = Date.now()): string {
  const pulling = run.pullDone ? `${n(run.expected)} to settle` : 'pulling';
  return `pages ${n(run.pages)} (${pulling}) · pushed ${n(run.pushed)} · skipped ${n(run.skipped)} · dead-lettered ${n(run.dead)} · ${n(Math.round(rate(run, now)))} records/s`;
}

export function finalTable(run: RunState, now = Date.now()): string {
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  const seconds = Math.max(0, (end - Date.parse(run.startedAt)) / 1000);
  const rows: [string, string][] = [
    ['pages', n(run.pages)],
    ['record deliveries', n(run.expected)],
    ['pushed', n(run.pushed)],
    ['skipped (unchanged)', n(run.skipped)],
    ['dead-lettered', n(run.dead)],
    ...(run.deleted ? [['deleted at source', n(run.deleted)] as [string, string]] : []),
    ['time', `${seconds.toFixed(1)} s`],
    ['records/s', n(Math.round(seconds > 0 ? settled(run) / seconds : 0))],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v.padStart(10)}`).join('\n');
}

/** The counts line every mode prints at the end (tests and scripts read it). */
export const doneLine = (run: RunState) =>
  `run ${run.id} done: ${run.expected} record deliveries — pushed ${run.pushed}, skipped ${run.skipped}, dead-lettered ${run.dead}`;

export function runProgress(out: NodeJS.WriteStream): RunProgress {
  if (!out.isTTY) {
    return { update() {}, finish: (run) => out.write(`${doneLine(run)}\n`) };
  }
  let shown = false;
  const clear = () => out.write('\r\x1b[2K');
  return {
    update(run) {
      clear();
      // Cut to the terminal's width so the line is rewritten in place, never wrapped (a terminal that tells no width: as it is).
      const line = progressLine(run);
      out.write(out.columns ? line.slice(0, Math.max(20, out.columns - 1)) : line);
      shown = true;
    },
    finish(run) {
      if (shown) clear();
      out.write(`${doneLine(run)}\n${finalTable(run)}\n`);
    },
  };
}
