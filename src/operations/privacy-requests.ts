import { createHash } from 'node:crypto';
import type { PrivacyRequest } from '../connectors/types.js';
import { openJsonBytes, SENSITIVE_PATHS } from '../core/crypto.js';
import type { CanonicalOrder, Entity } from '../core/canonical/schemas.js';
import type { Hub } from '../jobs/hub.js';
import type { WebhookJobData } from '../jobs/queues.js';
import { SNAPSHOT_AAD } from '../jobs/payments.js';
import { erasePerson } from './erasure.js';
import { scanKeys } from '../state/redis-client.js';
import { readPersonIndex } from './erasure-index.js';

/**
 * Data-subject requests a source sends by webhook (Shopify's mandatory compliance topics
 * `customers/redact`, `shop/redact`, `customers/data_request`), handled in the ingest job
 * that stored them: a redact is an erasure (erasure.ts), a data request a report of what the
 * hub holds for the person, kept for the merchant to answer with (GET /api/privacy-requests/:id).
 * Records and reports hold no personal data: kinds of records, field names, systems, dates.
 */
export interface DataReport {
  /** Whether the hub holds anything of the person. */
  found: boolean;
  records: { entity: Entity; count: number; fields: string[]; firstSeen?: string; lastChanged?: string }[];
  /** Systems the person's records were sent to or came from, by connection and entity. */
  systems: { connection: string; connector: string; entity: string; records: number }[];
  deadLetters: number;
}

export interface PrivacyRequestRecord {
  id: string;
  connection: string;
  topic: string;
  kind: PrivacyRequest['kind'];
  /** The source's id of the request (Shopify's data_request.id). */
  requestId?: string;
  receivedAt: string;
  handledAt: string;
  /** The erasures a redact made (GET /api/erasure/:id). */
  erasures?: string[];
  report?: DataReport;
}

const recordKey = (hub: Hub, id: string) => hub.store.k('privacy', id);
/** A shop's records are erased this many keys per erasure. */
const SHOP_KEYS_PER_ERASURE = 500;

export async function getPrivacyRequest(hub: Hub, id: string): Promise<PrivacyRequestRecord | null> {
  if (!/^[a-f0-9]{32}$/.test(id)) return null;
  const raw = await hub.redis.get(recordKey(hub, id));
  return raw ? (JSON.parse(raw) as PrivacyRequestRecord) : null;
}

export async function listPrivacyRequests(hub: Hub, limit = 50): Promise<PrivacyRequestRecord[]> {
  const ids = await hub.redis.zrevrange(hub.store.k('privacy', 'all'), 0, limit - 1);
  if (!ids.length) return [];
  return (await hub.redis.mget(ids.map((id) => recordKey(hub, id)))).filter((r): r is string => r !== null).map((r) => JSON.parse(r) as PrivacyRequestRecord);
}

/** The canonical keys the source's ids name (linked before), else the key an unlinked record would get. */
async function keysOf(hub: Hub, connection: string, entity: Entity, ids: string[]): Promise<string[]> {
  const known = await hub.store.keysForExternalIds(connection, entity, ids);
  return ids.map((id, i) => known[i] ?? `${entity}:${connection}:${id}`);
}

async function personOfRequest(hub: Hub, connection: string, req: PrivacyRequest): Promise<{ email?: string; customer?: string }> {
  if (req.customer?.email) return { email: req.customer.email };
  if (req.customer?.id) {
    const [key] = await hub.store.keysForExternalIds(connection, 'customer', [req.customer.id]);
    if (key?.startsWith('customer:')) return { customer: key };
  }
  return {};
}

export async function handlePrivacyRequest(hub: Hub, d: WebhookJobData, req: PrivacyRequest): Promise<PrivacyRequestRecord> {
  const id = createHash('sha256').update(`${d.connection}\n${d.eventId}`).digest('hex').slice(0, 32);
  const origin = `webhook:${d.connection}`;
  const base = { id, connection: d.connection, topic: d.topic, kind: req.kind, ...(req.requestId ? { requestId: req.requestId } : {}), receivedAt: d.receivedAt };
  let record: PrivacyRequestRecord;
  if (req.kind === 'customer_redact') {
    const person = await personOfRequest(hub, d.connection, req);
    const keys = await keysOf(hub, d.connection, 'order', (req.orders ?? []).slice(0, 10_000));
    const erasure = person.email || person.customer || keys.length ? await erasePerson(hub, { ...person, keys, origin }) : undefined;
    record = { ...base, handledAt: new Date().toISOString(), erasures: erasure ? [erasure.id] : [] };
  } else if (req.kind === 'shop_redact') {
    record = { ...base, handledAt: '', erasures: await eraseConnection(hub, d.connection, origin) };
    record.handledAt = new Date().toISOString();
  } else {
    const person = await personOfRequest(hub, d.connection, req);
    const orders = await keysOf(hub, d.connection, 'order', (req.orders ?? []).slice(0, 10_000));
    record = { ...base, handledAt: new Date().toISOString(), report: await dataReport(hub, person, orders) };
  }
  await hub.redis.multi().set(recordKey(hub, id), JSON.stringify(record)).zadd(hub.store.k('privacy', 'all'), Date.now(), id).exec();
  hub.logger.info({ privacyRequest: id, connection: d.connection, kind: req.kind, erasures: record.erasures?.length }, 'privacy request handled');
  return record;
}

