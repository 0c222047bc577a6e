import { currencyExponent } from '../core/money.js';

/**
 * The mail templates' language, small on purpose: no code runs, nothing is looked up but
 * the fields of the event being told.
 *
 *   {{ order.orderNumber }}              a value (HTML-escaped in the HTML part)
 *   {{ order.total | money order.currency }}  an amount, exact, in the sink's locale
 *   {{#if payment.failureCode}}…{{else}}…{{/if}}
 *   {{#each events}}…{{ order.orderNumber }}…{{/each}}   (digests: each event's fields)
 *
 * A template is parsed once, when the config loads; a syntax error stops start-up with its
 * config path. The parser scans for `{{` and `}}` with indexOf (no regular expressions over
 * the template), and what a render can produce is bounded by the template and its data.
 */
export type TemplateMode = 'text' | 'html';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; path: string[]; money?: string[] }
  | { kind: 'if'; path: string[]; then: Node[]; else: Node[] }
  | { kind: 'each'; path: string[]; body: Node[] };

export interface Template {
  readonly source: string;
  render(data: Record<string, unknown>, opts: RenderOptions): string;
}

export interface RenderOptions {
  mode: TemplateMode;
  /** BCP 47 locale of number formats, e.g. en-US, de-DE. */
  locale: string;
}

export class TemplateSyntaxError extends Error {}

const MAX_DEPTH = 8;
const PATH_STEP = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parsePath(text: string, at: number): string[] {
  const steps = text.split('.');
  if (!steps.every((s) => PATH_STEP.test(s))) throw new TemplateSyntaxError(`at character ${at}: "${text}" is not a field name such as order.total`);
  return steps;
}

function parseTag(inner: string, at: number): { open?: 'if' | 'each'; path?: string[]; close?: 'if' | 'each'; else?: true; node?: Node } {
  const words = inner.trim().split(/\s+/).filter(Boolean);
  if (!words.length) throw new TemplateSyntaxError(`at character ${at}: empty {{ }}`);
  const [head, ...rest] = words;
  if (head === '#if' || head === '#each') {
    if (rest.length !== 1) throw new TemplateSyntaxError(`at character ${at}: {{${head} …}} takes one field name`);
    return { open: head.slice(1) as 'if' | 'each', path: parsePath(rest[0], at) };
  }
  if (head === '/if' || head === '/each') {
    if (rest.length) throw new TemplateSyntaxError(`at character ${at}: {{${head}}} takes nothing`);
    return { close: head.slice(1) as 'if' | 'each' };
  }
  if (head === 'else') {
    if (rest.length) throw new TemplateSyntaxError(`at character ${at}: {{else}} takes nothing`);
    return { else: true };
  }
  const path = parsePath(head, at);
  if (!rest.length) return { node: { kind: 'value', path } };
  if (rest[0] === '|' && rest[1] === 'money' && rest.length === 3) return { node: { kind: 'value', path, money: parsePath(rest[2], at) } };
  throw new TemplateSyntaxError(`at character ${at}: "{{${inner}}}" is not {{ field }} or {{ field | money currencyField }}`);
}

/** Parses a template; throws TemplateSyntaxError naming the character where it went wrong. */
export function compileTemplate(source: string): Template {
  const root: Node[] = [];
  const stack: { node: Extract<Node, { kind: 'if' | 'each' }>; inElse: boolean; at: number }[] = [];
  const target = () => {
    const top = stack[stack.length - 1];
    if (!top) return root;
    if (top.node.kind === 'each') return top.node.body;
    return top.inElse ? top.node.else : top.node.then;
  };
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      target().push({ kind: 'text', text: source.slice(i) });
      break;
    }
    if (open > i) target().push({ kind: 'text', text: source.slice(i, open) });
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateSyntaxError(`at character ${open}: {{ is not closed with }}`);
    const inner = source.slice(open + 2, close);
    const tag = parseTag(inner, open);
    if (tag.open) {
      if (stack.length >= MAX_DEPTH) throw new TemplateSyntaxError(`at character ${open}: blocks nested more than ${MAX_DEPTH} deep`);
      const path = tag.path!;
      const node = tag.open === 'if' ? { kind: 'if' as const, path, then: [], else: [] } : { kind: 'each' as const, path, body: [] };
      target().push(node);
      stack.push({ node, inElse: false, at: open });
    } else if (tag.close) {
      const top = stack.pop();
      if (!top || top.node.kind !== tag.close) throw new TemplateSyntaxError(`at character ${open}: {{/${tag.close}}} closes no {{#${tag.close}}}`);
    } else if (tag.else) {
      const top = stack[stack.length - 1];
      if (!top || top.node.kind !== 'if' || top.inElse) throw new TemplateSyntaxError(`at character ${open}: {{else}} outside an {{#if}}`);
      top.inElse = true;
    } else target().push(tag.node!);
    i = close + 2;
  }
  if (stack.length) {
    const top = stack[stack.length - 1];
    throw new TemplateSyntaxError(`at character ${top.at}: {{#${top.node.kind}}} is not closed`);
  }
  return { source, render: (data, opts) => renderNodes(root, [data], opts) };
}

