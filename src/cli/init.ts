import type { Entity } from '../core/canonical/schemas.js';
import type { ConnectorDefinition, JsonSchema } from '../connectors/types.js';

/**
 * `synchub init shopify hubspot stripe`: a starting config for the connectors named.
 * Everything it writes comes from the connectors' own metadata (kind, entities and what each
 * supports, the JSON Schemas of credentials and options with their descriptions and examples),
 * so it follows the connectors as they change. Every credential is an environment variable.
 */
export interface InitResult {
  yaml: string;
  /** The variables the config reads, with what each is for, in the order they appear. */
  variables: { name: string; what: string; optional?: boolean }[];
  connections: number;
  pipelines: number;
}

interface Pipeline { name: string; source: { connection: string; entity: Entity }; targets: { connection: string; entity: Entity }[]; webhooks: boolean; schedule: string }

const envName = (...parts: string[]) => parts.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()).join('_');
const q = (s: string) => JSON.stringify(s);
const oneLine = (s: unknown) => String(s ?? '').replace(/\s+/g, ' ').trim();

/**
 * The credentials a new connection uses: the schema's first `examples` object when it has one
 * (the mode a new account of that system gets today, where several are valid), else its `required`.
 */
function initialCredentials(schema: JsonSchema, receivesWebhooks: boolean): string[] {
  const examples = schema.examples as Record<string, unknown>[] | undefined;
  if (Array.isArray(examples) && examples[0] && typeof examples[0] === 'object') return Object.keys(examples[0]);
  const alternatives = (schema.anyOf ?? schema.oneOf) as { required?: string[] }[] | undefined;
  const required = (schema.required as string[] | undefined) ?? alternatives?.[0]?.required ?? [];
  // A connection its pipelines take webhooks from needs what verifies them (webhookSecret, webhookKey, …).
  const verifying = receivesWebhooks ? Object.keys((schema.properties ?? {}) as object).filter((k) => /^webhook/i.test(k)) : [];
  return [...required, ...verifying.filter((k) => !required.includes(k))];
}

/** Pipelines between the connectors, by what each system is and what its entities support. */
function pipelinesFor(defs: ConnectorDefinition[]): Pipeline[] {
  const can = (d: ConnectorDefinition, e: Entity, what: 'pull' | 'push' | 'webhook') => Boolean(d.entities[e]?.[what]);
  const out: Pipeline[] = [];
  const shops = defs.filter((d) => d.kind === 'ecommerce' || d.kind === 'erp');
  const crms = defs.filter((d) => d.kind === 'crm');
  for (const s of shops) {
    for (const entity of ['customer', 'order'] as const) {
      if (!can(s, entity, 'pull')) continue;
      const targets = crms.filter((c) => can(c, entity, 'push')).map((c) => ({ connection: c.id, entity }));
      if (targets.length) {
        out.push({ name: `${s.id}-${entity}s-to-${crms.length === 1 ? crms[0].id : 'crm'}`, source: { connection: s.id, entity }, targets, webhooks: can(s, entity, 'webhook'), schedule: entity === 'order' ? '*/5 * * * *' : '*/15 * * * *' });
      }
    }
  }
  // A payment result moves the order's status in the shop and the CRM (docs/payments-and-lifecycle.md).
  for (const p of defs.filter((d) => d.kind === 'payment' && can(d, 'payment', 'pull'))) {
    const targets = [...shops, ...crms].filter((t) => can(t, 'order', 'push')).map((t) => ({ connection: t.id, entity: 'order' as Entity }));
    if (targets.length) out.push({ name: `${p.id}-payments`, source: { connection: p.id, entity: 'payment' }, targets, webhooks: can(p, 'payment', 'webhook'), schedule: '*/15 * * * *' });
  }
  return out;
}