/**
 * shop/redact: everything the hub holds for the shop's connection. The customers it linked are
 * erased as persons (their orders, pages and batches with them); then every other record it
 * linked; then its pipelines' samples and its tombstones.
 */
async function eraseConnection(hub: Hub, connection: string, origin: string): Promise<string[]> {
  const { store, redis } = hub;
  const erasures: string[] = [];
  // One pattern per group of cross-references: a scanned batch of one pattern is on one slot, so one MGET.
  const scanValues = async (patterns: string[]): Promise<string[]> => {
    const out = new Set<string>();
    for (const pattern of patterns) for await (const keys of scanKeys(redis, pattern)) for (const v of await redis.mget(keys)) if (v) out.add(v);
    return [...out];
  };
  for (const customer of await scanValues(store.xrefPatterns(connection, 'customer'))) {
    const r = await erasePerson(hub, { customer, origin });
    if (r.status === 'erased') erasures.push(r.id);
  }
  const rest = [...(await scanValues(store.xrefPatterns(connection, 'order'))), ...(await scanValues(store.xrefPatterns(connection, 'payment')))];
  for (let i = 0; i < rest.length; i += SHOP_KEYS_PER_ERASURE) {
    const r = await erasePerson(hub, { keys: rest.slice(i, i + SHOP_KEYS_PER_ERASURE), origin });
    if (r.status === 'erased') erasures.push(r.id);
  }
  const tx = redis.multi();
  for (const p of hub.config.pipelines.values()) if (p.source.connection === connection) tx.del(store.k('samples', p.name));
  tx.del(...['customer', 'order', 'payment'].map((e) => store.k('deleted', connection, e)));
  await tx.exec();
  return erasures;
}

/** What the hub holds of a person: kinds of records, their fields, the systems they went to, dates. No values. */
async function dataReport(hub: Hub, person: { email?: string; customer?: string }, orderKeys: string[]): Promise<DataReport> {
  const { store, config } = hub;
  const personKey = person.email ? `customer:${config.keyring.blindIndex(person.email)}` : person.customer;
  const { members } = personKey ? await readPersonIndex(store, personKey) : { members: [] };
  const keys = [...new Set([...(personKey ? [personKey] : []), ...members.filter((m) => !m.startsWith('dlq|')), ...orderKeys])];
  const deadLetters = new Set(members.filter((m) => m.startsWith('dlq|')).map((m) => m.slice(4)));
  for (const key of keys) for (const dl of await store.redis.smembers(store.k('dlq-key', key))) deadLetters.add(dl);
  // In their groups, or on the hub tag where an earlier version wrote them (StateStore.deadLettersAt).
  const present = (await store.deadLettersAt([...deadLetters])).map((d) => (d ? 1 : 0));

  const byEntity = new Map<Entity, { count: number; fields: Set<string>; firstSeen?: string; lastChanged?: string }>();
  const systems = new Map<string, { connection: string; connector: string; entity: string; records: number }>();
  for (const key of keys) {
    const entity = key.split(':')[0] as Entity;
    const links = await store.getLinks(key);
    if (!Object.keys(links).length) continue;
    const e = byEntity.get(entity) ?? { count: 0, fields: new Set(SENSITIVE_PATHS[entity].map((p) => p.filter((s) => s !== '*').join('.'))) };
    e.count++;
    byEntity.set(entity, e);
    for (const connection of Object.keys(links)) {
      const s = systems.get(`${connection}\n${entity}`) ?? { connection, connector: config.connectorOf(connection)?.id ?? 'unknown', entity, records: 0 };
      s.records++;
      systems.set(`${connection}\n${entity}`, s);
    }
    if (entity !== 'order') continue;
    const sealed = await store.orders.orderSnapshot(key);
    if (!sealed) continue;
    const order = openJsonBytes<CanonicalOrder & Record<string, unknown>>(config.keyring, sealed, SNAPSHOT_AAD);
    for (const f of Object.keys(order)) e.fields.add(f);
    if (order.createdAt && (!e.firstSeen || order.createdAt < e.firstSeen)) e.firstSeen = order.createdAt;
    if (order.updatedAt && (!e.lastChanged || order.updatedAt > e.lastChanged)) e.lastChanged = order.updatedAt;
  }
  const records = [...byEntity].map(([entity, e]) => ({ entity, count: e.count, fields: [...e.fields].sort(), ...(e.firstSeen ? { firstSeen: e.firstSeen } : {}), ...(e.lastChanged ? { lastChanged: e.lastChanged } : {}) }));
  const dl = present.filter((n) => n > 0).length;
  return { found: records.length > 0 || dl > 0, records, systems: [...systems.values()], deadLetters: dl };
}
