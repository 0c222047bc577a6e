import { describe, expect, it } from 'vitest';
import { PersonalValues, emailSpans, emailsAt, isPersonalKey, phoneSpans, scrubDeep, scrubText, scrubThrown } from '../../src/core/redact.js';
import { maskValue } from '../../src/admin/mask.js';
import { RemoteRejectedError } from '../../src/core/errors.js';

describe('scrubbing personal data out of text', () => {
  it('removes email- and phone-shaped text, whoever it belongs to', () => {
    expect(scrubText('Email address jane.o+shop@mail.example.co.uk is invalid.')).toBe('Email address [email] is invalid.');
    expect(scrubText('Property values were not valid: phone "+1 (555) 010-9999", mobilephone +15550109999')).toBe('Property values were not valid: phone "[phone]", mobilephone [phone]');
    expect(scrubText('call 555-010-9999 or 020 7946 0958')).toBe('call [phone] or [phone]');
  });

  it('leaves ids, amounts, dates and versions alone', () => {
    const text = 'order 450789469 (gid://shopify/Order/5512345678901) total 1234567.89 on 2024-06-01 / 01.06.2024 at 10:00:00Z, v1.2.3, user@ (no domain), a@b';
    expect(scrubText(text)).toBe(text);
  });

  it("removes the record's own values wherever they occur, also JSON-escaped, as whole words", () => {
    const values = new PersonalValues().addCanonical('customer', { email: 'jane@example.com', firstName: 'Zoë', lastName: 'O"Brien', addresses: [{ city: 'Louisville', postalCode: '40202' }] });
    expect(scrubText('{"message":"Zo\\u00eb O\\"Brien of LOUISVILLE 40202 exists; zoë"}', values)).toBe('{"message":"[redacted] [redacted] of [redacted] [redacted] exists; [redacted]"}');
    // Not inside other words or numbers.
    expect(scrubText('Louisvilleish 402020 Zoëy', values)).toBe('Louisvilleish 402020 Zoëy');
    expect(scrubDeep({ a: ['Louisville', 40202, 7] }, values)).toEqual({ a: ['[redacted]', '[redacted]', 7] });
  });

  it('collects values under declared paths of an API-shaped record, through arrays', () => {
    const values = new PersonalValues().addPaths({ shipping: { name: 'Jenny Rosen', address: { line1: '510 Townsend St' } }, lines: [{ buyer_logon_id: 'jen***@alipay.com' }] }, ['shipping.name', 'shipping.address', 'lines.buyer_logon_id']);
    expect(scrubText('Jenny Rosen at 510 Townsend St, jen***@alipay.com', values)).toBe('[redacted] at [redacted], [redacted]');
  });

  it('rewrites a thrown error in place: message, stack and details, keeping its class', () => {
    const err = new RemoteRejectedError('crm: answered 400: Email address jane@example.com is invalid (Jane)', { status: 400, details: { body: { message: 'Jane jane@example.com' } } });
    const same = scrubThrown(err, new PersonalValues(['Jane']));
    expect(same).toBe(err);
    expect(err).toBeInstanceOf(RemoteRejectedError);
    expect(err.message).toBe('crm: answered 400: Email address [email] is invalid ([redacted])');
    expect(err.stack).not.toMatch(/jane/i);
    expect(err.details).toEqual({ body: { message: '[redacted] [email]' } });
  });

  it('knows personal field names in the APIs\' spellings, and leaves the others', () => {
    for (const k of ['name', 'street2', 'telephone1', 'mobilephone', 'MobilePhone', 'MailingStreet', 'MailingCity', 'MailingPostalCode', 'username', 'dob', 'taxvat',
      'buyer_logon_id', 'emailaddress1', 'first_name', 'LastName', 'address_1', 'postcode', 'zip', 'browser_ip', 'customer_note', 'payer']) expect(isPersonalKey(k), k).toBe(true);
    for (const k of ['id', 'total_price', 'currency', 'order_number', 'dealname', 'title', 'sku', 'status', 'created_at', 'quantity', 'shipping_lines']) expect(isPersonalKey(k), k).toBe(false);
  });

  it('masks a value whole unless it is one email address, which keeps only its domain', () => {
    expect(maskValue('bob@example.com')).toBe('b***@example.com');
    expect(maskValue('x@{"email":"bob@example.com","name":"Bob Norman"}')).toBe('x***');
    expect(maskValue('b***@example.com')).toBe('b***@example.com');
  });

  it('scans hostile text in linear time', () => {
    // Each would take minutes with a backtracking pattern.
    const hostile = ['a@'.repeat(200_000), `${'a.'.repeat(200_000)}@`, '1-'.repeat(200_000), `${'('.repeat(200_000)}1`, `@${'a'.repeat(400_000)}`];
    for (const text of hostile) {
      expect(emailSpans(text).length + phoneSpans(text).length).toBeLessThan(text.length);
      scrubText(text, new PersonalValues(['aaaa', '1-1']));
    }
  });
});

describe('the emails a webhook body names (emailsAt, for the erasure index)', () => {
  it('finds what addPaths(...).emails() finds, in the same order: nested, in arrays, any case and spacing, never under an id key', async () => {
    const { readFileSync } = await import('node:fs');
    const order = JSON.parse(readFileSync(new URL('../fixtures/shopify/order.json', import.meta.url), 'utf8'));
    const paths = ['email', 'contact_email', 'customer.email', 'customer.default_address', 'billing_address', 'shipping_address', 'addresses', 'note', 'line_items.properties'];
    const records = [
      order,
      {
        email: '  Jane.Doe@Example.COM ', contact_email: 'jane.doe@example.com', note: 'call me: x@y.z or zoë@exämple.de',
        customer: { email: 'Zoë@Exämple.de', default_address: { customer_id: 'hidden@ids.example', name: 'a@b', company: 'billing@acme.example' } },
        billing_address: [{ email: 'o"brien@mail.example' }, { email: 'back\\slash@mail.example' }, { phone: 4155550100 }],
        shipping_address: { lines: [['deep@nest.example'], { id: 'id@not.person' }] },
        addresses: [{ email: 'first@two.example' }, { email: 'FIRST@two.example' }],
        line_items: [{ properties: [{ value: 'gift@to.example' }] }],
      },
      { email: 42, customer: null, billing_address: 'no address here' },
    ];
    for (const record of records) expect(emailsAt(record, paths)).toEqual(new PersonalValues().addPaths(record, paths).emails());
    // Not: text around an address (the note), a quote or a backslash in it, 'a@b', or what sits under an id key.
    expect(emailsAt(records[1], paths)).toEqual(['jane.doe@example.com', 'zoë@exämple.de', 'billing@acme.example', 'deep@nest.example', 'first@two.example', 'gift@to.example']);
  });
});
