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

/** A double holds every integer of up to this many digits exactly (10^15 < 2^53). */
const EXACT_DIGITS = 15;

/**
 * The minor units of a plain decimal string (an optional `-`, digits, optionally `.` and digits:
 * what APIs send) as a number, when a double holds them exactly (at most 15 digits once padded to
 * the currency's decimals): no match array, BigInt or digit strings per amount. Undefined for
 * anything else, more decimals than the currency has included: toMinorUnits decides those, and
 * throws its errors. `exp` is the currency's exponent.
 */
function plainMinorUnits(text: string, exp: number): number | undefined {
  const n = text.length;
  let i = text.charCodeAt(0) === 45 ? 1 : 0;
  const neg = i === 1;
  let v = 0;
  const intStart = i;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  const intDigits = i - intStart;
  if (intDigits === 0 || intDigits + exp > EXACT_DIGITS) return undefined;
  let decimals = 0;
  if (i < n) {
    if (text.charCodeAt(i) !== 46 || i === n - 1) return undefined;
    // Trailing zeros are no precision: a zero counts only once a digit follows it.
    let zeros = 0;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
      if (c === 48) {
        zeros++;
        continue;
      }
      if (decimals + zeros + 1 > exp) return undefined;
      for (; zeros > 0; zeros--, decimals++) v *= 10;
      v = v * 10 + (c - 48);
      decimals++;
    }
  }
  for (; decimals < exp; decimals++) v *= 10;
  return neg && v !== 0 ? -v : v;
}

/**
 * toMinorUnits as a number: exact, and refused (with toMinorUnits' errors) past what a JSON
 * number holds exactly. `tooLarge` gives the error for an amount beyond Number.MAX_SAFE_INTEGER.
 */
export function toMinorNumber(amount: string | number, currency: string, tooLarge: (amount: string | number, currency: string) => Error): number {
  const exp = currencyExponent(currency);
  const quick = typeof amount === 'string' ? plainMinorUnits(amount, exp) : undefined;
  if (quick !== undefined) return quick;
  const minor = toMinorUnits(amount, currency);
  if (minor > MAX_SAFE_MINOR || minor < -MAX_SAFE_MINOR) throw tooLarge(amount, currency);
  return Number(minor);
}

const MAX_SAFE_MINOR = BigInt(Number.MAX_SAFE_INTEGER);

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
  // A safe integer prints the same digits as its BigInt (no exponent below 10^21), without one.
  if (typeof minor === 'number' && Number.isSafeInteger(minor)) return minorText(minor < 0, String(minor < 0 ? -minor : minor), exp);
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
  return minorText(neg, (neg ? -v : v).toString(), exp);
}

/** The decimal text of minor units given as the digits of their absolute value. */
function minorText(neg: boolean, digits: string, exp: number): string {
  const abs = digits.padStart(exp + 1, '0');
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
    const quick = plainMinorUnits(amount, exp);
    if (quick !== undefined) return fromMinorUnits(quick, currency);
  }
  return fromMinorUnits(toMinorUnits(amount, currency), currency);
}

export function addAmounts(currency: string, ...amounts: (string | number)[]): string {
  return sumAmounts(currency, amounts);
}

/**
 * addAmounts of a list's amounts; with `skipEmpty`, of those that are not null, undefined or
 * '' (a mapping's `$sumMoney`), without a filtered copy of the list.
 */
export function sumAmounts(currency: string, list: readonly (string | number | null | undefined)[], skipEmpty = false): string {
  if (skipEmpty) {
    let empty = 0;
    for (let i = 0; i < list.length; i++) if (list[i] === null || list[i] === undefined || list[i] === '') empty++;
    if (empty) list = list.filter((a) => a !== null && a !== undefined && a !== '');
  }
  const amounts = list as readonly (string | number)[];
  const exp = currencyExponent(currency);
  // Plain amounts whose every partial sum is a safe integer add exactly as numbers (a sum past
  // 2^53 stays past it once rounded, so it is seen); the rest as BigInts.
  let sum = 0;
  for (let i = 0; i < amounts.length; i++) {
    const a = amounts[i];
    const minor = typeof a === 'string' ? plainMinorUnits(a, exp) : undefined;
    if (minor === undefined || !Number.isSafeInteger((sum += minor))) {
      return fromMinorUnits(amounts.reduce<bigint>((s, x) => s + toMinorUnits(x, currency), 0n), currency);
    }
  }
  return fromMinorUnits(sum, currency);
}

/** Exact comparison of two amounts of one currency: -1, 0 or 1. */
export function compareAmounts(a: string | number, b: string | number, currency: string): number {
  const x = toMinorUnits(a, currency);
  const y = toMinorUnits(b, currency);
  return x === y ? 0 : x < y ? -1 : 1;
}
