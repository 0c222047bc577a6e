import type { ChainableCommander } from 'ioredis';
import { openJson, sealJson } from '../core/crypto.js';
import type { Hub } from './hub.js';

/**
 * The last few records each pipeline's source really sent, in the API's shape,
 * sealed with the keyring: the mapping playground offers them as sample inputs.
 */
export const SAMPLES_KEPT = 5;

const sampleAad = (pipeline: string) => `sample:${pipeline}`;
const samplesKey = (hub: Hub, pipeline: string) => hub.store.k('samples', pipeline);

export interface Sample {
  index: number;
  capturedAt: string;
  record: unknown;
}

/**
 * Webhook events are ingested in micro-batches of a few to 100 (webhook-batch.ts): under load,
 * sealing and writing 5 samples for each would cost about as much as the records themselves,
 * so one process captures a pipeline's webhook samples at most this often. A trickle is
 * captured event by event.
 */
export const WEBHOOK_SAMPLES_EVERY_MS = 1000;

const lastCapture = new WeakMap<Hub, Map<string, number>>();

/**
 * Queues the capture of the newest records of a batch on the batch's own transaction; with
 * `everyMs`, not when this process captured the pipeline's samples less than that long ago.
 */
export function captureSamples(hub: Hub, tx: ChainableCommander, pipeline: string, raws: unknown[], everyMs = 0): void {
  if (!raws.length) return;
  if (everyMs > 0) {
    let last = lastCapture.get(hub);
    if (!last) lastCapture.set(hub, (last = new Map()));
    const now = Date.now();
    if (now - (last.get(pipeline) ?? -Infinity) < everyMs) return;
    last.set(pipeline, now);
  }
  const at = new Date().toISOString();
  const newest = raws.slice(-SAMPLES_KEPT);
  const key = samplesKey(hub, pipeline);
  tx.lpush(key, ...newest.map((r) => JSON.stringify({ at, sealed: sealJson(hub.config.keyring, r, sampleAad(pipeline)) })));
  tx.ltrim(key, 0, SAMPLES_KEPT - 1);
}

/** Newest first. */
export async function readSamples(hub: Hub, pipeline: string): Promise<Sample[]> {
  const raw = await hub.redis.lrange(samplesKey(hub, pipeline), 0, SAMPLES_KEPT - 1);
  return raw.map((r, index) => {
    const { at, sealed } = JSON.parse(r) as { at: string; sealed: string };
    return { index, capturedAt: at, record: openJson(hub.config.keyring, sealed, sampleAad(pipeline)) };
  });
}
