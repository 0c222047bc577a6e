import { describe, expect, it } from 'vitest';
import { addAmounts, compareAmounts, currencyExponent, fromMinorUnits, normalizeAmount, toMinorNumber, toMinorUnits } from '../../src/core/money.js';

describe('money', () => {
  it('uses each currency’s exponent', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('usd')).toBe(2);
    expect(currencyExponent('KWD')).toBe(3);
  });

  it('converts decimal strings to minor units and back without floats', () => {
    expect(toMinorUnits('598.94', 'USD')).toBe(59894n);
    expect(toMinorUnits('1500', 'JPY')).toBe(1500n);
    expect(toMinorUnits('1.234', 'KWD')).toBe(1234n);
    expect(toMinorUnits('-0.50', 'EUR')).toBe(-50n);
    expect(fromMinorUnits(59894n, 'USD')).toBe('598.94');
    expect(fromMinorUnits(5, 'USD')).toBe('0.05');
    expect(fromMinorUnits(1234, 'KWD')).toBe('1.234');
    expect(fromMinorUnits(1500, 'JPY')).toBe('1500');
    expect(fromMinorUnits('-50', 'EUR')).toBe('-0.50');
    expect(fromMinorUnits(123456789012345678901234567890n, 'USD')).toBe('1234567890123456789012345678.90');
  });

  it('adds exactly where floats do not', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(addAmounts('USD', '0.10', '0.20')).toBe('0.30');
    expect(addAmounts('USD')).toBe('0.00');
    expect(normalizeAmount('10', 'USD')).toBe('10.00');
    expect(normalizeAmount(19.99, 'USD')).toBe('19.99');
    // Canonical amounts come back as they are; the rest are written canonically.
    for (const [amount, currency, normal] of [
      ['10.00', 'USD', '10.00'], ['-1.20', 'USD', '-1.20'], ['0.50', 'USD', '0.50'], ['5', 'JPY', '5'], ['1.000', 'KWD', '1.000'],
      ['-0.00', 'USD', '0.00'], ['-0', 'JPY', '0'], ['00.10', 'USD', '0.10'], [' 1.00', 'USD', '1.00'], ['1.0', 'KWD', '1.000'], ['05', 'JPY', '5'],
    ]) expect(normalizeAmount(amount, currency), `${amount} ${currency}`).toBe(normal);
    expect(() => normalizeAmount('1.234', 'USD')).toThrow(/more decimals than USD/);
    expect(() => normalizeAmount('+1.00', 'USD')).toThrow(/not a decimal amount/);
    expect(compareAmounts('10.0', '10.00', 'USD')).toBe(0);
    expect(compareAmounts('9.99', '10', 'USD')).toBe(-1);
  });

  it('refuses amounts the currency cannot hold, and non-numbers', () => {
    expect(() => toMinorUnits('1.5', 'JPY')).toThrow(/more decimals than JPY/);
    expect(() => toMinorUnits('1.005', 'USD')).toThrow(/more decimals/);
    expect(toMinorUnits('1.500', 'USD')).toBe(150n);
    expect(() => toMinorUnits('12abc', 'USD')).toThrow(/not a decimal/);
    expect(() => toMinorUnits('1e3', 'USD')).toThrow(/not a decimal/);
    expect(() => currencyExponent('DOLLARS')).toThrow(/ISO-4217/);
    expect(() => fromMinorUnits(1.5, 'USD')).toThrow(/safe integer/);
  });
  it('handles long runs of zeros in linear time: the exact amount, or a clear refusal', () => {
    const zeros = '0'.repeat(200_000);
    expect(() => toMinorUnits(`10.${zeros}10`, 'USD')).toThrow(/more decimals than USD allows/);
    expect(toMinorUnits(`10.${zeros}`, 'USD')).toBe(1000n);
    expect(normalizeAmount(`${zeros}7.5${zeros}`, 'USD')).toBe('7.50');
  }, 2000);
});

