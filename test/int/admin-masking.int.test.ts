/**
 * Per connector: a record in its API's shape (the fixtures, or the connector tests'
 * payloads) goes through the admin surface — samples, the mapping preview (the
 * pipeline's own mapping and expressions built to leak) and dead letters (list and
 * detail) — and none of its personal values comes back.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Entity } from '../../src/core/canonical/schemas.js';
import { ingestRecords } from '../../src/jobs/ingest.js';
import { captureSamples } from '../../src/jobs/samples.js';
import { createApp } from '../../src/server.js';
import { ADMIN_TOKEN, adminClient } from '../helpers/admin.js';
import { openTestHub, testConfig, type TestHub } from '../helpers/hub.js';
import { fixture } from '../helpers/mock-apis.js';
import { rsaKeys } from '../helpers/payment-signing.js';

const keys = rsaKeys();

interface Case {
  connector: string;
  entity: Entity;
  connection: Record<string, unknown>;
  record: Record<string, unknown>;
  /** The record's personal values, as they appear in it. */
  personal: string[];
}

const CASES: Case[] = [
  {
    connector: 'shopify', entity: 'customer', connection: { baseUrl: 'https://acme.myshopify.com', credentials: { accessToken: 'shpat' } },
    record: fixture('shopify/customer.json'),
    personal: ['bob.norman@mail.example.com', 'Norman', '+16136120707', 'Chestnut Street 92', 'Louisville', '555-625-1199', '40202'],
  },
  {
    connector: 'hubspot', entity: 'customer', connection: { credentials: { accessToken: 'pat' } },
    // A contact as the CRM search endpoint answers it (properties as strings).
    record: { id: '51', properties: { email: 'mara.lindqvist@hs-mail.test', firstname: 'Mara', lastname: 'Lindqvist', phone: '+46 70 123 45 67', mobilephone: '+46707654321', address: 'Storgatan 12', city: 'Uppsala', zip: '75320', createdate: '2025-01-02T10:00:00.000Z', lastmodifieddate: '2025-03-02T10:00:00.000Z' }, createdAt: '2025-01-02T10:00:00.000Z', updatedAt: '2025-03-02T10:00:00.000Z', archived: false },
    personal: ['mara.lindqvist@hs-mail.test', 'Lindqvist', '+46 70 123 45 67', '46707654321', 'Storgatan 12', 'Uppsala', '75320'],
  },
  {
    connector: 'salesforce', entity: 'customer', connection: { baseUrl: 'https://acme.my.salesforce.com', credentials: { accessToken: '00Dxx!token' } },
    record: { attributes: { type: 'Contact', url: '/services/data/v61.0/sobjects/Contact/003J000001cZ1aAIAS' }, Id: '003J000001cZ1aAIAS', Email: 'ines.okafor@sf-mail.test', FirstName: 'Ines', LastName: 'Okafor', Name: 'Ines Okafor', Phone: '(415) 555-0132', MobilePhone: '415.555.0199', MailingStreet: '1 Market Street', MailingCity: 'Sacramento', MailingPostalCode: '95814', MailingCountry: 'US', LastModifiedDate: '2025-03-02T10:00:00.000+0000', CreatedDate: '2025-01-02T10:00:00.000+0000' },
    personal: ['ines.okafor@sf-mail.test', 'Okafor', '(415) 555-0132', '415.555.0199', '1 Market Street', 'Sacramento', '95814'],
  },
  {
    connector: 'dynamics', entity: 'customer', connection: { baseUrl: 'https://acme.crm.dynamics.com', credentials: { tenantId: 'tenant', clientId: 'client', clientSecret: 'secret' } },
    record: { '@odata.etag': 'W/"1234567"', contactid: '49b0be2e-d01c-ed11-b83e-000d3a572421', emailaddress1: 'yusuf.demir@d365-mail.test', firstname: 'Yusuf', lastname: 'Demirkaya', fullname: 'Yusuf Demirkaya', telephone1: '+90 212 555 0147', mobilephone: '+905325550148', address1_line1: 'Istiklal Caddesi 88', address1_city: 'Beyoglu', address1_postalcode: '34433', address1_country: 'TR', createdon: '2025-01-02T10:00:00Z', modifiedon: '2025-03-02T10:00:00Z' },
    personal: ['yusuf.demir@d365-mail.test', 'Demirkaya', '+90 212 555 0147', '905325550148', 'Istiklal Caddesi 88', 'Beyoglu', '34433'],
  },
  {
    connector: 'zoho', entity: 'customer', connection: { credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } },
    record: { id: '3652397000000624046', Email: 'priya.raman@zoho-mail.test', First_Name: 'Priya', Last_Name: 'Ramanathan', Full_Name: 'Priya Ramanathan', Phone: '+91 98450 12345', Mobile: '+919845067890', Mailing_Street: 'MG Road 21', Mailing_City: 'Bengaluru', Mailing_Zip: '560001', Mailing_Country: 'India', Created_Time: '2025-01-02T10:00:00+05:30', Modified_Time: '2025-03-02T10:00:00+05:30' },
    personal: ['priya.raman@zoho-mail.test', 'Ramanathan', '+91 98450 12345', '919845067890', 'MG Road 21', 'Bengaluru', '560001'],
  },
  {
    connector: 'woocommerce', entity: 'customer', connection: { baseUrl: 'https://woo.example.com', credentials: { consumerKey: 'ck', consumerSecret: 'cs' } },
    record: fixture('woocommerce/customer.json'),
    personal: ['john.doe@example.com', 'john.doe', '969 Market', 'San Francisco', '(555) 555-5555', '94103'],
  },
  {
    connector: 'magento', entity: 'customer', connection: { baseUrl: 'https://shop.example.com', credentials: { accessToken: 'tok' } },
    record: { ...fixture('magento/customer.json'), dob: '1973-12-15', taxvat: 'DE123456789', gender: 2 },
    personal: ['roni_cost@example.com', 'Veronica', 'Costello', '6146 Honey Bluff Parkway', '(555) 229-3326', '49628-7978', 'Calder', '1973-12-15', 'DE123456789'],
  },
  {
    connector: 'odoo', entity: 'customer', connection: { baseUrl: 'https://acme.odoo.com', credentials: { database: 'acme', username: 'bot@acme.test', apiKey: 'key' } },
    record: fixture('odoo/partner.json'),
    personal: ['Brandon Freeman', 'brandon.freeman55@example.com', '(355)-687-3262', '4557 De Silva St', 'Fremont', '94538'],
  },
  {
    connector: 'stripe', entity: 'customer', connection: { credentials: { secretKey: 'sk_test_4eC39HqLyjWDarjtT1zdp7dc' } },
    // A Customer object (Stripe API reference, "The Customer object"), with shipping.
    record: { id: 'cus_NffrFeUfNV2Hib', object: 'customer', created: 1680893993, email: 'jenny.rosen@stripe-mail.test', name: 'Jenny Rosen', phone: '+1 (206) 555-0173', address: { line1: '510 Townsend St', line2: null, city: 'Brisbane', postal_code: '94005', state: 'CA', country: 'US' }, shipping: { name: 'Jennifer Rosenthal', phone: '+12065550188', address: { line1: '1 Harbour Way', city: 'Oakland', postal_code: '94607', country: 'US' } }, metadata: {}, livemode: false },
    personal: ['jenny.rosen@stripe-mail.test', 'Jenny Rosen', '(206) 555-0173', '510 Townsend St', 'Brisbane', '94005', 'Jennifer Rosenthal', '12065550188', '1 Harbour Way', 'Oakland', '94607'],
  },
  {
    connector: 'paypal', entity: 'payment', connection: { credentials: { clientId: 'AYSq3', clientSecret: 'EGnHD' } },
    // A transaction of GET /v1/reporting/transactions (Transaction Search API).
    record: {
      transaction_info: { transaction_id: '9GS80322P28628837', transaction_event_code: 'T0006', transaction_initiation_date: '2025-03-01T10:00:00+0000', transaction_updated_date: '2025-03-01T10:00:05+0000', transaction_amount: { currency_code: 'USD', value: '20.00' }, transaction_status: 'S', invoice_id: '1001' },
      payer_info: { account_id: 'ZHBKLDMN7WC7E', email_address: 'lucia.ferreira@paypal-mail.test', phone_number: { country_code: '351', national_number: '912345678' }, payer_name: { given_name: 'Lucia', surname: 'Ferreira', alternate_full_name: 'Lucia Ferreira' }, country_code: 'PT' },
      shipping_info: { name: 'Lucia Ferreira', address: { line1: 'Rua Augusta 100', city: 'Lisboa', country_code: 'PT', postal_code: '1100-053' } },
    },
    personal: ['lucia.ferreira@paypal-mail.test', '912345678', 'Ferreira', 'Rua Augusta 100', 'Lisboa', '1100-053', 'ZHBKLDMN7WC7E'],
  },
  {
    connector: 'alipay', entity: 'payment', connection: { credentials: { appId: '2021000000000001', privateKey: keys.privatePem, alipayPublicKey: keys.publicPem } },
    // alipay.trade.query's answer (buyer_logon_id is the buyer's account: an email or phone, masked in part by Alipay).
    record: { code: '10000', msg: 'Success', trade_no: '2025030122001411111111111111', out_trade_no: '1001', buyer_logon_id: 'wen.zhao@alipay-mail.test', trade_status: 'TRADE_SUCCESS', total_amount: '88.88', buyer_user_id: '2088102177846880', send_pay_date: '2025-03-01 10:00:04' },
    personal: ['wen.zhao@alipay-mail.test', '2088102177846880'],
  },
  {
    connector: 'wechatpay', entity: 'payment', connection: { credentials: { mchId: '1900000109', serialNo: '408B07E79B8269FEC3D5D3E6AB8ED163A6A380DB', privateKey: keys.privatePem, apiV3Key: randomBytes(16).toString('hex'), platformPublicKey: keys.publicPem, platformSerial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1' } },
    record: { mchid: '1900000109', appid: 'wxd678efh567hg6787', out_trade_no: '1001', transaction_id: '4200000001202503011234567890', trade_type: 'JSAPI', trade_state: 'SUCCESS', success_time: '2025-03-01T10:00:04+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' }, amount: { total: 2000, payer_total: 2000, currency: 'CNY', payer_currency: 'CNY' } },
    personal: ['oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'],
  },
];

