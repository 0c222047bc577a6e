import type { ConnectorDefinition } from '../../connectors/types.js';
import type { CompiledMapping } from '../../mappings/engine.js';
import { parseRate, type Rate } from './rfm.js';

/** `segments:` of hub.yaml, parsed (defaults in the schema's descriptions). */
export interface SegmentsConfig {
  reportingCurrency: string;
  rates: ReadonlyMap<string, Rate>;
  /** Default 5. */
  quantiles: number;
  /** Default '17 3 * * *'. */
  schedule: string;
  rules: { name: string; when: CompiledMapping }[];
  kmeans?: { k: number; iterations: number; seed: number };
  /** Connections that receive the segment. */
  push: string[];
}

/** The default segments over quantile scores 1…5, first match wins (names as the issue gives them). */
export const DEFAULT_SEGMENT_RULES = [
  { name: 'champions', when: 'r >= 4 and f >= 4 and m >= 4' },
  // Bought often, not lately: before loyal, which they would also match.
  { name: 'at_risk', when: 'r <= 2 and f >= 3' },
  { name: 'new', when: 'frequency = 1 and r >= 4' },
  { name: 'loyal', when: 'r >= 3 and f >= 3' },
  { name: 'lost', when: 'r <= 1' },
];

export function parseSegments(
  raw: Record<string, any>, compile: (expression: string, at: string) => CompiledMapping | undefined,
  connector: (connection: string) => ConnectorDefinition | undefined, problems: string[],
): SegmentsConfig | undefined {
  const rates = new Map<string, Rate>();
  for (const [cur, rate] of Object.entries<string>(raw.exchangeRates ?? {})) {
    try {
      rates.set(cur, parseRate(rate));
    } catch (err) {
      problems.push(`segments.exchangeRates.${cur}: ${(err as Error).message}`);
    }
  }
  const rules = ((raw.rules as { name: string; when: string }[] | undefined) ?? DEFAULT_SEGMENT_RULES).map((r, i) => ({ name: r.name, when: compile(r.when, `segments.rules[${i}].when`) }));
  const push = (raw.push as string[] | undefined) ?? [];
  push.forEach((name, i) => {
    const def = connector(name);
    if (!def) problems.push(`segments.push[${i}]: no connection named "${name}"`);
    else if (!def.entities.customer?.push) problems.push(`segments.push[${i}]: ${def.id} cannot push customer records (not supported)`);
  });
  if (rules.some((r) => !r.when)) return undefined;
  return {
    reportingCurrency: raw.reportingCurrency, rates, quantiles: raw.quantiles ?? 5, schedule: raw.schedule ?? '17 3 * * *',
    rules: rules as SegmentsConfig['rules'],
    ...(raw.kmeans ? { kmeans: { k: raw.kmeans.k, iterations: raw.kmeans.iterations ?? 50, seed: raw.kmeans.seed ?? 1 } } : {}),
    push,
  };
}
