import type { Redis } from 'ioredis';
import type { Keyring } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import type { Entity, OrderStatus, PaymentStatus } from '../core/canonical/schemas.js';
import type { SynchubError } from '../core/errors.js';

export type ConnectorKind = 'crm' | 'ecommerce' | 'payment' | 'erp';

export interface EntityCapabilities {
  /** Records can be read page by page (scheduled or manual sync). */
  pull?: boolean;
  /** Records can be created or updated in this system. */
  push?: boolean;
  /** The system posts events for this entity to /webhooks/:connection. */
  webhook?: boolean;
  /**
   * How the hub learns that a record was deleted in this system: by `webhook` events, on `pull`
   * (incremental runs read the deleted list). Absent: it cannot see deletions (its docs say so).
   */
  deletions?: readonly ('webhook' | 'pull')[];
  /** How the connector removes a record of this entity when a deletion is propagated (ConnectorClient.remove). Absent: not supported. */
  remove?: 'delete' | 'archive';
  /**
   * What a pipeline target's `onDelete` may choose for this entity besides `remove`, the default:
   * `delete` or `archive` (remove with that mode), `mark` (ConnectorClient.mark: set a field).
   * Absent: only the default.
   */
  onDelete?: readonly OnDelete[];
}

/** What a propagated deletion does to the linked record in a target (a pipeline target's `onDelete`). */
export type OnDelete = 'delete' | 'archive' | 'mark';

/** The field a target sets on a record deleted at the source (`onDelete: mark`). */
export interface DeletedMark { field: string; value: string | number | boolean }

/** A JSON Schema fragment (kept loose: AJV checks the schemas themselves at start-up). */
export type JsonSchema = Record<string, unknown>;

/** One connection of config, after interpolation and validation against the connector's schema. */
export interface Connection {
  name: string;
  connector: string;
  baseUrl?: string;
  credentials: Record<string, string>;
  /** Per-connection HTTP settings. */
  http: HttpSettings;
  /** Connector-specific options (apiVersion, dealStages, …), validated by the connector's optionsSchema. */
  options: Record<string, unknown>;
  /** Job-level retries of pushes to this connection; `jobs.attempts` / `jobs.backoffMs` when unset. */
  retry?: { attempts?: number; backoffMs?: number };
  /** Circuit breaker of pushes to this connection. */
  breaker?: { threshold?: number; cooldownMs?: number; maxCooldownMs?: number };
}

export interface HttpSettings {
  /** Per-call timeout. Default 30000. */
  timeoutMs: number;
  /** In-call retries of retryable failures before the error reaches the job layer. Default 2. */
  retries: number;
  /** First in-call backoff step, doubled each retry, with jitter. Default 500. */
  retryBaseMs: number;
  /** Longest Retry-After honoured inside one call; longer waits go to the job layer. Default 10000. */
  maxInlineWaitMs: number;
  /** Rate limit for pushes across all workers: at most `max` calls per `perMs`. Connector default when unset. */
  rateLimit?: { max: number; perMs: number };
}

export interface PullRequest {
  /** Where to continue: null for a full sync from the beginning. Opaque to the engine. */
  cursor: unknown;
  /** Records a page should hold at most (the pipeline's batchSize, capped by the API). */
  pageSize: number;
  signal?: AbortSignal;
  /** Order numbers the hub still sees awaiting payment, created more than `olderThanMs` ago: for payment providers that can only be queried order by order. */
  pendingOrders?: (olderThanMs: number, limit: number) => Promise<string[]>;
}

export interface PullPage {
  /** Records in the API's own shape; map-in turns them into canonical records. */
  records: unknown[];
  /** State after this page. When `done`, it is the incremental cursor for the next run. */
  cursor: unknown;
  done: boolean;
  /** Records the source reports deleted (its own ids): the hub records them as tombstones and pushes nothing. */
  deletions?: { id: string; deletedAt?: string }[];
  /**
   * The answer's bytes as received, kept (sealed) as the page instead of the records' JSON
   * written again: either a JSON body whose `recordsAt` array is exactly `records`, or bytes
   * in a `format` of the connector's own that its definition's `pageFormats[format]` turns
   * back into exactly `records` (a Shopify bulk page's JSONL lines).
   */
  raw?: { body: Buffer; recordsAt: string } | RawPageOfFormat;
  /** What the run should say it could not see (e.g. orders older than the API shows): kept on the run and logged. */
  notices?: string[];
}

