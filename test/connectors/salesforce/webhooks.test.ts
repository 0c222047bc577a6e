import { describe, expect, it } from 'vitest';
import { salesforceWebhooks } from '../../../src/connectors/salesforce/webhooks.js';
import { WebhookMalformedError } from '../../../src/core/errors.js';

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

  it('refuses the 65,000-times repeated unclosed OrganizationId (once a 70 s regex stall) as malformed', () => {
    const body = '<notifications>' + '<OrganizationId '.repeat(65000);
    expect(() => handler.verify(req(body))).toThrow(expect.objectContaining({ code: 'webhook_malformed' }));
  }, 5000);

  it('refuses deep nesting before the parser resolves namespaces through it (once minutes for 50,000 levels)', () => {
    const head = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">';
    const body = `${head}<OrganizationId>${ORG}</OrganizationId>${'<Notification><Id>'.repeat(50_000)}`;
    expect(() => handler.verify(req(body))).toThrow(/deeper than 12 levels/);
  }, 5000);

  it('refuses a body cut inside a Notification: nothing of it is acknowledged', () => {
    const full = message(ORG, 3);
    const cut = full.slice(0, full.indexOf('<sf:Status>', full.lastIndexOf('<Notification>')));
    expect(() => handler.verify(req(cut))).toThrow(expect.objectContaining({ code: 'webhook_malformed' }));
    // Cut after the last Notification closed, but before the envelope ends: still not a whole message.
    const afterLast = full.slice(0, full.lastIndexOf('</notifications>'));
    expect(() => handler.verify(req(afterLast))).toThrow(expect.objectContaining({ code: 'webhook_malformed' }));
  });

  it('checks the org id before reading any Notification, and refuses one that comes before it', () => {
    // A wrong org followed by a broken Notification: refused for the org, the rest never read.
    const wrong = message('00D000000000099EAA', 1).replace('<sf:Id>', '<sf:Id><broken');
    expect(() => handler.verify(req(wrong))).toThrow(expect.objectContaining({ code: 'webhook_signature' }));
    const late = message(ORG, 1).replace(/<OrganizationId>.*<\/OrganizationId>/, '').replace('</Notification>', `</Notification><OrganizationId>${ORG}</OrganizationId>`);
    expect(() => handler.verify(req(late))).toThrow(expect.objectContaining({ code: 'webhook_signature' }));
  });

  it('refuses XML that is not the SOAP notifications envelope, a DOCTYPE and an undefined entity', () => {
    expect(() => handler.verify(req(`<notifications><OrganizationId>${ORG}</OrganizationId></notifications>`))).toThrow(/SOAP Envelope/);
    expect(() => handler.verify(req(`<!DOCTYPE x [<!ENTITY a "aaaa">]>${message(ORG, 1)}`))).toThrow(expect.objectContaining({ code: 'webhook_malformed' }));
    expect(() => handler.verify(req(message(ORG, 1).replace('Activated', '&a;')))).toThrow(expect.objectContaining({ code: 'webhook_malformed' }));
  });

  it('answers a refusal with a SOAP Client fault', () => {
    const fault = handler.reject!(400, new WebhookMalformedError('body <cut>'));
    expect(fault.status).toBe(400);
    expect(fault.contentType).toContain('text/xml');
    expect(fault.body).toContain('<faultcode>soapenv:Client</faultcode><faultstring>webhook_malformed: body &lt;cut&gt;</faultstring>');
  });

  it('accepts the 15-character form of the org id', async () => {
    expect((await salesforceWebhooks(ORG.slice(0, 15)).verify(req(message(ORG, 1)))).events).toHaveLength(1);
  });
});
