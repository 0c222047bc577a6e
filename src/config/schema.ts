import { ENTITIES } from '../core/canonical/schemas.js';
import { emailSinkSchema, encryptForSchema } from '../notify/config.js';
import { sealingSchema } from './sealing.js';

/** A notification sink of a pipeline (issue: admin surface). */
export const notifySinkSchema = {
  type: 'object', required: ['type'],
  properties: { type: { enum: ['webhook', 'rabbitmq', 'email'], description: 'webhook: signed HTTP POSTs; rabbitmq: a topic exchange; email: mail through an SMTP server' } },
  // if/then rather than oneOf, so a mistake is reported against the sink's own type only.
  allOf: [
    { if: { properties: { type: { const: 'webhook' } } }, then: {
      type: 'object', additionalProperties: false, required: ['type', 'url', 'secret'],
      properties: {
        type: { const: 'webhook' },
        url: { type: 'string', pattern: '^https?://', description: 'Receives POSTed JSON events', examples: ['https://erp.example.com/hooks/synchub'] },
        secret: { type: 'string', minLength: 16, description: 'Key of the X-Synchub-Signature HMAC (use ${VARIABLE})' },
        attempts: { type: 'integer', minimum: 1, default: 6, description: 'Deliveries tried before the event is dead-lettered' },
        backoffMs: { type: 'integer', minimum: 1, default: 1000, description: 'First retry delay, doubled each attempt, with jitter' },
        timeoutMs: { type: 'integer', minimum: 100, default: 10000 },
        encryptFor: encryptForSchema,
      },
    } },
    { if: { properties: { type: { const: 'rabbitmq' } } }, then: {
      type: 'object', additionalProperties: false, required: ['type', 'url', 'exchange'],
      properties: {
        type: { const: 'rabbitmq' },
        url: { type: 'string', pattern: '^amqps?://', description: 'AMQP URL with credentials (use ${VARIABLE})', examples: ['amqp://user:pass@rabbit:5672/vhost'] },
        exchange: { type: 'string', minLength: 1, description: 'Topic exchange (declared durable); routing key order.<status> or payment.<status>' },
        attempts: { type: 'integer', minimum: 1, default: 6 },
        backoffMs: { type: 'integer', minimum: 1, default: 1000 },
        encryptFor: encryptForSchema,
      },
    } },
    { if: { properties: { type: { const: 'email' } } }, then: emailSinkSchema },
  ],
} as const;

/** A uniqueness rule (src/operations/uniqueness.ts): canonical fields or a JSONata key, one of the two. */
export const uniqueRuleSchema = {
  type: 'object', additionalProperties: false,
  oneOf: [{ required: ['fields'] }, { required: ['key', 'name'] }],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.+-]+$', description: 'Names the rule in conflicts and dead letters; rules of one name share their keys across pipelines. Default: the fields joined by "+" (required with key)', examples: ['email'] },
    fields: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)*$' }, description: 'Canonical fields (dotted paths) whose values together must be unique; a record missing one is not under the rule. Compared trimmed and case-insensitively, through the blind index', examples: [['email'], ['orderNumber']] },
    key: { type: 'string', description: 'JSONata expression over the canonical record giving the unique key (a string or number; empty or undefined: not under the rule)', examples: ['$lowercase(firstName) & "|" & phone'] },
    scope: { enum: ['all', 'connection'], default: 'all', description: 'all: across every source; connection: per source connection' },
    onConflict: { enum: ['reject', 'merge'], default: 'reject', description: 'reject: the later record is dead-lettered as `duplicate`, naming the record it collides with (replay it once resolved); merge: the later record is linked to the canonical record holding the key' },
  },
} as const;

const uniqueRulesSchema = { type: 'array', items: uniqueRuleSchema } as const;