/** A pulled page's bytes in a format of its connector's own (PullPage.raw). */
export interface RawPageOfFormat {
  /** The bytes, in parts (sealed as their concatenation). */
  body: readonly Buffer[];
  /** The connector whose definition reads them back (its id). */
  connector: string;
  /** A key of that definition's `pageFormats`. */
  format: string;
}

export interface PushItem {
  /** The hub's canonical key of the record. */
  key: string;
  /** Id of the record in this system when the links store knows it. */
  externalId?: string;
  /** The record in the API's shape (output of the out-mapping). */
  payload: Record<string, unknown>;
}

/**
 * One record's result. A failed one is dead-lettered when its error is permanent; when it is
 * retryable (a throttled or 5xx operation, a record not sent yet) the job records the other
 * outcomes and tries that record again later: a connector that wrote some records returns
 * their outcomes rather than throwing, so they are never sent twice.
 */
export type PushOutcome =
  | { key: string; ok: true; externalId: string }
  | { key: string; ok: false; error: SynchubError };

export type RemoveOutcome = { id: string; ok: true } | { id: string; ok: false; error: SynchubError };

export interface WebhookRequest {
  method: string;
  /** Full URL as received (scheme, host, path, query). */
  url: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  rawBody: Buffer;
}

export interface WebhookReply {
  status: number;
  body?: string;
  contentType?: string;
}

export interface WebhookEvent {
  /** The id the provider keeps across retries: the hub deduplicates on it. */
  id: string;
  /**
   * A second dedupe key, when `id` comes from an unsigned header: the signed body's hash
   * (see contentDedupeId). An event whose id or content key was seen is a duplicate.
   */
  contentId?: string;
  topic: string;
  entity: Entity;
  /** The record in the API's shape, when the event carries it. */
  record?: unknown;
  /**
   * With `record`, when the record is the whole body: the body's bytes as received (the JSON
   * `record` was parsed from), sealed as they are instead of writing the record's JSON again.
   */
  recordJson?: Buffer;
  /** Id to fetch the record with, when the event carries only a reference. */
  ref?: string;
  occurredAt?: string;
  /**
   * The record `ref` names was deleted at the source (`always`), or is deleted when fetching it
   * finds nothing (`if_gone`: WooCommerce's order.deleted also fires when an order is trashed).
   */
  deletion?: 'always' | 'if_gone';
}

/**
 * A data-subject request a source sent by webhook (Shopify's mandatory compliance topics):
 * stored sealed like an event and handled in a job (src/operations/privacy-requests.ts).
 */
export interface PrivacyRequest {
  /** The id the provider keeps across retries. */
  id: string;
  contentId?: string;
  topic: string;
  kind: 'customer_redact' | 'shop_redact' | 'customer_data_request';
  /** The person as the source names them (personal: sealed before it is stored). */
  customer?: { id?: string; email?: string };
  /** The source's ids of the person's orders the request names. */
  orders?: string[];
  /** The source's own id of the request (Shopify's data_request.id), to answer it by. */
  requestId?: string;
}

export interface WebhookDelivery {
  events: WebhookEvent[];
  /** Data-subject requests (erase a person, erase a shop's data, report what is held). */
  privacy?: PrivacyRequest[];
  /** A reply other than the default (e.g. a ping that is answered and not stored). */
  reply?: WebhookReply;
  /** The source says a background export is done: page jobs waiting on these keys poll now (src/jobs/source-wake.ts). */
  wake?: string[];
}

