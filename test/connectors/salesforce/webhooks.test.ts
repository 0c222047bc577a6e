import { describe, expect, it } from 'vitest';
import { salesforceWebhooks } from '../../../src/connectors/salesforce/webhooks.js';

const ORG = '00D000000000062EAA';
const message = (org: string, notifications = 2) => `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${org}</OrganizationId>
   <ActionId>04k5A000000CaBcQAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D000000000062</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D000000000062</PartnerUrl>
${Array.from({ length: notifications }, (_, i) => `   <Notification>
    <Id>04l5A00000${i}AbCdQAK</Id>
    <sObject xsi:type="sf:Order" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>8015A00000${i}XyZQAS</sf:Id>
     <sf:Status>Activated</sf:Status>
    </sObject>
   </Notification>`).join('\n')}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;
const req = (body: string) => ({ method: 'POST', url: 'https://hub.example.com/webhooks/sf', headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '""' }, rawBody: Buffer.from(body) });

describe('salesforce Outbound Messages', () => {
  const handler = salesforceWebhooks(ORG);

  it('queues each notification (the record is fetched) and answers the SOAP Ack', async () => {
    const d = await handler.verify(req(message(ORG)));
    expect(d.events).toEqual([
      { id: '04l5A000000AbCdQAK', topic: 'outbound.Order', entity: 'order', ref: '8015A000000XyZQAS' },
      { id: '04l5A000001AbCdQAK', topic: 'outbound.Order', entity: 'order', ref: '8015A000001XyZQAS' },
    ]);
    const ack = handler.acknowledge!(d);
    expect(ack.status).toBe(200);
    expect(ack.body).toContain('<Ack>true</Ack>');
    expect(ack.contentType).toContain('text/xml');
  });

  it('refuses another organization and a body that is not an Outbound Message', () => {
    expect(() => handler.verify(req(message('00D000000000099EAA')))).toThrow(/OrganizationId does not match/);
    expect(() => handler.verify(req('{"not":"soap"}'))).toThrow(/not an Outbound Message/);
  });

  it('accepts the 15-character form of the org id', async () => {
    expect((await salesforceWebhooks(ORG.slice(0, 15)).verify(req(message(ORG, 1)))).events).toHaveLength(1);
  });
});
