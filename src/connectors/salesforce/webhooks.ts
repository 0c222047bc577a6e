import { SaxesParser, type SaxesTagNS } from 'saxes';
import type { Entity } from '../../core/canonical/schemas.js';
import { safeEqual } from '../../core/crypto.js';
import { SynchubError, WebhookMalformedError, WebhookSignatureError } from '../../core/errors.js';
import type { WebhookDelivery, WebhookEvent, WebhookHandler, WebhookReply, WebhookRequest } from '../types.js';

const ACK = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>';

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/';
const OUTBOUND = 'http://soap.sforce.com/2005/09/outbound';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/**
 * Envelope / Body / notifications / Notification / sObject / field is six levels. saxes
 * resolves namespaces through a chain as deep as the nesting, so an unbounded depth would
 * make a deeply nested body quadratic: 50,000 nested `<Notification><Id>` took minutes.
 */
const MAX_DEPTH = 12;

/** Salesforce ids are 15 or 18 characters; anything much longer is not an id. */
const MAX_ID_CHARS = 64;

const ENTITY: Record<string, Entity> = { Contact: 'customer', Account: 'customer', Order: 'order', Opportunity: 'order' };

const xmlEscape = (s: string) => s.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));

/** What the parse collects of one Notification. */
interface PendingNotification { id?: string; type?: string; recordId?: string }

/**
 * Reads an Outbound Message with a streaming, linear-time XML parser (saxes: well-formedness
 * and namespaces checked, no DTD, no entity expansion) and checks the org id the moment its
 * element closes, before any Notification is looked at. The outbound WSDL puts
 * OrganizationId first in `notifications` ("Understanding the Outbound Messaging WSDL"), so a
 * Notification before it is refused. A body that is not one whole, well-formed
 * Envelope/Body/notifications document (e.g. cut inside a Notification) is refused, never
 * acknowledged: Salesforce keeps an un-acked message and retries it for up to 24 hours.
 */
export function parseOutboundMessage(xml: string, organizationId: string): WebhookEvent[] {
  const parser = new SaxesParser({ xmlns: true, position: false });
  const path: SaxesTagNS[] = [];
  const events: WebhookEvent[] = [];
  let orgChecked = false;
  let sawNotifications = false;
  let notification: PendingNotification | undefined;
  /** Text of the id element being read (OrganizationId, Notification/Id, sObject/Id). */
  let text: string | undefined;

  const at = (depth: number, local: string, uri?: string) => {
    const t = path[depth];
    return t !== undefined && t.local === local && (uri === undefined || t.uri === uri);
  };

  parser.on('doctype', () => {
    throw new WebhookMalformedError('an Outbound Message carries no DOCTYPE');
  });
  parser.on('opentagstart', () => {
    if (path.length >= MAX_DEPTH) throw new WebhookMalformedError(`the Outbound Message nests elements deeper than ${MAX_DEPTH} levels`);
  });
  parser.on('opentag', (tag) => {
    const depth = path.length;
    path.push(tag as SaxesTagNS);
    if (depth === 0 && !at(0, 'Envelope', SOAP_ENV)) throw new WebhookMalformedError('body is not an Outbound Message (SOAP Envelope)');
    if (depth === 2 && at(1, 'Body', SOAP_ENV)) {
      if (!at(2, 'notifications', OUTBOUND) || sawNotifications) throw new WebhookMalformedError('body is not an Outbound Message (SOAP notifications)');
      sawNotifications = true;
    }
    if (depth === 3 && at(2, 'notifications', OUTBOUND)) {
      if (tag.local === 'OrganizationId') text = '';
      else if (tag.local === 'Notification') {
        if (!orgChecked) throw new WebhookSignatureError('OrganizationId must come before the notifications');
        notification = {};
      }
    }
    if (depth === 4 && notification && at(3, 'Notification', OUTBOUND)) {
      if (tag.local === 'Id') text = '';
      else if (tag.local === 'sObject') {
        // xsi:type="sf:Order": the sObject type is the local part of the QName.
        const value = Object.values((tag as SaxesTagNS).attributes).find((a) => a.uri === XSI && a.local === 'type')?.value;
        notification.type = value?.slice(value.indexOf(':') + 1);
      }
    }
    if (depth === 5 && notification && at(4, 'sObject') && tag.local === 'Id') text = '';
  });
  parser.on('text', (t) => {
    if (text === undefined) return;
    text += t;
    if (text.length > MAX_ID_CHARS) throw new WebhookMalformedError('an id element of the Outbound Message is too long');
  });
  parser.on('cdata', (t) => {
    if (text !== undefined) text += t;
  });
  parser.on('closetag', () => {
    const depth = path.length - 1;
    const tag = path.pop()!;
    const value = text?.trim();
    if (depth === 3 && tag.local === 'OrganizationId' && text !== undefined) {
      // Salesforce sends 18-character ids; a configured 15-character id matches its prefix.
      const given = value && organizationId.length === 15 ? value.slice(0, 15) : value;
      if (!given || !safeEqual(given, organizationId)) throw new WebhookSignatureError('OrganizationId does not match this connection');
      orgChecked = true;
    } else if (depth === 4 && notification && tag.local === 'Id' && text !== undefined) notification.id = value;
    else if (depth === 5 && notification && tag.local === 'Id' && text !== undefined) notification.recordId = value;
    else if (depth === 3 && notification && tag.local === 'Notification') {
      const { id, type, recordId } = notification;
      if (!id || !type || !recordId) throw new WebhookMalformedError('a Notification lacks its Id, sObject type or sObject Id');
      const entity = ENTITY[type];
      if (entity) events.push({ id, topic: `outbound.${type}`, entity, ref: recordId });
      notification = undefined;
    }
    text = undefined;
  });

  try {
    parser.write(xml).close();
  } catch (err) {
    if (err instanceof SynchubError) throw err;
    throw new WebhookMalformedError(`body is not an Outbound Message (not well-formed XML: ${(err as Error).message})`);
  }
  if (!sawNotifications) throw new WebhookMalformedError('body is not an Outbound Message (SOAP notifications)');
  if (!orgChecked) throw new WebhookSignatureError('OrganizationId does not match this connection');
  return events;
}

/**
 * Outbound Messages: a SOAP `notifications` envelope with the org id and up to 100
 * `Notification` elements, each an sObject with at least its Id. Salesforce signs
 * nothing; the hub checks OrganizationId against `credentials.organizationId`
 * (timing-safe), fetches each record, and answers the SOAP Ack Salesforce waits for
 * (without it Salesforce retries for 24 hours). A refusal is answered with a SOAP 1.1
 * Client fault, so Salesforce's delivery status shows why.
 */
export function salesforceWebhooks(organizationId: string): WebhookHandler {
  return {
    verify(req: WebhookRequest): WebhookDelivery {
      return { events: parseOutboundMessage(req.rawBody.toString('utf8'), organizationId) };
    },
    acknowledge: (): WebhookReply => ({ status: 200, body: ACK, contentType: 'text/xml; charset=utf-8' }),
    reject: (status: number, err: SynchubError): WebhookReply => ({
      status,
      contentType: 'text/xml; charset=utf-8',
      body: `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="${SOAP_ENV}"><soapenv:Body><soapenv:Fault><faultcode>${status >= 500 ? 'soapenv:Server' : 'soapenv:Client'}</faultcode><faultstring>${xmlEscape(`${err.code}: ${err.message}`)}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
    }),
  };
}