function lookup(scopes: readonly Record<string, unknown>[], path: string[]): unknown {
  // The innermost scope that has the first step (inside {{#each}}: the item, then the outer data).
  for (let s = scopes.length - 1; s >= 0; s--) {
    let v: unknown = scopes[s];
    if (!v || typeof v !== 'object' || !Object.hasOwn(v, path[0])) continue;
    for (const step of path) {
      if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step)) return undefined;
      v = (v as Record<string, unknown>)[step];
    }
    return v;
  }
  return undefined;
}

function renderNodes(nodes: readonly Node[], scopes: readonly Record<string, unknown>[], opts: RenderOptions): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'value') {
      const v = lookup(scopes, n.path);
      const text = n.money ? formatMoney(v, lookup(scopes, n.money), opts.locale) : display(v);
      out += opts.mode === 'html' ? escapeHtml(text) : text;
    } else if (n.kind === 'if') {
      const v = lookup(scopes, n.path);
      const truthy = Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null && v !== false && v !== '';
      out += renderNodes(truthy ? n.then : n.else, scopes, opts);
    } else {
      const items = lookup(scopes, n.path);
      if (!Array.isArray(items)) continue;
      for (const item of items) out += renderNodes(n.body, [...scopes, item && typeof item === 'object' ? (item as Record<string, unknown>) : {}], opts);
    }
  }
  return out;
}

function display(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  // Objects are not spelled out: a template names the fields it shows.
  return '';
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;', '=': '&#61;' };

export function escapeHtml(text: string): string {
  let out = '';
  for (const ch of text) out += HTML_ESCAPES[ch] ?? ch;
  return out;
}

const formats = new Map<string, Intl.NumberFormat>();

/**
 * An amount as people read it in `locale` ("$1,234.50", "1.234,50 €"), from its decimal string,
 * exactly: Intl.NumberFormat formats a string as the decimal it spells (no float on the way),
 * with at least the currency's decimals and every decimal the amount has, so nothing is rounded.
 * A value that is not a decimal string, or a currency that is not a code, is shown as given.
 */
export function formatMoney(amount: unknown, currency: unknown, locale: string): string {
  const text = typeof amount === 'string' ? amount.trim() : typeof amount === 'bigint' ? String(amount) : '';
  if (!isDecimal(text) || typeof currency !== 'string') return display(amount);
  let exp: number;
  try {
    exp = currencyExponent(currency);
  } catch {
    return `${text} ${currency}`;
  }
  const dot = text.indexOf('.');
  const decimals = Math.max(exp, dot < 0 ? 0 : text.length - dot - 1);
  if (decimals > 20) return `${text} ${currency.toUpperCase()}`;
  const key = `${locale}\0${currency}\0${decimals}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase(), minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    if (formats.size < 1000) formats.set(key, f);
  }
  // Intl.NumberFormat v3 (Node 20) takes the decimal string as it is; the types still say number.
  return f.format(text as unknown as number);
}

function isDecimal(text: string): boolean {
  if (!text || text.length > 64) return false;
  let i = text[0] === '-' ? 1 : 0;
  let digits = 0;
  let dot = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46 && !dot && digits > 0) dot = true;
    else return false;
  }
  return digits > 0 && text[text.length - 1] !== '.';
}
