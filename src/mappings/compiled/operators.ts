/** jsonata's binary operators over compiled operands, for the compiled evaluator (../compiled.ts). */
import { boolize, deepEqual, fail, isNumeric, string, Unsupported, type Evaluator, type Seq } from './values.js';
import { checkConcat, checkProduced, checkRange } from '../limits.js';
import { currentSizeLimits } from './functions.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** `lhs op rhs` as jsonata evaluates it: arithmetic, comparison, `and`/`or`, `&`, `..` and `in`. */
export function binaryOperator(op: string, lhs: Evaluator, rhs: Evaluator): Evaluator {
  switch (op) {
    case 'and': return (input, env) => boolize(lhs(input, env)) && boolize(rhs(input, env));
    case 'or': return (input, env) => boolize(lhs(input, env)) || boolize(rhs(input, env));
    case '+':
    case '-':
    case '*':
    case '/':
    case '%': {
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l !== undefined && !isNumeric(l)) fail('T2001');
        if (r !== undefined && !isNumeric(r)) fail('T2002');
        if (l === undefined || r === undefined) return undefined;
        switch (op) {
          case '+': return l + r;
          case '-': return l - r;
          case '*': return l * r;
          case '/': return l / r;
          default: return l % r;
        }
      };
    }
    case '=':
    case '!=': {
      const negate = op === '!=';
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l === undefined || r === undefined) return false;
        return negate ? !deepEqual(l, r) : deepEqual(l, r);
      };
    }
    case '<':
    case '<=':
    case '>':
    case '>=': {
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        const lt = typeof l;
        const rt = typeof r;
        if (!(lt === 'undefined' || lt === 'string' || lt === 'number') || !(rt === 'undefined' || rt === 'string' || rt === 'number')) fail('T2010');
        if (lt === 'undefined' || rt === 'undefined') return undefined;
        if (lt !== rt) fail('T2009');
        switch (op) {
          case '<': return l < r;
          case '<=': return l <= r;
          case '>': return l > r;
          default: return l >= r;
        }
      };
    }
    case '&':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        checkConcat(l, r, currentSizeLimits());
        const result = (l === undefined ? '' : string(l)!).concat(r === undefined ? '' : string(r)!);
        checkProduced(result, currentSizeLimits(), '&');
        return result;
      };
    case '..':
      return (input, env) => {
        const l = lhs(input, env);
        const r = rhs(input, env);
        if (l !== undefined && !Number.isInteger(l)) fail('T2003');
        if (r !== undefined && !Number.isInteger(r)) fail('T2004');
        checkRange(l, r, currentSizeLimits());
        if (l === undefined || r === undefined || l > r) return undefined;
        if (r - l + 1 > 1e7) fail('D2014');
        const result: Seq = new Array(r - l + 1);
        for (let item = l, i = 0; item <= r; item++, i++) result[i] = item;
        result.sequence = true;
        return result;
      };
    case 'in':
      return (input, env) => {
        const l = lhs(input, env);
        let r = rhs(input, env);
        if (l === undefined || r === undefined) return false;
        if (!Array.isArray(r)) r = [r];
        for (let i = 0; i < r.length; i++) if (r[i] === l) return true;
        return false;
      };
    default:
      throw new Unsupported(`operator ${op}`);
  }
}
