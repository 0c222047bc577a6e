import type { ConnectorDefinition } from './types.js';
import { shopify } from './shopify/index.js';
import { hubspot } from './hubspot/index.js';
import { woocommerce } from './woocommerce/index.js';
import { magento } from './magento/index.js';
import { odoo } from './odoo/index.js';
import { salesforce } from './salesforce/index.js';
import { zoho } from './zoho/index.js';
import { dynamics } from './dynamics/index.js';
import { stripe } from './stripe/index.js';
import { alipay } from './alipay/index.js';
import { wechatpay } from './wechatpay/index.js';

/**
 * Every connector, imported explicitly. Add a new one here; nothing registers
 * itself on import.
 */
const ALL: ConnectorDefinition[] = [shopify, hubspot, woocommerce, magento, odoo, salesforce, zoho, dynamics, stripe, alipay, wechatpay];

function buildRegistry(defs: ConnectorDefinition[]): ReadonlyMap<string, ConnectorDefinition> {
  const map = new Map<string, ConnectorDefinition>();
  for (const def of defs) {
    if (map.has(def.id)) throw new Error(`two connectors have the id "${def.id}"`);
    map.set(def.id, def);
  }
  return map;
}

export const connectors = buildRegistry(ALL);

export function getConnector(id: string): ConnectorDefinition | undefined {
  return connectors.get(id);
}

export { buildRegistry };