/** Expressions an admin (or someone with the admin token) could try on a sample to get the data out. */
const LEAKY = ['{"s": "x@" & $string($)}', '{"all": $string($), "upper": $uppercase($string($))}', '$number($string($))', '$number($string($.*))'];

describe('admin answers mask a real record of every connector', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  for (const c of CASES) {
    it(`${c.connector}: samples, preview and dead letters show none of the record's personal values`, async () => {
      const target = c.connector === 'hubspot' ? { connector: 'zoho', credentials: { clientId: 'c', clientSecret: 's', refreshToken: 'r' } } : { connector: 'hubspot', credentials: { accessToken: 'pat' } };
      t = await openTestHub(testConfig({
        server: { adminToken: ADMIN_TOKEN },
        connections: { src: { connector: c.connector, ...c.connection }, dest: target },
        pipelines: {
          p: { source: { connection: 'src', entity: c.entity }, targets: [{ connection: 'dest', entity: c.entity === 'payment' ? 'order' : c.entity }] },
          // The same source, with a transform that fails quoting the whole record: a dead letter.
          dl: { source: { connection: 'src', entity: c.entity }, transform: 'mappings/quote-record.jsonata', targets: [{ connection: 'dest', entity: c.entity === 'payment' ? 'order' : c.entity }] },
        },
      }));
      const { hub } = t;
      const tx = hub.redis.multi();
      captureSamples(hub, tx, 'p', [c.record]);
      await tx.exec();
      const handOn = await ingestRecords(hub, hub.config.pipelines.get('dl')!, [c.record]);
      expect(handOn.dead).toBe(1);

      const api = adminClient(createApp(hub));
      const answers: { what: string; body: unknown }[] = [];
      const keep = (what: string, res: { status: number; body: unknown }) => {
        answers.push({ what, body: res.body });
        return res;
      };
      expect(keep('samples', await api.get('/api/pipelines/p/samples')).status).toBe(200);
      for (const stage of ['in', 'out']) keep(`preview ${stage}`, await api.post('/api/mappings/preview', { pipeline: 'p', sample: 0, stage }));
      for (const expression of LEAKY) keep(`preview ${expression}`, await api.post('/api/mappings/preview', { pipeline: 'p', sample: 0, expression }));
      const list = keep('dead letters', await api.get('/api/dead-letters?pipeline=dl'));
      const [letter] = (list.body as { items: { id: string }[] }).items;
      expect(letter).toBeDefined();
      const detail = keep('dead letter', await api.get(`/api/dead-letters/${letter.id}`));
      expect(detail.status).toBe(200);
      expect((detail.body as { error: { code: string } }).error.code).toBe('mapping_failed');

      const leaks = answers.flatMap(({ what, body }) => {
        const text = JSON.stringify(body).toLowerCase();
        return c.personal.filter((v) => text.includes(v.toLowerCase())).map((v) => `${what}: ${v}`);
      });
      expect(leaks).toEqual([]);
    });
  }
});