/** What toMinorNumber and addAmounts answer by the BigInt path alone (their definition before the number fast path). */
const outcome = (f: () => unknown) => {
  try {
    return { value: f() };
  } catch (err) {
    return { error: (err as Error).message };
  }
};
const tooLarge = (amount: string | number, currency: string) => new Error(`${amount} ${currency} is too large`);
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const byBigInt = (amount: string | number, currency: string) => {
  const minor = toMinorUnits(amount, currency);
  if (minor > SAFE || minor < -SAFE) throw tooLarge(amount, currency);
  return Number(minor);
};

describe('money on numbers where they are exact', () => {
  const edges = ['0', '-0', '-0.00', '0.0', '00012.50', '12.5', '12.500', '12.5000000', '12.501', '1.', '.5', '-', '', ' 1.00', '1.00 ', '+1', '1e3', '1,00',
    '１２', '--1', '-.5', '1..2', '999999999999999', '9999999999999.99', '99999999999999.99', '999999999999999.9', '9007199254740993', '90071992547409.93',
    '123456789012345678901234567890.12', '-123.45', '0.001', '0.010', '7', '7.000', '1.2.3', '1.0a', 'NaN', 'Infinity'];
  const random = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rand = random(7);
  const generated = Array.from({ length: 4000 }, () => {
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
    const sign = rand() < 0.2 ? '-' : '';
    const int = digits(1 + Math.floor(rand() * 18));
    const frac = rand() < 0.7 ? `.${digits(1 + Math.floor(rand() * 5))}${rand() < 0.3 ? '000' : ''}` : '';
    return sign + int + frac;
  });

  it('toMinorNumber answers what toMinorUnits does, errors included, in every exponent', () => {
    for (const currency of ['JPY', 'USD', 'KWD', 'CLF', 'usd', 'XX1']) {
      for (const amount of [...edges, ...generated, 12.5, -3, 1e21]) {
        expect({ amount, currency, ...outcome(() => toMinorNumber(amount, currency, tooLarge)) }).toEqual({ amount, currency, ...outcome(() => byBigInt(amount, currency)) });
      }
    }
    expect(Object.is(toMinorNumber('-0.00', 'USD', tooLarge), 0)).toBe(true);
  });

  it('addAmounts answers the BigInt sum, errors included, and sums past 2^53 exactly', () => {
    const bigSum = (currency: string, amounts: (string | number)[]) => fromMinorUnits(amounts.reduce<bigint>((s, a) => s + toMinorUnits(a, currency), 0n), currency);
    for (const currency of ['JPY', 'USD', 'KWD', 'XX1']) {
      for (let i = 0; i < generated.length; i += 3) {
        const amounts = [generated[i], generated[i + 1], edges[i % edges.length]];
        expect(outcome(() => addAmounts(currency, ...amounts))).toEqual(outcome(() => bigSum(currency, amounts)));
        expect(outcome(() => addAmounts(currency, generated[i], generated[i + 2]))).toEqual(outcome(() => bigSum(currency, [generated[i], generated[i + 2]])));
      }
    }
    expect(addAmounts('USD', '9999999999999.99', '9999999999999.99', '-9999999999999.99', '0.01')).toBe('10000000000000.00');
    expect(addAmounts('USD', '90071992547409.91', '0.01', '0.01')).toBe('90071992547409.93');
    expect(addAmounts('USD', '-0.00')).toBe('0.00');
  });

  it('normalizeAmount answers what the BigInt path does, errors included', () => {
    for (const currency of ['JPY', 'USD', 'KWD', 'XX1']) {
      for (const amount of [...edges, ...generated, 12.5, -3]) {
        expect({ amount, ...outcome(() => normalizeAmount(amount, currency)) }).toEqual({ amount, ...outcome(() => fromMinorUnits(toMinorUnits(amount, currency), currency)) });
      }
    }
  });

  it('fromMinorUnits prints a safe integer as its BigInt', () => {
    for (const minor of [0, -0, 5, -5, 100, -100, 123456, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      for (const currency of ['JPY', 'USD', 'KWD', 'CLF']) expect(fromMinorUnits(minor, currency)).toBe(fromMinorUnits(BigInt(minor), currency));
    }
  });
});
