/**
 * Money is a decimal string plus an ISO-4217 currency. Never a float.
 * Minor units are integers (bigint internally, number at the edges when safe).
 */

/** ISO 4217 exponents that differ from 2. */
const EXPONENT_EXCEPTIONS: Record<string, number> = {
  BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0,
  UGX: 0, UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
  BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
  CLF: 4, UYW: 4,
};

/** Exponents of the codes seen so far, as given (a few hundred at most: only valid codes are kept). */
const exponents = new Map<string, number>();

export function currencyExponent(currency: string): number {
  const known = exponents.get(currency);
  if (known !== undefined) return known;
  const code = currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) throw new Error(`not an ISO-4217 currency code: ${currency}`);
  const exp = EXPONENT_EXCEPTIONS[code] ?? 2;
  exponents.set(currency, exp);
  return exp;
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Parses a decimal (string, or an integer/decimal number written by an API) into sign, int and fraction digits. */
function parseDecimal(value: string | number): { neg: boolean; int: string; frac: string } {
  const text = typeof value === 'number' ? numberToPlainString(value) : value.trim();
  const m = DECIMAL.exec(text);
  if (!m) throw new Error(`not a decimal amount: ${JSON.stringify(value)}`);
  const int = m[2].length > 1 && m[2][0] === '0' ? m[2].replace(/^0+(?=\d)/, '') : m[2];
  return { neg: m[1] === '-', int, frac: m[3] ?? '' };
}

/** Numbers reach us from JSON APIs (e.g. HubSpot amount, WooCommerce totals as numbers). Print them without exponent. */
function numberToPlainString(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite amount: ${n}`);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/**
 * `/0+$/` is quadratic on a long run of zeros not at the end (V8 retries it from each zero):
 * "10." + 60,000 zeros + "10" stalled the process for seconds. A scan from the end is linear.
 */
function withoutTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return end === digits.length ? digits : digits.slice(0, end);
}

/** Decimal amount → integer minor units. Refuses amounts with more precision than the currency has. */
export function toMinorUnits(amount: string | number, currency: string): bigint {
  const exp = currencyExponent(currency);
  const { neg, int, frac } = parseDecimal(amount);
  const trimmed = withoutTrailingZeros(frac);
  if (trimmed.length > exp) throw new Error(`${amount} has more decimals than ${currency.toUpperCase()} allows (${exp})`);
  const digits = int + trimmed.padEnd(exp, '0');
  const v = BigInt(digits);
  return neg ? -v : v;
}

/** Integer minor units → decimal string with exactly the currency's number of decimals. */
export function fromMinorUnits(minor: bigint | number | string, currency: string): string {
  const exp = currencyExponent(currency);
  let v: bigint;
  if (typeof minor === 'bigint') v = minor;
  else if (typeof minor === 'number') {
    if (!Number.isSafeInteger(minor)) throw new Error(`minor units must be a safe integer: ${minor}`);
    v = BigInt(minor);
  } else {
    if (!/^-?\d+$/.test(minor.trim())) throw new Error(`minor units must be an integer: ${minor}`);
    v = BigInt(minor.trim());
  }
  const neg = v < 0n;
  const abs = (neg ? -v : v).toString().padStart(exp + 1, '0');
  const out = exp === 0 ? abs : `${abs.slice(0, -exp)}.${abs.slice(-exp)}`;
  return neg ? `-${out}` : out;
}

/** Canonical decimal strings by exponent: no leading zeros, exactly `exp` decimals (negative zero is not canonical). */
const CANONICAL = [0, 1, 2, 3, 4].map((exp) => new RegExp(`^-?(?:0|[1-9]\\d*)${exp ? `\\.\\d{${exp}}` : ''}$`));
const NEGATIVE_ZERO = /^-0(?:\.0*)?$/;

/** Normalises an amount to the currency's canonical decimal string ("10" USD → "10.00"). */
export function normalizeAmount(amount: string | number, currency: string): string {
  // Most amounts arrive canonical already ("10.00" USD): they are their own normal form.
  if (typeof amount === 'string') {
    const exp = currencyExponent(currency);
    if (CANONICAL[exp]?.test(amount) && !NEGATIVE_ZERO.test(amount)) return amount;
  }
  return fromMinorUnits(toMinorUnits(amount, currency), currency);
}

export function addAmounts(currency: string, ...amounts: (string | number)[]): string {
  return fromMinorUnits(amounts.reduce<bigint>((s, a) => s + toMinorUnits(a, currency), 0n), currency);
}

/** Exact comparison of two amounts of one currency: -1, 0 or 1. */
export function compareAmounts(a: string | number, b: string | number, currency: string): number {
  const x = toMinorUnits(a, currency);
  const y = toMinorUnits(b, currency);
  return x === y ? 0 : x < y ? -1 : 1;
}
