import type { Connection } from '../../src/connectors/types.js';

/** A parsed connection as config would hand it to a connector, with fast retries for tests. */
export function testConnection(partial: Partial<Connection> & Pick<Connection, 'name' | 'connector' | 'credentials'>): Connection {
  return {
    baseUrl: undefined,
    options: {},
    ...partial,
    http: { timeoutMs: 5000, retries: 2, retryBaseMs: 5, maxInlineWaitMs: 2000, ...partial.http },
  };
}