export interface WebhookHandler {
  /** Verifies the request with the provider's scheme (timing-safe) and parses it. Throws WebhookSignatureError or WebhookMalformedError. */
  verify(req: WebhookRequest, signal?: AbortSignal): Promise<WebhookDelivery> | WebhookDelivery;
  /** The exact answer the provider expects once the events are stored. Default: 200 `{"ok":true}`. */
  acknowledge?(delivery: WebhookDelivery): WebhookReply;
  /** The answer for a refused or unstored delivery. Default: JSON error. */
  reject?(status: number, err: SynchubError): WebhookReply;
}

/** How a pipeline uses a connection: pulls from it (source) or writes to it (target). */
export interface ConnectionUse {
  pipeline: string;
  entity: Entity;
  role: 'source' | 'target';
}

/** What `synchub check` learns from the remote system about a connection. */
export interface ConnectionInspection {
  /** Each breaks a pipeline (e.g. a missing access scope), naming it. */
  problems: string[];
  /** What works but with a limit an admin should know (an API version answered by another, 60 days of orders). */
  notices: string[];
}

export interface ConnectorClient {
  pull(entity: Entity, req: PullRequest): Promise<PullPage>;
  push(entity: Entity, items: PushItem[], signal?: AbortSignal): Promise<PushOutcome[]>;
  /** Reads one record by id in the API's shape; null when it no longer exists. */
  fetch(entity: Entity, id: string, signal?: AbortSignal): Promise<unknown | null>;
  /**
   * Reads several records by id in as few calls as the API allows, where it has a way to
   * (webhook events that only name their records are fetched this way). The answer holds
   * the records found, by id; an id it lacks no longer exists at the source.
   */
  fetchMany?(entity: Entity, ids: string[], signal?: AbortSignal): Promise<Map<string, unknown>>;
  /**
   * Deletes (or archives) records of this system by its ids, when a deletion or an erasure is
   * propagated; present when some entity's capabilities name `remove`. `mode` is a target's
   * `onDelete` (one of the entity's `onDelete` capabilities; default: its `remove`). An id the
   * system no longer has counts as removed.
   */
  remove?(entity: Entity, ids: string[], signal?: AbortSignal, mode?: 'delete' | 'archive'): Promise<RemoveOutcome[]>;
  /**
   * Sets `mark.field` to `mark.value` on records of this system by its ids (`onDelete: mark`), where
   * some entity's capabilities list `mark`. An id the system no longer has counts as done.
   */
  mark?(entity: Entity, ids: string[], mark: DeletedMark, signal?: AbortSignal): Promise<RemoveOutcome[]>;
  /** Present when the connection can receive webhooks (the connector supports them and the connection has their secret). */
  webhooks?: WebhookHandler;
  /** Asks the remote system what this connection may do (granted scopes, API version) for `synchub check`. */
  inspect?(uses: ConnectionUse[], signal?: AbortSignal): Promise<ConnectionInspection>;
  /** Safe to call twice. */
  close(): Promise<void>;
}

export interface ConnectorContext {
  logger: Logger;
  /**
   * The hub's Redis, key prefix and keyring, for state a connection's clients share across
   * workers and processes (OAuth tokens, rotating refresh tokens). Absent in one-off clients.
   */
  shared?: { redis: Redis; prefix: string; keyring: Keyring };
}

/** One webhook subscription (webhook, endpoint, channel) as the provider lists it; never holds a secret. */
export interface WebhookSubscription {
  id: string;
  /** Topics or event types it delivers, in the provider's own words (ORDERS_CREATE, order.created, Deals.all, …). */
  topics: string[];
  /** Where the provider delivers them. */
  url: string;
  /** The provider's status word when it has one (active, disabled, paused, …). */
  status?: string;
  /** When it stops delivering unless renewed (Zoho channels). */
  expiresAt?: string;
}

export interface WebhookSubscriptionChange {
  action: 'created' | 'updated' | 'renewed';
  subscription: WebhookSubscription;
}

export interface EnsureSubscriptionsResult {
  changes: WebhookSubscriptionChange[];
  /**
   * A secret the provider hands out once, on creation (Stripe's endpoint signing secret), and the
   * credential it belongs in. The CLI writes it only where the user asked; it is never logged.
   */
  secret?: { value: string; credential: string };
  /** What the user must do next, in plain words (where an id goes, when to renew). No secrets. */
  notes: string[];
}

