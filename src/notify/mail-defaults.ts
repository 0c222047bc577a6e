/**
 * The built-in mail templates (see templates.ts for the language). A sink's `templates`
 * replace them part by part; the fields they can use are those of mailFields (email.ts).
 */
type Parts = Record<'subject' | 'text' | 'html', string>;

const ORDER_TEXT = `Order {{ orderNumber }} is now {{ statusText }}{{#if previousStatus}} (was {{ previousStatus }}){{/if}}.

Order:    {{ orderNumber }}
Amount:   {{ amount }}
Pipeline: {{ pipeline }}
At:       {{ at }}
{{#if customer.email}}Customer: {{ customer.firstName }} {{ customer.lastName }} <{{ customer.email }}>
{{/if}}
Event id: {{ eventId }}
`;

const ORDER_HTML = `<p>Order <strong>{{ orderNumber }}</strong> is now <strong>{{ statusText }}</strong>{{#if previousStatus}} (was {{ previousStatus }}){{/if}}.</p>
<table>
<tr><th align="left">Order</th><td>{{ orderNumber }}</td></tr>
<tr><th align="left">Amount</th><td>{{ amount }}</td></tr>
<tr><th align="left">Pipeline</th><td>{{ pipeline }}</td></tr>
<tr><th align="left">At</th><td>{{ at }}</td></tr>
{{#if customer.email}}<tr><th align="left">Customer</th><td>{{ customer.firstName }} {{ customer.lastName }} &lt;{{ customer.email }}&gt;</td></tr>
{{/if}}</table>
<p style="color:#888">Event id {{ eventId }}</p>
`;

const PAYMENT_TEXT = `Payment {{ payment.externalId }} ({{ payment.provider }}) for order {{ orderNumber }}: {{ statusText }}{{#if payment.failureCode}} ({{ payment.failureCode }}){{/if}}.

Order:    {{ orderNumber }}
Amount:   {{ amount }}
Pipeline: {{ pipeline }}
At:       {{ at }}

Event id: {{ eventId }}
`;

const PAYMENT_HTML = `<p>Payment {{ payment.externalId }} ({{ payment.provider }}) for order <strong>{{ orderNumber }}</strong>: <strong>{{ statusText }}</strong>{{#if payment.failureCode}} ({{ payment.failureCode }}){{/if}}.</p>
<table>
<tr><th align="left">Amount</th><td>{{ amount }}</td></tr>
<tr><th align="left">Pipeline</th><td>{{ pipeline }}</td></tr>
<tr><th align="left">At</th><td>{{ at }}</td></tr>
</table>
<p style="color:#888">Event id {{ eventId }}</p>
`;

export const DEFAULT_TEMPLATES: Record<string, Parts> = {
  default: { subject: 'Order {{ orderNumber }}: {{ statusText }}', text: ORDER_TEXT, html: ORDER_HTML },
  'order.*': { subject: 'Order {{ orderNumber }}: {{ statusText }}', text: ORDER_TEXT, html: ORDER_HTML },
  'payment.*': { subject: 'Payment for order {{ orderNumber }}: {{ statusText }}', text: PAYMENT_TEXT, html: PAYMENT_HTML },
};

export const DEFAULT_DIGEST: Parts = {
  subject: '{{ count }} order events in {{ pipeline }}',
  text: `{{ count }} order events in {{ pipeline }} from {{ from }} to {{ until }}:

{{#each events}}- {{ at }}  order {{ orderNumber }}  {{ kind }} {{ statusText }}  {{ amount }}
{{/each}}{{#if more}}… and {{ more }} more.
{{/if}}`,
  html: `<p>{{ count }} order events in <strong>{{ pipeline }}</strong> from {{ from }} to {{ until }}:</p>
<table>
<tr><th align="left">At</th><th align="left">Order</th><th align="left">Event</th><th align="right">Amount</th></tr>
{{#each events}}<tr><td>{{ at }}</td><td>{{ orderNumber }}</td><td>{{ kind }} {{ statusText }}</td><td align="right">{{ amount }}</td></tr>
{{/each}}</table>
{{#if more}}<p>… and {{ more }} more.</p>{{/if}}
`,
};
