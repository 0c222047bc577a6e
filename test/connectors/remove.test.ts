/**
 * ConnectorClient.remove, used when a deletion is propagated: each target's own delete or
 * archive call, with answers shaped like its docs' examples. A record the target no longer has
 * counts as removed; any other refusal fails that id alone.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dynamics } from '../../src/connectors/dynamics/index.js';
import { hubspot } from '../../src/connectors/hubspot/index.js';
import { salesforce } from '../../src/connectors/salesforce/index.js';
import { woocommerce } from '../../src/connectors/woocommerce/index.js';
import { zoho } from '../../src/connectors/zoho/index.js';
import { quietLogger } from '../helpers/hub.js';
import { testConnection } from '../helpers/connection.js';

const ctx = { logger: quietLogger };

describe('removing records in targets', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });

  it('HubSpot: batch archive, 100 ids a call ("Archive a batch of objects by ID", 204)', async () => {
    const calls: string[][] = [];
    nock('https://api.hubapi.com').persist().post('/crm/objects/2026-09/contacts/batch/archive').reply((_u, body: any) => (calls.push(body.inputs.map((i: any) => i.id)), [204, '']));
    const c = hubspot.create(testConnection({ name: 'crm', connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat' } }), ctx);
    const ids = Array.from({ length: 150 }, (_, i) => String(1000 + i));
    const out = await c.remove!('customer', ids);
    expect(calls.map((c) => c.length)).toEqual([100, 50]);
    expect(out.every((o) => o.ok)).toBe(true);
  });

  it('WooCommerce: /orders/batch with delete ids; an id the store does not have counts as removed, another error fails alone', async () => {
    let sent: unknown;
    nock('https://shop.example.com').post('/wp-json/wc/v3/orders/batch').query(true).reply((_u, body: any) => {
      sent = body;
      return [200, { delete: [
        { id: 727, status: 'processing', number: '727' },
        { id: 999, error: { code: 'woocommerce_rest_shop_order_invalid_id', message: 'Invalid ID.', data: { status: 404 } } },
        { id: 728, error: { code: 'woocommerce_rest_cannot_delete', message: 'The shop_order cannot be deleted.', data: { status: 500 } } },
      ] }];
    });
    const c = woocommerce.create(testConnection({ name: 'woo', connector: 'woocommerce', baseUrl: 'https://shop.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } }), ctx);
    const out = await c.remove!('order', ['727', '999', '728']);
    expect(sent).toEqual({ delete: [727, 999, 728] });
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
    expect(out[2].ok === false && out[2].error.message).toContain('woocommerce_rest_cannot_delete');
  });

  it('Zoho: Delete Records by ids; INVALID_DATA (no such record) counts as removed', async () => {
    nock('https://accounts.zoho.com').post('/oauth/v2/token').reply(200, { access_token: '1000.t', expires_in: 3600 });
    nock('https://www.zohoapis.com').delete('/crm/v8/Contacts').query({ ids: '4150868000001,4150868000002' }).reply(200, { data: [
      { code: 'SUCCESS', details: { id: '4150868000001' }, message: 'record deleted', status: 'success' },
      { code: 'INVALID_DATA', details: { id: '4150868000002' }, message: 'the related id given seems to be invalid', status: 'error' },
    ] });
    const c = zoho.create(testConnection({ name: 'zc', connector: 'zoho', baseUrl: 'https://www.zohoapis.com', options: { accountsUrl: 'https://accounts.zoho.com' }, credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } }), ctx);
    expect((await c.remove!('customer', ['4150868000001', '4150868000002'])).map((o) => o.ok)).toEqual([true, true]);
  });

  it('Salesforce: sObject Collections delete (allOrNone false); ENTITY_IS_DELETED counts as removed', async () => {
    const SF = 'https://acme.my.salesforce.com';
    nock(SF).delete('/services/data/v62.0/composite/sobjects').query({ ids: '003A,003B,003C', allOrNone: 'false' }).reply(200, [
      { id: '003A', success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] },
      { success: false, errors: [{ statusCode: 'INSUFFICIENT_ACCESS_OR_READONLY', message: 'insufficient access rights on object id', fields: [] }] },
    ]);
    const c = salesforce.create(testConnection({ name: 'sf', connector: 'salesforce', baseUrl: SF, credentials: { accessToken: 'sf-token' } }), ctx);
    const out = await c.remove!('customer', ['003A', '003B', '003C']);
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
  });

  it('Dynamics: DELETE by id (204); 404 counts as removed', async () => {
    const ORG = 'https://acme.crm.dynamics.com';
    nock('https://login.microsoftonline.com').post('/tenant-1/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'tok' });
    nock(ORG)
      .delete('/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000001)').reply(204)
      .delete('/api/data/v9.2/contacts(00000000-0000-0000-0000-000000000002)').reply(404, { error: { code: '0x80040217', message: 'contact With Id = 00000000-0000-0000-0000-000000000002 Does Not Exist' } });
    const c = dynamics.create(testConnection({ name: 'd365', connector: 'dynamics', baseUrl: ORG, credentials: { tenantId: 'tenant-1', clientId: 'app-1', clientSecret: 'secret-1' } }), ctx);
    const out = await c.remove!('customer', ['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002', 'not-an-id']);
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
  });
});

describe('onDelete: archive and mark in targets', () => {
  beforeEach(() => nock.disableNetConnect());
  afterEach(() => {
    nock.cleanAll();
    nock.enableNetConnect();
  });
  const mark = { field: 'synchub_deleted', value: true };

  it('HubSpot mark: batch update by id with the property as a string; OBJECT_NOT_FOUND counts as done, another error fails its ids', async () => {
    let sent: any;
    nock('https://api.hubapi.com').post('/crm/objects/2026-09/deals/batch/update', (b) => { sent = b; return true; }).reply(207, {
      status: 'COMPLETE', results: [{ id: '901', properties: { synchub_deleted: 'true' }, archived: false }], numErrors: 2,
      errors: [
        { status: 'error', category: 'OBJECT_NOT_FOUND', message: 'Could not get some DEAL objects, they may be deleted or not exist.', context: { ids: ['902'] } },
        { status: 'error', category: 'VALIDATION_ERROR', message: 'Property "synchub_deleted" does not exist', context: { ids: ['903'] } },
      ],
    });
    const c = hubspot.create(testConnection({ name: 'crm', connector: 'hubspot', baseUrl: 'https://api.hubapi.com', credentials: { accessToken: 'pat' } }), ctx);
    const out = await c.mark!('order', ['901', '902', '903'], mark);
    expect(sent).toEqual({ inputs: [{ id: '901', properties: { synchub_deleted: 'true' } }, { id: '902', properties: { synchub_deleted: 'true' } }, { id: '903', properties: { synchub_deleted: 'true' } }] });
    expect(out.map((o) => o.ok)).toEqual([true, true, false]);
    expect(out[2].ok === false && out[2].error.message).toContain('VALIDATION_ERROR');
  });

  it('Salesforce mark: sObject Collections update by id (allOrNone false); ENTITY_IS_DELETED counts as done', async () => {
    const SF = 'https://acme.my.salesforce.com';
    let sent: any;
    nock(SF).patch('/services/data/v62.0/composite/sobjects', (b) => { sent = b; return true; }).reply(200, [
      { id: '003A', success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] },
    ]);
    const c = salesforce.create(testConnection({ name: 'sf', connector: 'salesforce', baseUrl: SF, credentials: { accessToken: 'sf-token' } }), ctx);
    const out = await c.mark!('customer', ['003A', '003B'], { field: 'Synchub_Deleted__c', value: true });
    expect(sent).toEqual({ allOrNone: false, records: [{ attributes: { type: 'Contact' }, id: '003A', Synchub_Deleted__c: true }, { attributes: { type: 'Contact' }, id: '003B', Synchub_Deleted__c: true }] });
    expect(out.map((o) => o.ok)).toEqual([true, true]);
  });

  it('Zoho mark: Update Records with the field; INVALID_DATA counts as done', async () => {
    nock('https://accounts.zoho.com').post('/oauth/v2/token').reply(200, { access_token: '1000.t', expires_in: 3600 });
    let sent: any;
    nock('https://www.zohoapis.com').put('/crm/v8/Contacts', (b) => { sent = b; return true; }).reply(200, { data: [
      { code: 'SUCCESS', details: { id: '4150868000001', Modified_Time: '2025-03-02T10:00:00+05:30' }, message: 'record updated', status: 'success' },
      { code: 'INVALID_DATA', details: { id: '4150868000002' }, message: 'the id given seems to be invalid', status: 'error' },
    ] });
    const c = zoho.create(testConnection({ name: 'zc', connector: 'zoho', baseUrl: 'https://www.zohoapis.com', options: { accountsUrl: 'https://accounts.zoho.com' }, credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } }), ctx);
    const out = await c.mark!('customer', ['4150868000001', '4150868000002'], { field: 'Synchub_Deleted', value: 'deleted at source' });
    expect(sent).toEqual({ data: [{ id: '4150868000001', Synchub_Deleted: 'deleted at source' }, { id: '4150868000002', Synchub_Deleted: 'deleted at source' }] });
    expect(out.map((o) => o.ok)).toEqual([true, true]);
  });

  it('Dynamics mark: PATCH the column with If-Match: * (no create); 404 counts as done', async () => {
    const ORG = 'https://acme.crm.dynamics.com';
    nock('https://login.microsoftonline.com').post('/tenant-1/oauth2/v2.0/token').reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'tok' });
    nock(ORG, { reqheaders: { 'if-match': '*' } })
      .patch('/api/data/v9.2/salesorders(00000000-0000-0000-0000-000000000001)', { synchub_deleted: true }).reply(204)
      .patch('/api/data/v9.2/salesorders(00000000-0000-0000-0000-000000000002)').reply(404, { error: { code: '0x80040217', message: 'salesorder With Id = 00000000-0000-0000-0000-000000000002 Does Not Exist' } });
    const c = dynamics.create(testConnection({ name: 'd365', connector: 'dynamics', baseUrl: ORG, credentials: { tenantId: 'tenant-1', clientId: 'app-1', clientSecret: 'secret-1' } }), ctx);
    const out = await c.mark!('order', ['00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002'], mark);
    expect(out.map((o) => o.ok)).toEqual([true, true]);
  });

  it('WooCommerce archive: DELETE /orders/{id} without force (the trash), one call an order; 404 and 410 already-trashed count as done', async () => {
    const forced: unknown[] = [];
    nock('https://shop.example.com')
      .delete('/wp-json/wc/v3/orders/727').query((q) => { forced.push(q.force); return true; }).reply(200, { id: 727, status: 'trash' })
      .delete('/wp-json/wc/v3/orders/728').query(true).reply(410, { code: 'woocommerce_rest_already_trashed', message: 'The order has already been deleted.', data: { status: 410 } })
      .delete('/wp-json/wc/v3/orders/729').query(true).reply(404, { code: 'woocommerce_rest_shop_order_invalid_id', message: 'Invalid ID.', data: { status: 404 } });
    const c = woocommerce.create(testConnection({ name: 'woo', connector: 'woocommerce', baseUrl: 'https://shop.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } }), ctx);
    const out = await c.remove!('order', ['727', '728', '729'], undefined, 'archive');
    expect(out.map((o) => o.ok)).toEqual([true, true, true]);
    expect(forced).toEqual([undefined]);
  });
});