/** Lists and creates a connection's webhook subscriptions through the provider's API. */
export interface WebhookSubscriptionApi {
  list(signal?: AbortSignal): Promise<WebhookSubscription[]>;
  /**
   * Makes `url` receive every topic of `wanted`: `missing` are those no listed subscription at
   * `url` delivers yet, `ours` the listed subscriptions at `url`, `listed` all of them. Creates
   * nothing a listed one covers (a renewal of an expiring channel is the exception, and says so).
   */
  ensure(req: { url: string; wanted: string[]; missing: string[]; ours: WebhookSubscription[]; listed: WebhookSubscription[]; keepsSecret: boolean; signal?: AbortSignal }): Promise<EnsureSubscriptionsResult>;
}

/** How a connector's webhook subscriptions are made (`synchub webhooks`). */
export interface WebhookSubscriptionSupport {
  /** How to set up deliveries to the hub when the API cannot (the not_supported message), or what the command does. */
  howTo: string;
  /** Topics a pipeline taking webhooks of `entity` from this connection needs, in the provider's words. */
  topics?(entity: Entity, connection: Connection): string[];
  /** The URL the provider must call when the connection names its own (behind a proxy); default `server.publicUrl` + the webhook route. */
  url?(connection: Connection): string | undefined;
  /** Present when the provider's API lists and creates subscriptions; throws NotSupportedError when this connection's app type cannot. */
  open?(connection: Connection, ctx: ConnectorContext): WebhookSubscriptionApi;
}

export interface ConnectorDefinition {
  id: string;
  kind: ConnectorKind;
  title: string;
  /** Default API host when the connection sets no baseUrl. */
  defaultBaseUrl?: string;
  entities: Partial<Record<Entity, EntityCapabilities>>;
  /** Connection options besides connector, baseUrl, http and credentials. */
  optionsSchema: { properties: Record<string, JsonSchema>; required?: string[] };
  credentialsSchema: JsonSchema;
  /** The system's status words → canonical, used by `$status()` in mappings. */
  statusMap?: { order?: Record<string, OrderStatus>; payment?: Record<string, PaymentStatus> };
  /**
   * Where the API's own record shapes (pulled, fetched, received by webhook, pushed) hold
   * personal data: dot-separated paths, an array on the way entered element by element,
   * everything under a path counted. Admin answers mask these fields and every occurrence
   * of their values; error texts of the connection are scrubbed of them (src/core/redact.ts).
   */
  personalFields: string[];
  /**
   * Capabilities of the system this connector does not offer (yet), each with the reason: its docs
   * list them, and a connection that asks for one is refused at start-up with `not_supported`.
   */
  notSupported?: Record<string, string>;
  /**
   * How this connection sees deletions of an entity, when that depends on its options (Dynamics:
   * only tables with change tracking on); absent: the entity's `deletions` capability.
   */
  deletionsOf?(connection: Connection, entity: Entity): readonly ('webhook' | 'pull')[];
  /**
   * Readers of the page formats its pulls keep raw (PullPage.raw with a `format`): the bytes
   * back into the page's records, exactly as the pull returned them. They run when a kept page
   * is opened again (a page job taken up again, a dead letter's source, an erasure), so they
   * must not depend on anything but the bytes.
   */
  pageFormats?: Record<string, (body: Buffer) => unknown[]>;
  /** Push batch size the API allows at most. */
  maxPushBatch?: number;
  /** Push rate limit when the connection sets none. */
  defaultRateLimit?: { max: number; perMs: number };
  /** Checks a schema cannot express (a PEM key that parses, …); returns problems as `path: message`, relative to the connection. */
  check?(connection: Connection): string[];
  /** Webhook subscriptions from the CLI (`synchub webhooks list|subscribe`); absent means the API has no way to make them. */
  webhookSubscriptions?: WebhookSubscriptionSupport;
  create(connection: Connection, ctx: ConnectorContext): ConnectorClient;
}

/** Types the definition; does no work. */
export function defineConnector(definition: ConnectorDefinition): ConnectorDefinition {
  return definition;
}
