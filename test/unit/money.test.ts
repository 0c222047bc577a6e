import { describe, expect, it } from 'vitest';
import { addAmounts, compareAmounts, currencyExponent, fromMinorUnits, normalizeAmount, toMinorUnits } from '../../src/core/money.js';

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
