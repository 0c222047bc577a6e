import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import type { WebhookDelivery, WebhookEvent, WebhookHandler, WebhookReply, WebhookRequest } from '../types.js';

const ACK = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>';

const ENTITY: Record<string, Entity> = { Contact: 'customer', Account: 'customer', Order: 'order', Opportunity: 'order' };

/** The text of the first `<prefix:name>` element (any namespace prefix). */
function element(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[\\w-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${name}>`).exec(xml);
  return m ? m[1].trim() : undefined;
}

/**
 * Outbound Messages: a SOAP `notifications` envelope with the org id and one or more
 * `Notification` elements, each an sObject with at least its Id. Salesforce signs
 * nothing; the hub checks OrganizationId against `credentials.organizationId`
 * (timing-safe), fetches each record, and answers the SOAP Ack Salesforce waits for
 * (without it Salesforce retries for 24 hours).
 */
export function salesforceWebhooks(organizationId: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      const xml = req.rawBody.toString('utf8');
      if (!/<(?:[\w-]+:)?notifications[\s>]/.test(xml)) throw new WebhookMalformedError('body is not an Outbound Message (SOAP notifications)');
      const org = element(xml, 'OrganizationId');
      // Salesforce sends 18-character ids; a configured 15-character id matches its prefix.
      const given = org && organizationId.length === 15 ? org.slice(0, 15) : org;
      if (!given || !safeEqual(given, organizationId)) throw new WebhookSignatureError('OrganizationId does not match this connection');
      const events: WebhookEvent[] = [];
      for (const m of xml.matchAll(/<(?:[\w-]+:)?Notification>([\s\S]*?)<\/(?:[\w-]+:)?Notification>/g)) {
        const n = m[1];
        const id = element(n, 'Id');
        const type = /xsi:type="(?:[\w-]+:)?(\w+)"/.exec(n)?.[1];
        const sobject = /<(?:[\w-]+:)?sObject[\s\S]*?<\/(?:[\w-]+:)?sObject>/.exec(n)?.[0] ?? '';
        const recordId = element(sobject, 'Id');
        if (!id || !type || !recordId) throw new WebhookMalformedError('a Notification lacks its Id, sObject type or sObject Id');
        const entity = ENTITY[type];
        if (entity) events.push({ id, topic: `outbound.${type}`, entity, ref: recordId });
      }
      return { events };
    },
    acknowledge: (): WebhookReply => ({ status: 200, body: ACK, contentType: 'text/xml; charset=utf-8' }),
  };
}
