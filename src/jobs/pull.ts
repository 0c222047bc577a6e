import { applyDeletions } from '../operations/deletions.js';
import type { Job } from 'bullmq';
import { PipelinePausedError } from '../core/errors.js';
import type { PullPage } from '../connectors/types.js';
import { pulledPageId } from '../state/store.js';
import type { Hub } from './hub.js';
import { ingestRecords } from './ingest.js';
import { openSourcePage, sealPulledPage } from './source-pages.js';
import { jobId, type PullJobData, type StartJobData } from './queues.js';

const PULL_JOB_OPTIONS = { attempts: 10, backoff: { type: 'exponential', delay: 2000, jitter: 0.5 }, removeOnComplete: { age: 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

/** Opens a run (or joins the one in progress) and queues its first page. */
export async function startRun(hub: Hub, pipelineName: string, full: boolean): Promise<{ runId: string; started: boolean }> {
  const pipeline = hub.config.pipelines.get(pipelineName);
  if (!pipeline) throw new Error(`no pipeline named ${pipelineName}`);
  if (!hub.config.connectorOf(pipeline.source.connection).entities[pipeline.source.entity]?.pull) {
    throw new Error(`pipeline ${pipelineName}: its source cannot be pulled`);
  }
  if (await hub.store.pausedSince(pipelineName)) throw new PipelinePausedError(pipelineName);
  const run = await hub.store.beginRun(pipelineName, full);
  if (run.started) {
    const cursor = full ? null : await hub.store.getCursor(pipelineName);
    const data: PullJobData = { pipeline: pipelineName, runId: run.runId, seq: 0, cursor };
    await hub.pullQueue.add('page', data, { ...PULL_JOB_OPTIONS, jobId: jobId(run.runId, 'p', 0) });
    hub.logger.info({ pipeline: pipelineName, runId: run.runId, full }, 'run started');
  }
  return run;
}

/** A scheduled tick: the scheduler's job opens a run unless one is in progress. */
export async function processStart(hub: Hub, job: Job<StartJobData>): Promise<string> {
  try {
    return (await startRun(hub, job.data.pipeline, job.data.full)).runId;
  } catch (err) {
    if (!(err instanceof PipelinePausedError)) throw err;
    hub.logger.info({ pipeline: job.data.pipeline }, 'scheduled run skipped: the pipeline is paused');
    return 'paused';
  }
}

/**
 * One page: pull → keep it (sealed) → queue the next page → ingest (map in … hand on) →
 * record the page. The next page is queued before this one is ingested, so pages of a run
 * are ingested side by side by every worker with a free slot. The page job holds its own
 * cursor, and the pulled page is kept until it is handed on, so a worker that dies mid-page
 * leaves the job to be taken up again with the same records; re-handing a page queues
 * nothing twice.
 */
export async function processPage(hub: Hub, job: Job<PullJobData>, signal?: AbortSignal): Promise<{ records: number; done: boolean } | { recordedBefore: true }> {
  const { pipeline: name, runId, seq, cursor } = job.data;
  const pipeline = hub.config.pipelines.get(name);
  if (!pipeline) throw new Error(`no pipeline named ${name}`);
  const { keyring } = hub.config;
  const aad = pageAad(runId, seq);
  // Taken up again after it finished (a stalled job whose first run completed): its page may be
  // gone already, and pulling it again would hand on records no push job settles any more.
  const recordedBefore = { recordedBefore: true } as const;
  if (await hub.store.pageRecorded(runId, seq)) {
    // Its first run may have stopped right after recording it, before its bytes were released.
    await hub.store.releaseSettledPages([pulledPageId(runId, seq)]);
    return recordedBefore;
  }

  const kept = await hub.store.pulledPage(runId, seq);
  let page: PullPage;
  if (kept) {
    page = openSourcePage(keyring, kept, aad) as PullPage;
  } else {
    page = await hub.client(pipeline.source.connection).pull(pipeline.source.entity, {
      cursor, pageSize: pipeline.batchSize, signal,
      pendingOrders: (olderThanMs, limit) => hub.store.orders.pendingOrders(olderThanMs, limit),
    });
    if (page.notices?.length) await recordRunNotices(hub, name, runId, page.notices);
    // Raw records hold personal data: sealed like every source record before they reach Redis.
    // The kept page is also where its records' sources wait for their pushes (a source page).
    const sealed = sealPulledPage(keyring, page, aad);
    // Sealed: ingest reads the records, and the bytes received need not live while it runs.
    page.raw = undefined;
    if (!(await hub.store.keepPulledPage(runId, seq, sealed))) return recordedBefore;
  }
  if (!page.done) {
    const next: PullJobData = { pipeline: name, runId, seq: seq + 1, cursor: page.cursor };
    await hub.pullQueue.add('page', next, { ...PULL_JOB_OPTIONS, jobId: jobId(runId, 'p', seq + 1) });
  }
  const handed = await ingestRecords(hub, pipeline, page.records, { runId, seq, deadLetterBase: jobId(runId, seq), sourcePage: { id: pulledPageId(runId, seq), aad } });
  if (page.deletions?.length) await applyDeletions(hub, pipeline, page.deletions, runId);
  await hub.store.recordPage(name, runId, { seq, deliveries: handed.deliveries, records: page.records.length, checkpoint: page.cursor, last: page.done });
  return { records: page.records.length, done: page.done };
}

const pageAad = (runId: string, seq: number) => `page:${runId}:${seq}`;

/** What the source says the run cannot see: on the run (admin API, `sync --wait`) and in the log. */
async function recordRunNotices(hub: Hub, pipeline: string, runId: string, notices: string[]): Promise<void> {
  await hub.store.addRunNotices(runId, notices);
  for (const notice of notices) hub.logger.warn({ pipeline, runId }, `run ${runId}: ${notice}`);
}

export { PULL_JOB_OPTIONS };
