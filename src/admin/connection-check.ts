import type { HubConfig } from '../config/load.js';
import type { Logger } from '../core/logger.js';
import { scrubText } from '../core/redact.js';
import type { ConnectionInspection, ConnectionUse } from '../connectors/types.js';

/** Longest `synchub check` waits for one connection's answers. */
const INSPECT_TIMEOUT_MS = 20_000;

export interface ConnectionCheck extends ConnectionInspection {
  connection: string;
  /** Set when the remote system could not be asked (unreachable, refused): nothing is known, nothing is broken by it. */
  error?: string;
}

/** The pipelines that use each connection, as sources or targets. */
export function connectionUses(config: HubConfig): Map<string, ConnectionUse[]> {
  const uses = new Map<string, ConnectionUse[]>();
  const add = (connection: string, use: ConnectionUse) => uses.set(connection, [...(uses.get(connection) ?? []), use]);
  for (const p of config.pipelines.values()) {
    add(p.source.connection, { pipeline: p.name, entity: p.source.entity, role: 'source' });
    for (const t of p.targets) add(t.connection, { pipeline: p.name, entity: t.entity, role: 'target' });
  }
  return uses;
}

/**
 * Asks every connection whose connector can say so what it may do (`inspect`: granted
 * scopes, the API version that answers), against what its pipelines need. One-off clients:
 * no shared token store, so a connection that needs the hub's Redis says so as its error.
 */
export async function inspectConnections(config: HubConfig, logger: Logger): Promise<ConnectionCheck[]> {
  const out: ConnectionCheck[] = [];
  for (const [name, uses] of connectionUses(config)) {
    const conn = config.connections.get(name)!;
    const def = config.connectorOf(name);
    let client;
    try {
      client = def.create(conn, { logger });
    } catch (err) {
      out.push({ connection: name, problems: [], notices: [], error: scrubText((err as Error).message) });
      continue;
    }
    try {
      if (!client.inspect) continue;
      out.push({ connection: name, ...(await client.inspect(uses, AbortSignal.timeout(INSPECT_TIMEOUT_MS))) });
    } catch (err) {
      out.push({ connection: name, problems: [], notices: [], error: scrubText((err as Error).message) });
    } finally {
      await client.close();
    }
  }
  return out;
}

/** The lines `synchub check` prints, and whether a pipeline is broken. */
export function describeChecks(checks: ConnectionCheck[]): { lines: string[]; broken: boolean } {
  const lines: string[] = [];
  for (const c of checks) {
    if (c.error) lines.push(`  ${c.connection}: could not ask the remote system: ${c.error}`);
    for (const p of c.problems) lines.push(`  ${c.connection}: PROBLEM: ${p}`);
    for (const n of c.notices) lines.push(`  ${c.connection}: notice: ${n}`);
    if (!c.error && !c.problems.length && !c.notices.length) lines.push(`  ${c.connection}: granted what its pipelines need`);
  }
  return { lines, broken: checks.some((c) => c.problems.length > 0) };
}
