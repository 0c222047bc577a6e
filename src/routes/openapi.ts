/**
 * OpenAPI 3.1 document of the admin API (GET /api/openapi.json). Kept by hand next
 * to the routes; a test checks that every route of the app is documented and
 * every documented route exists.
 */
const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object = { type: 'object' }) => ({ content: { 'application/json': { schema } } });
const errors = {
  400: { description: 'invalid_request, confirmation_required', ...json(error) },
  401: { description: 'unauthorized: admin token missing or wrong', ...json(error) },
  404: { description: 'not_found', ...json(error) },
};
const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const q = (n: string, description: string, schema: object = { type: 'string' }) => ({ name: n, in: 'query', required: false, description, schema });
const op = (summary: string, extra: Record<string, unknown> = {}, ok = 'OK') => ({ summary, ...extra, responses: { 200: { description: ok, ...json() }, ...errors } });

export const OPENAPI_PATHS: Record<string, Record<string, unknown>> = {
  '/api/openapi.json': { get: op('This document') },
  '/api/pipelines': { get: op('Pipelines with state: last and next run, cursor, counts pushed / skipped / dead-lettered, breaker state and push calls (records per call) of each target, paused') },
  '/api/pipelines/{name}': { get: op('One pipeline with its state', { parameters: [name] }) },
  '/api/pipelines/{name}/run': { post: op('Run now (joins the run in progress); 202 when a run started, 409 pipeline_paused', { parameters: [name, q('full', 'true: read from the beginning, ignoring the cursor')] }) },
  '/api/pipelines/{name}/pause': { post: op('Pause: no new runs; webhook events for it wait', { parameters: [name] }) },
  '/api/pipelines/{name}/resume': { post: op('Resume a paused pipeline', { parameters: [name] }) },
  '/api/pipelines/{name}/reset-cursor': { post: op('Forget the cursor, so the next run reads everything; 400 confirmation_required without confirm', { parameters: [name, { ...q('confirm', 'Must equal the pipeline name'), required: true }] }) },
  '/api/pipelines/{name}/dry-run': { post: op('What a run would do now, writing nothing: up to limit records mapped, each target\'s create / field changes / unchanged, refusals with their step (masked)', { parameters: [name, q('limit', '1–500, default 20', { type: 'integer', minimum: 1, maximum: 500 })] }) },
  '/api/pipelines/{name}/samples': { get: op('The last records the source sent (masked); the playground uses them by index', { parameters: [name] }) },
  '/api/dead-letters': {
    get: op('Dead letters, newest first', {
      parameters: [q('pipeline', 'Pipeline name'), q('step', 'map_in, transform, validate, map_out, push, notify'), q('target', 'Target connection'), q('code', 'Error code, e.g. mapping_failed'),
        q('from', 'Created at or after (ISO)'), q('to', 'Created at or before (ISO)'), q('offset', 'Default 0', { type: 'integer', minimum: 0 }), q('limit', '1–200, default 50', { type: 'integer', minimum: 1, maximum: 200 })],
    }),
  },
  '/api/dead-letters/{id}': {
    get: op('One dead letter: its source record, what the current mapping makes of it and the remote system\'s own error (remoteError), personal data masked', { parameters: [id] }),
    delete: op('Discard', { parameters: [id] }),
  },
  '/api/dead-letters/{id}/replay': { post: op('Replay through the current mappings (to its one target for push failures)', { parameters: [id] }) },
  '/api/conflicts': { get: op('Uniqueness conflicts, newest first: the rule, the record (connection, id), the record holding the key, rejected or merged', { parameters: [q('pipeline', 'Pipeline name'), q('offset', 'Default 0', { type: 'integer', minimum: 0 }), q('limit', '1–200, default 50', { type: 'integer', minimum: 1, maximum: 200 })] }) },
  '/api/approvals': { get: op('Orders held for approval (oldest first), or with state=decided the decided ones (newest first): state, order number, total, held at, deadline, decision (by, reason, via), what rejecting did at the source (cancel)', { parameters: [q('state', 'open (default) or decided'), q('offset', 'Default 0', { type: 'integer', minimum: 0 }), q('limit', '1–200, default 50', { type: 'integer', minimum: 1, maximum: 200 })] }) },
  '/api/approvals/{id}': { get: op('One approval', { parameters: [id] }) },
  '/api/approvals/{id}/approve': { post: op('Approve a held order: body { by, reason }; the order goes on to the pipeline\'s targets. 409 conflict when decided already', { parameters: [id] }) },
  '/api/approvals/{id}/reject': { post: op('Reject a held order: body { by, reason }; cancelled at the source where its connector writes orders (cancel: cancelled | not_supported | failed: code). 409 conflict when decided already', { parameters: [id] }) },
  '/api/segments': { get: op('Customer segments: the last full computation\'s sizes per segment (and k-means cluster), and their history; format=csv gives the history as CSV (computed_at, kind, name, customers); not_supported when segments are not configured', { parameters: [q('format', 'json (default) or csv')] }) },
  '/api/segments/recompute': { post: op('Compute every customer\'s RFM values, scores, segment (and cluster) now; pushes changed segments to segments.push connections. Answers the sizes, unconverted orders and pushes') },
  '/api/mappings': { get: op('The mapping files the config runs, by pipeline and stage, with their text') },
  '/api/mappings/preview': {
    post: op('Run a mapping (a file of the config or an expression) on an input or a captured sample: output, canonical validation (null for an expression with neither pipeline nor entity), timing; 422 mapping_failed with the position', {
      requestBody: json({
        type: 'object', additionalProperties: false,
        properties: {
          pipeline: { type: 'string' }, stage: { enum: ['in', 'transform', 'out'] }, target: { type: 'string' },
          file: { type: 'string' }, expression: { type: 'string' }, input: {}, sample: { type: 'integer', minimum: 0 }, entity: { enum: ['customer', 'order', 'payment'] },
        },
      }),
    }),
  },
  '/api/reports/orders': {
    get: op('Order and payment figures per pipeline and day: order count, total and average per currency (exact decimals), payments succeeded (refunded or not), refunded and failed (never succeeded) and the success rate, median and p95 seconds from created to the first payment success; orders split by customerType, recurring and (segments configured) the customer\'s segment', {
      parameters: [q('from', 'First day, YYYY-MM-DD (UTC); default 29 days before to'), q('to', 'Last day, YYYY-MM-DD; default today'), q('pipeline', 'Only this pipeline'), q('format', 'json (default) or csv (a row per pipeline, day, split and currency)')],
    }),
  },
  '/api/events': {
    get: {
      summary: 'Server-Sent Events: order.status, payment.result and order.approval events as applied (data: the event JSON; id: its Redis stream id). Reconnect with Last-Event-ID to resume; a gap event says when events were trimmed meanwhile',
      parameters: [{ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } }, q('lastEventId', 'Same as the header, for clients that cannot set it')],
      responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, 401: errors[401] },
    },
  },
  '/api/records': { get: op('Records found by order number (with or without #), email (through its blind index) or any system\'s external id: key, entity, what matched, links per connection, whether a timeline is kept', { parameters: [{ ...q('q', 'Order number, email, external id or record key (at most 320 characters)'), required: true }] }) },
  '/api/records/{key}/timeline': { get: op('Every step the hub took with the record, oldest first, with its time: received (webhook event, pull run and page, replay), mapped, validated, held, skipped, queued, pushed (target and external id), dead-lettered, replayed, payment results, status changes, notifications; expired counts steps past the retention', { parameters: [{ name: 'key', in: 'path', required: true, schema: { type: 'string' }, description: 'A record key as GET /api/records answers, URL-encoded' }] }) },
  '/api/redis': { get: op('The hub\'s Redis: `mode` single or cluster, `ok`; on a cluster `state` (CLUSTER INFO), `slotsCovered` of `slotsTotal`, each node\'s address, role, slots and flags, and `problems` (slots without a live primary, a primary without a live replica)') },
  '/api/connections': { get: op('Connections with their notices (an API version answered by another, missing scopes, withheld fields); for targets the circuit breaker, push queue and push calls (calls, records, records per call)') },
  '/api/connections/{name}/deletions': { get: op('Records the source reported deleted (tombstones), a scan of up to limit', { parameters: [name, q('entity', 'customer, order (default) or payment'), q('limit', '1–1000, default 100', { type: 'integer', minimum: 1, maximum: 1000 })] }) },
  '/api/connections/{name}/resume': { post: op('Resume a push queue paused after an authentication failure', { parameters: [name] }) },
  '/api/runs/{id}': { get: op('One run', { parameters: [id] }) },
  '/api/erasure': {
    post: op('Erase one person from everything the hub holds (body { email } or { customer }, dryRun and propagate optional: propagate also deletes or archives their records in the targets); answers the erasure record (no personal data)'),
    get: op('Erasures, newest first', { parameters: [q('limit', '1–500, default 50', { type: 'integer', minimum: 1, maximum: 500 })] }),
  },
  '/api/privacy-requests': { get: op('Data-subject requests sources sent by webhook (Shopify customers/redact, shop/redact, customers/data_request), newest first', { parameters: [q('limit', '1–500, default 50', { type: 'integer', minimum: 1, maximum: 500 })] }) },
  '/api/privacy-requests/{id}': { get: op('One privacy request: the erasures it made, or the report of what the hub holds (kinds of records, fields, systems, dates; no values)', { parameters: [id] }) },
  '/api/erasure/{id}': { get: op('One erasure: when, the key hash, what was removed, what targets answered', { parameters: [id] }) },
};

export function openApiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'synchub admin API', version: '1', description: 'Every route needs the admin token (server.adminToken) as `Authorization: Bearer <token>` (or the /admin login cookie, from the hub’s own page only). State-changing routes take a JSON body or none (415 otherwise); failed token checks are throttled per client address (429 with Retry-After). Errors are `{ "error": { "code", "message", "details"? } }` with stable codes.' },
    security: [{ bearer: [] }],
    paths: OPENAPI_PATHS,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: {
            error: {
              type: 'object', required: ['code', 'message'],
              properties: {
                code: { enum: ['unauthorized', 'forbidden', 'too_many_requests', 'unsupported_media_type', 'not_found', 'invalid_request', 'confirmation_required', 'pipeline_paused', 'mapping_failed', 'validation_failed', 'store_unavailable', 'internal'] },
                message: { type: 'string' }, details: {},
              },
            },
          },
        },
      },
    },
  };
}