/** The core of hub.yaml. Each connection is checked again against its connector's own schema. */
export const hubConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['encryption', 'connections', 'pipelines'],
  properties: {
    redis: {
      type: 'object', additionalProperties: false,
      description: 'Where the hub keeps its queues and state',
      properties: {
        url: { type: 'string', description: 'redis:// URL; unset and nothing on 127.0.0.1:6379 → `start` runs a local redis-server' },
        cluster: {
          type: 'array', minItems: 1, items: { type: 'string', pattern: '^rediss?://[^/]+:[0-9]+/?$' },
          description: 'Seed nodes of a Redis Cluster (any few of its primaries or replicas; the client learns the rest). Set instead of `url`: queues and state then go through the cluster client, each queue on a slot of its own and the hub\'s state under the hash tag `{<prefix>}` (docs/production.md, "Running on Redis Cluster")',
          examples: [['redis://10.0.0.11:6379', 'redis://10.0.0.12:6379', 'redis://10.0.0.13:6379']],
        },
        prefix: { type: 'string', pattern: '^[A-Za-z0-9_:-]+$', default: 'synchub', description: 'Prefix of every key the hub writes' },
        shards: { type: 'integer', minimum: 1, maximum: 64, description: 'Redis Cluster only (no effect on one Redis): how many shard tags a hub\'s record state (links, cross-references, fingerprints, push locks) is spread over, so it sits on every primary rather than on the hub tag\'s one. Unset: 16 for a hub new to the cluster, else what its state was written with. Fixed when the hub first starts (the key `{<prefix>}:layout` keeps it): a different value later is refused at start, since synchub cannot move state between layouts. A hub from before shards keeps 1. 64 only for clusters of more than ~16 primaries (docs/production.md, "Running on Redis Cluster")', examples: [16] },
        waitReplicas: { type: 'integer', minimum: 0, default: 0, description: 'Replicas that must acknowledge a webhook delivery\'s stored events (Redis WAIT) before the route answers 2xx, so an event acknowledged to its provider survives a primary failing over; fewer within `waitTimeoutMs` and the route answers 503 (the provider retries; the retry is answered as a duplicate). Also each job\'s writes before the job completes (fewer: logged, the job completes). 0: answer and complete once the primary has them' },
        waitTimeoutMs: { type: 'integer', minimum: 1, default: 500, description: 'How long the webhook route waits for `waitReplicas` replicas to acknowledge a write' },
      },
    },
    server: {
      type: 'object', additionalProperties: false,
      properties: {
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 3000, description: 'Port of the HTTP server: webhooks, the admin surface, /healthz and /readyz' },
        host: { type: 'string', default: '0.0.0.0', description: 'Address the HTTP server listens on' },
        adminToken: { type: 'string', description: 'Bearer token of the admin API, at least 24 characters (e.g. `openssl rand -base64 32`); empty disables it' },
        publicUrl: { type: 'string', format: 'uri', pattern: '^https?://', description: 'Where browsers and providers reach the hub (behind a proxy): its origin is accepted on admin requests, https makes the session cookie Secure, and `synchub webhooks subscribe` points subscriptions at <publicUrl>/webhooks/<connection>', examples: ['https://hub.example.com'] },
        trustProxy: { type: 'boolean', default: false, description: 'Believe X-Forwarded-Proto and the last X-Forwarded-For entry (set only behind one proxy that sets them)' },
        maxBodyBytes: { type: 'integer', minimum: 1024, default: 1048576, description: 'Largest webhook body accepted (413 above)' },
        maxWebhookEvents: { type: 'integer', minimum: 1, default: 200, description: 'Most events one webhook delivery may carry (413 above): each can cost a record fetch and a push. Providers send at most 100 (Salesforce Outbound Messages, HubSpot)' },
        dashboardWritable: { type: 'boolean', default: false, description: 'Lets the queue dashboard (/admin/queues) retry, remove and pause jobs; read-only otherwise' },
      },
    },
    encryption: {
      type: 'object', additionalProperties: false,
      properties: {
        keys: { type: 'string', minLength: 1, description: '"kid:base64-32-byte-key,kid2:…"; the first encrypts, all decrypt. Required, except in a serve process given only publicKeys' },
        indexKeyId: { type: 'string', description: 'Key whose derived HMAC key builds blind indexes; default the last key' },
        ...sealingSchema,
      },
    },
    jobs: {
      type: 'object', additionalProperties: false,
      properties: {
        attempts: { type: 'integer', minimum: 1, default: 8, description: 'Attempts of a push batch before its records are dead-lettered' },
        backoffMs: { type: 'integer', minimum: 1, default: 1000, description: 'First retry delay, doubled each attempt, with jitter' },
        lockDurationMs: { type: 'integer', minimum: 500, default: 30000, description: 'How long a job stays claimed without heartbeat (a killed worker’s job is taken up after this)' },
        stalledIntervalMs: { type: 'integer', minimum: 500, default: 30000, description: 'How often workers look for jobs whose lock expired (a killed worker\u2019s)' },
        pullConcurrency: { type: 'integer', minimum: 1, default: 2, description: 'Pull pages each thread works on at once' },
        pushConcurrency: { type: 'integer', minimum: 1, default: 4, description: 'Push batches each thread works on at once' },
        ingestConcurrency: { type: 'integer', minimum: 1, default: 64, description: 'Webhook events each thread works on at once; those of the same pipeline are ingested together (one ingest call for up to 100 events) and their record fetches batched', examples: [64] },
        pushLingerMs: { type: 'integer', minimum: 0, maximum: 60000, default: 250, description: 'How long a webhook record may wait to be pushed together with others to the same target (up to the connector\u2019s batch cap; a full batch goes at once). 0 pushes each webhook event alone', examples: [250] },
        webhookDedupeHours: { type: 'integer', minimum: 72, default: 72, description: 'How long a delivery id is remembered: the same delivery again within it is answered 200 and not queued again' },
        orderWaitMs: { type: 'integer', minimum: 1000, default: 86400000, description: 'How long a payment for an order the hub has not seen yet is kept for that order before it is dead-lettered ("order not found")' },
        mappingTimeoutMs: { type: 'integer', minimum: 10, default: 1000, description: 'JSONata evaluation bound per record' },
        shutdownGraceMs: { type: 'integer', minimum: 0, default: 25000, description: 'On SIGTERM/SIGINT, how long jobs in progress may take to finish before the process exits anyway' },
        heapGrowthPercent: { type: 'integer', minimum: 0, maximum: 400, default: 100, description: 'In worker processes (`synchub worker`, `synchub start`): how far each thread\u2019s V8 heap may grow past its live data before a full collection, in percent (100: to twice the live data). A worker\u2019s live data is ~30-35 MB a thread, and V8 on its own lets a heap grow up to fourfold on a machine with plenty of memory (0 keeps that: ~70 MB more peak RSS a thread for ~12% less CPU a record; 150: ~50 MB less for ~5% more; bench/RESULTS.md). Set by the process itself, since Node refuses V8\u2019s `--heap-growing-percent` in NODE_OPTIONS; the flag on node\u2019s command line wins', examples: [100] },
        workerNice: { type: 'integer', minimum: 0, maximum: 19, default: 5, description: 'In `synchub worker` processes: the Unix nice value (CPU priority; higher is lower) each lowers itself to as it starts, never raising it. On a machine shared with `synchub serve` and Redis, webhooks are then answered and Redis serves before the worker, which gets about a quarter of a contended core at 5 (a tenth at 10) while its queue takes up a burst: with 5,000 webhooks at 50 connections on 2 cores, p99 38-54 ms at 5 and 36-52 at 10 against 50-65 at 0. Held back too far, a worker that has just started fills a rate-limited target\u2019s first windows less (0.57-0.80 of what the limit carries at 10, 0.78-0.85 at 5, 0.84-0.86 at 0; bench/RESULTS.md). Changes nothing on a host or container of its own. 0 leaves the priority as started (a negative nice set by the service manager included). Not applied by `synchub start`, whose one process answers the webhooks', examples: [5] },
        threads: { type: 'integer', minimum: 1, maximum: 64, default: 1, description: 'Threads that take jobs in each worker process (`synchub worker`, `synchub start`): the main one and threads - 1 worker threads, each with the concurrencies above. Pages of a run, push batches and webhook events spread over them; about one per CPU core left after Redis', examples: [2] },
      },
    },
    timeline: {
      type: 'object', additionalProperties: false,
      description: 'Each record\u2019s timeline (GET /api/records/:key/timeline, docs/record-timeline.md): every step the hub took with it, kept sealed in Redis',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Whether the hub writes timelines. Off, it writes none (no sheet, no index: ~0.3 KB an order less in Redis); the search still finds records by their links and order numbers, and steps written before stay listed until their retention ends', examples: [false] },
        retentionDays: { type: 'integer', minimum: 1, maximum: 400, default: 30, description: 'How long a record\u2019s steps are kept after they were written', examples: [30] },
        maxEntries: { type: 'integer', minimum: 10, maximum: 10000, default: 200, description: 'Most entries kept per record, the oldest going first; an entry is what one batch did with it (an ingest: received to queued; a push; a notification)', examples: [200] },
      },
    },
    mappings: {
      type: 'object', additionalProperties: false,
      description: 'Bounds on what a mapping may build from one record (the time bound is jobs.mappingTimeoutMs); a record over them fails with mapping_failed',
      properties: {
        maxStringLength: { type: 'integer', minimum: 1024, default: 1048576, description: 'Longest string a function call, `&` or `$string` may make (characters); checked before the string is built where the arguments tell its length' },
        maxArrayLength: { type: 'integer', minimum: 100, maximum: 10000000, default: 100000, description: 'Longest array a function call or the range operator `[a..b]` may make' },
      },
    },
    segments: {
      type: 'object', additionalProperties: false, required: ['reportingCurrency'],
      description: 'Customer segments from the order history (src/operations/segments): RFM values and quantile scores per customer, named segments by rules, optional k-means clusters; pushed to CRM connections when a customer\u2019s segment changes',
      properties: {
        reportingCurrency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency of the monetary value', examples: ['USD'] },
        exchangeRates: {
          type: 'object', propertyNames: { pattern: '^[A-Z]{3}$' }, additionalProperties: { type: 'string', pattern: '^\\d+(\\.\\d+)?$' },
          description: 'Units of the reporting currency per unit of each other currency, as decimal strings. Orders in a currency without a rate are left out of the monetary value and counted as unconverted, never mixed in',
          examples: [{ EUR: '1.08', GBP: '1.27' }],
        },
        quantiles: { type: 'integer', minimum: 2, maximum: 10, default: 5, description: 'Scores run 1…quantiles' },
        schedule: { type: 'string', default: '17 3 * * *', description: 'Cron pattern of the full recomputation (recency changes with time); orders recompute their customer as they arrive' },
        rules: {
          type: 'array', minItems: 1,
          items: { type: 'object', additionalProperties: false, required: ['name', 'when'], properties: {
            name: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
            when: { type: 'string', description: 'JSONata over { r, f, m, recencyDays, frequency, monetary }' },
          } },
          description: 'Named segments, the first matching rule wins (else `other`). Default: champions, at_risk, new, loyal, lost (src/operations/segments/config.ts)',
        },
        kmeans: {
          type: 'object', additionalProperties: false, required: ['k'],
          properties: {
            k: { type: 'integer', minimum: 2, maximum: 20 },
            iterations: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
            seed: { type: 'integer', default: 1, description: 'Seed of the k-means++ start: the same orders and seed give the same clusters' },
          },
        },
        push: {
          type: 'array', items: { type: 'string' },
          description: 'CRM connections that receive a customer\u2019s segment when it changes, through the connection\u2019s customer out-mapping (canonical field `segment`; HubSpot: the contact property named by segmentProperty)',
        },
      },
    },
    unique: {
      type: 'object', additionalProperties: false,
      description: 'Uniqueness rules per entity, enforced on every pipeline reading that entity (a pipeline can add its own)',
      properties: Object.fromEntries(ENTITIES.map((e) => [e, uniqueRulesSchema])),
    },
    connections: {
      type: 'object', minProperties: 1,
      description: 'Connections by name: each names its connector and takes that connector\u2019s options and credentials (checked against the connector\u2019s own schema)',
      propertyNames: { pattern: '^[A-Za-z0-9_-]+$' },
      additionalProperties: { type: 'object', required: ['connector'], properties: { connector: { type: 'string', description: 'The connector\u2019s id (shopify, hubspot, stripe, …)', examples: ['shopify'] } } },
    },
    pipelines: {
      type: 'object',
      description: 'Pipelines by name: a source entity of one connection pushed to targets',
      propertyNames: { pattern: '^[A-Za-z0-9_-]+$' },
      additionalProperties: {
        type: 'object', additionalProperties: false, required: ['source', 'targets'],
        properties: {
          source: {
            type: 'object', additionalProperties: false, required: ['connection', 'entity'],
            description: 'Where the records come from',
            properties: {
              connection: { type: 'string', description: 'Name of a connection' },
              entity: { enum: ENTITIES },
              mapping: { type: 'string', description: 'Overrides the connector’s default in-mapping (path relative to the config file)' },
            },
          },
          targets: {
            type: 'array', minItems: 1,
            description: 'Where the records go; each target is pushed to on its own',
            items: {
              type: 'object', additionalProperties: false, required: ['connection', 'entity'],
              properties: {
                connection: { type: 'string', description: 'Name of a connection' },
                entity: { enum: ENTITIES },
                mapping: { type: 'string', description: 'Overrides the connector’s default out-mapping' },
                onDelete: {
                  enum: ['delete', 'archive', 'mark'],
                  description: 'With deletions: propagate, what happens to the linked record here: delete, archive (HubSpot: its delete, the recycling bin; WooCommerce orders: the trash) or mark (set mark.field); the connector\u2019s own way when unset (see each connector\u2019s deletions). A way the connector does not offer for this entity is refused at start-up. Erasures always delete or archive',
                  examples: ['mark'],
                },
                mark: {
                  type: 'object', additionalProperties: false, required: ['field'],
                  description: 'onDelete: mark: the field (property, column) set on the linked record; create it in the target first',
                  properties: {
                    field: { type: 'string', minLength: 1, description: 'The field\u2019s API name in the target', examples: ['Synchub_Deleted__c', 'synchub_deleted'] },
                    value: { type: ['string', 'number', 'boolean'], default: true, description: 'The value written', examples: ['deleted at source'] },
                  },
                },
              },
            },
          },
          schedule: { type: 'string', description: 'Cron pattern of scheduled pulls', examples: ['*/5 * * * *'] },
          webhooks: { type: 'boolean', default: false, description: 'Accept push events from the source at /webhooks/<connection>' },
          transform: { type: 'string', description: 'Canonical → canonical JSONata step between map-in and validation' },
          batchSize: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Records per pull page, and at most per push call (the connector\u2019s own cap may be lower)' },
          approval: {
            type: 'object', additionalProperties: false, required: ['when'],
            description: 'Order pipelines: orders the rule matches are held in awaiting_approval, kept from the targets until an admin approves (POST /api/approvals/:id/approve) or rejects them (cancelled at the source where its connector can)',
            properties: {
              when: { type: 'string', minLength: 1, description: 'JSONata predicate on the canonical order (its payments laid over it)', examples: ['$number(total) > 1000', 'shippingAddress.country = "RU"', 'paymentCheck.result != "match"'] },
              timeoutHours: { type: 'number', exclusiveMinimum: 0, default: 48, description: 'How long an order waits for a decision before onTimeout applies' },
              onTimeout: { enum: ['reject', 'approve', 'escalate'], default: 'escalate', description: 'reject or approve as an admin would; escalate: the order stays held in state escalated and an order.escalated event is sent' },
            },
          },
          unique: { ...uniqueRulesSchema, description: 'Uniqueness rules of this pipeline\u2019s records, besides the entity\u2019s (a rule of the same name replaces the entity\u2019s)' },
          deletions: {
            enum: ['record', 'propagate', 'ignore'], default: 'record',
            description: 'What a deletion the source reports does: record (a tombstone, counted on the run and listed by the admin API; an older update never brings the record back), propagate (also delete or archive the linked record in each target and drop its links and fingerprints), ignore (nothing)',
            examples: ['propagate'],
          },
          notify: { type: 'array', items: notifySinkSchema, description: 'Where order status changes and payment results of this pipeline are sent' },
        },
      },
    },
  },
} as const;

