import { synchub } from '../helpers/cli.js';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';


/** A user's own mapping folder: a copy of the Shopify order mapping with a test file beside it. */
function userMappings(testYaml: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synchub-maptest-'));
  copyFileSync('src/mappings/shopify/order.in.jsonata', path.join(dir, 'order.in.jsonata'));
  copyFileSync('test/fixtures/shopify/order.json', path.join(dir, 'order.json'));
  writeFileSync(path.join(dir, 'order.in.test.yaml'), testYaml);
  return dir;
}

describe('synchub test runs mapping tests kept beside the mappings', () => {
  it('passes the built-in mappings\' own tests with no argument', async () => {
    const out = await synchub(['test']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/ok {4}.*shopify\/order\.in\.test\.yaml/);
    expect(out.stdout).toMatch(/\n(\d+) passed, 0 failed\n?$/);
  });

  it('a partial match passes; a wrong field fails with its path, what was expected and what came out, and exit 1', async () => {
    const dir = userMappings(`connector: shopify
cases:
  - name: totals and first line
    inputFile: order.json
    match:
      total: "598.94"
      currency: USD
      lineItems:
        - { sku: IPOD2008GREEN, unitPrice: "199.00" }
        - {}
        - {}
  - name: wrong expectation
    inputFile: order.json
    match:
      status: paid
      lineItems:
        - { unitPrice: "199.99" }
`);
    const out = await synchub(['test', dir]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/ok {4}.*order\.in\.test\.yaml › totals and first line/);
    expect(out.stdout).toMatch(/FAIL {2}.*order\.in\.test\.yaml › wrong expectation/);
    expect(out.stdout).toContain('status: expected "paid", got "partially_refunded"');
    expect(out.stdout).toContain('lineItems: expected 1 item(s), got 3');
    expect(out.stdout).toContain('lineItems[0].unitPrice: expected "199.99", got "199.00"');
    expect(out.stdout).toMatch(/1 passed, 1 failed/);
  });

  it('an expected error code passes when the record is refused with it, and an exact expectation names extra fields', async () => {
    const dir = userMappings(`connector: shopify
cases:
  - name: no id is not a valid order
    input: { currency: USD, total_price: "1.00", created_at: "2026-01-01T00:00:00Z" }
    error: validation_failed
  - name: exact
    input: { id: 1, order_number: 1001, currency: USD, total_price: "1.00", created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", financial_status: paid }
    expect: { externalId: "1" }
`);
    const out = await synchub(['test', dir]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/ok {4}.*no id is not a valid order/);
    expect(out.stdout).toMatch(/FAIL {2}.*› exact/);
    expect(out.stdout).toMatch(/currency: not expected, got "USD"/);
  });

  it('a test file that is not valid YAML is named with its line, and a case with two expectations is refused', async () => {
    const broken = userMappings('cases:\n  - name: x\n    input: {a: 1\n');
    const out = await synchub(['test', broken]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/order\.in\.test\.yaml:\d+:\d+: /);

    const twice = userMappings('connector: shopify\ncases:\n  - name: both\n    input: {}\n    expect: {}\n    error: mapping_failed\n');
    const out2 = await synchub(['test', twice]);
    expect(out2.code).toBe(1);
    expect(out2.stdout).toContain('give exactly one of `expect`, `match` or `error`');
  });

  it('a folder with no test files is an error, not a pass', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'synchub-maptest-empty-'));
    const out = await synchub(['test', empty]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('no mapping tests');
  });
});