export function initConfig(ids: string[], registry: ReadonlyMap<string, ConnectorDefinition>, command = `synchub init ${ids.join(' ')}`): InitResult {
  if (ids.length === 0) throw new Error(`name the connectors to connect, e.g. synchub init shopify hubspot stripe (have: ${[...registry.keys()].join(', ')})`);
  const unknown = ids.filter((id) => !registry.has(id));
  if (unknown.length) throw new Error(`unknown connector(s) ${unknown.join(', ')} (have: ${[...registry.keys()].join(', ')})`);
  if (new Set(ids).size !== ids.length) throw new Error('name each connector once');
  const defs = ids.map((id) => registry.get(id)!);
  const variables: InitResult['variables'] = [];
  const variable = (name: string, what: string, optional = false) => {
    variables.push({ name, what: oneLine(what), optional });
    return `\${${name}}`;
  };

  const pipelines = pipelinesFor(defs);
  const lines = [
    `# synchub configuration, written by \`${command}\`.`,
    '# Values in ${…} come from the environment (${VAR:-default}) or from files (${file:path}, relative',
    '# to this file). Set the variables listed at the end of `synchub init`, then run `synchub check`.',
    'redis: { url: "${REDIS_URL:-}" }                # empty: redis://127.0.0.1:6379',
    'server:',
    '  port: "${PORT:-3000}"',
    '  adminToken: "${SYNCHUB_ADMIN_TOKEN:-}"        # 24+ characters (openssl rand -base64 32); empty: no admin API or page',
    `encryption: { keys: "${variable('SYNCHUB_KEYS', 'encryption key ring: `synchub keys generate` prints one')}" }`,
    'connections:',
  ];
  for (const d of defs) {
    lines.push(`  ${d.id}:`, `    connector: ${d.id}                # ${oneLine(d.title)}`);
    if (!d.defaultBaseUrl) lines.push(`    baseUrl: ${q(variable(envName(d.id, 'base', 'url'), `${d.title}: the URL of your instance or store`))}`);
    const props = (d.credentialsSchema.properties ?? {}) as Record<string, JsonSchema>;
    const chosen = initialCredentials(d.credentialsSchema, pipelines.some((p) => p.webhooks && p.source.connection === d.id));
    lines.push('    credentials:');
    for (const key of chosen) {
      const what = oneLine(props[key]?.description) || key;
      lines.push(`      # ${what}`, `      ${key}: ${q(variable(envName(d.id, key), `${d.title}: ${what}`))}`);
    }
    const others = Object.keys(props).filter((k) => !chosen.includes(k));
    if (others.length) {
      lines.push('      # Other credentials this connector takes (uncomment what your setup needs):');
      for (const key of others) lines.push(`      # ${key}: "\${${envName(d.id, key)}}"   # ${oneLine(props[key]?.description)}`);
    }
    for (const key of d.optionsSchema.required ?? []) {
      const schema = d.optionsSchema.properties[key] ?? {};
      const example = Array.isArray(schema.examples) ? schema.examples[0] : undefined;
      const value = example !== undefined && typeof example !== 'object' ? q(String(example)) : q(variable(envName(d.id, key), `${d.title}: ${oneLine(schema.description) || key}`));
      lines.push(`    # ${oneLine(schema.description) || key}`, `    ${key}: ${value}`);
    }
  }

  if (pipelines.length) {
    lines.push('pipelines:');
    for (const p of pipelines) {
      lines.push(
        `  ${p.name}:`,
        `    source: { connection: ${p.source.connection}, entity: ${p.source.entity} }`,
        `    targets: [ ${p.targets.map((t) => `{ connection: ${t.connection}, entity: ${t.entity} }`).join(', ')} ]`,
        `    schedule: "${p.schedule}"${p.webhooks ? '' : '          # this source sends no webhooks for this entity: the schedule is how changes arrive'}`,
      );
      if (p.webhooks) lines.push('    webhooks: true                 # POST /webhooks/' + p.source.connection + ' (the schedule catches what a missed webhook leaves)');
    }
  } else {
    lines.push('pipelines: {}                    # no pair of these connectors makes a pipeline: add a shop, a CRM or a payment provider');
  }
  return { yaml: `${lines.join('\n')}\n`, variables, connections: defs.length, pipelines: pipelines.length };
}