export const httpSettingsSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    timeoutMs: { type: 'integer', minimum: 100, default: 30000, description: 'Per-call timeout' },
    retries: { type: 'integer', minimum: 0, maximum: 10, default: 2, description: 'In-call retries of retryable failures before the error reaches the job layer' },
    retryBaseMs: { type: 'integer', minimum: 1, default: 500, description: 'First in-call backoff step, doubled each retry, with jitter' },
    maxInlineWaitMs: { type: 'integer', minimum: 0, default: 10000, description: 'Longest Retry-After honoured inside one call; longer waits go to the job layer' },
    rateLimit: {
      type: 'object', additionalProperties: false, required: ['max', 'perMs'],
      description: 'Push rate limit across all workers: at most max calls per perMs; the connector\u2019s default when unset',
      properties: { max: { type: 'integer', minimum: 1 }, perMs: { type: 'integer', minimum: 1 } },
    },
  },
} as const;

/** Per-connection job retries and circuit breaker (issue: reliability). */
export const retrySettingsSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    attempts: { type: 'integer', minimum: 1, description: 'Push attempts before the records are dead-lettered (default jobs.attempts)' },
    backoffMs: { type: 'integer', minimum: 1, description: 'First retry delay, doubled each attempt, with jitter (default jobs.backoffMs)' },
  },
} as const;

export const breakerSettingsSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    threshold: { type: 'integer', minimum: 1, default: 10, description: 'Consecutive failed calls that open the breaker' },
    cooldownMs: { type: 'integer', minimum: 100, default: 5000, description: 'First cool-down before a probe call' },
    maxCooldownMs: { type: 'integer', minimum: 100, default: 300000, description: 'The cool-down doubles after each failed probe, up to this' },
  },
} as const;
