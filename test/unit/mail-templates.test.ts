import { describe, expect, it } from 'vitest';
import { compileTemplate, formatMoney, TemplateSyntaxError } from '../../src/notify/templates.js';

const render = (src: string, data: Record<string, unknown>, mode: 'text' | 'html' = 'text', locale = 'en-US') => compileTemplate(src).render(data, { mode, locale });

describe('mail templates', () => {
  it('fills values, escapes them in HTML only, and never runs them', () => {
    const data = { order: { orderNumber: '1001', note: '<script>alert(1)</script> & "x" \'y\'' }, tpl: '{{ order.orderNumber }}' };
    expect(render('Order {{ order.orderNumber }}: {{ order.note }}', data)).toBe('Order 1001: <script>alert(1)</script> & "x" \'y\'');
    expect(render('<p>{{ order.note }}</p>', data, 'html')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;</p>');
    // A value that looks like a template is shown as text, not evaluated.
    expect(render('{{ tpl }}', data)).toBe('{{ order.orderNumber }}');
    expect(render('[{{ missing.field }}][{{ order }}][{{ constructor }}][{{ order.__proto__ }}]', data)).toBe('[][][][]');
  });

  it('has if/else and each, with the item\'s fields first inside each', () => {
    const src = '{{#each events}}{{ orderNumber }}{{#if failed}} failed{{else}} ok{{/if}} ({{ pipeline }});{{/each}}';
    expect(render(src, { pipeline: 'orders', events: [{ orderNumber: '1' }, { orderNumber: '2', failed: true }] })).toBe('1 ok (orders);2 failed (orders);');
  });

  it('formats amounts exactly from decimal strings, per currency and locale', () => {
    expect(render('{{ t | money c }}', { t: '12345678901234567.89', c: 'USD' })).toBe('$12,345,678,901,234,567.89');
    expect(formatMoney('1234.5', 'EUR', 'de-DE')).toBe('1.234,50\u00a0€');
    expect(formatMoney('1000', 'JPY', 'ja-JP')).toBe('￥1,000');
    expect(formatMoney('1.234', 'KWD', 'en-US')).toBe('KWD\u00a01.234');
    expect(formatMoney('0.1', 'USD', 'en-US')).toBe('$0.10');
    // More decimals than the currency has are shown, not rounded away.
    expect(formatMoney('0.105', 'USD', 'en-US')).toBe('$0.105');
    expect(formatMoney('9007199254740993.01', 'EUR', 'fr-FR')).toBe('9\u202f007\u202f199\u202f254\u202f740\u202f993,01\u00a0€');
    expect(formatMoney('n/a', 'USD', 'en-US')).toBe('n/a');
  });

  it('refuses broken templates with where they break', () => {
    for (const [src, where] of [['{{ a', 'at character 0'], ['{{#if a}}x', 'at character 0'], ['x{{/each}}', 'at character 1'], ['{{ a + b }}', 'at character 0'], ['{{ a | money }}', 'at character 0'], ['{{else}}', 'at character 0'], ['{{ a.b-c }}', 'at character 0']] as const) {
      expect(() => compileTemplate(src), src).toThrow(TemplateSyntaxError);
      expect(() => compileTemplate(src), src).toThrow(where);
    }
  });
});
