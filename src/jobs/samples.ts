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

/** Queues the capture of the newest records of a batch on the batch's own transaction. */
export function captureSamples(hub: Hub, tx: ChainableCommander, pipeline: string, raws: unknown[]): void {
  if (!raws.length) return;
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
