/**
 * A synchronous evaluator for the JSONata that mappings are written in.
 *
 * jsonata 2.x interprets its syntax tree with async functions: every node of every record
 * costs an await, which made the default Shopify order mapping ~0.3-0.5 ms per order, the
 * largest cost on the data path. This module turns the tree jsonata has already parsed
 * (`expr.ast()`) into plain closures once, mirroring the interpreter's rules node by node
 * (sequences, singleton unwrapping, filters and indexes, object grouping, the built-in
 * functions and their signatures, which it takes from jsonata itself).
 *
 * It is deliberately partial. An expression using anything not covered here (regular
 * sorting, tuple/focus/index binding, parent and descendant steps, transforms, partial
 * application, typed lambdas, the async built-ins without a rewrite) is
 * refused at compile time with {@link Unsupported} and stays on the interpreter. At run time,
 * anything unexpected, every error included, throws {@link Fallback}: the caller then
 * evaluates that record with the interpreter, so errors keep jsonata's exact codes and
 * positions and a gap here can cost time but never change a result. The equivalence is
 * tested over every shipped mapping and a table of expressions (test/unit/mapping-compiled).
 */

import {
  append, boolean, childFrame, CompiledTimeout, fail, Fallback, inheritedName, isArrayOfNumbers, isFunction, isNumeric, isSequence,
  lookup, lookupVariable, PlainObject, regexMatcher, seq, seqOf, Unsupported, wildcard, type Evaluator, type Frame, type Lambda, type Node, type Seq,
} from './compiled/values.js';
import { apply, ASYNC_BUILTINS, builtinFrame, callDepth, checkResult, depthFallback, pastDepthLimit, startEvaluation, tailCall } from './compiled/functions.js';
import { producerName, type SizeLimits } from './limits.js';
import { step, stepOne } from './compiled/steps.js';
import { binaryOperator } from './compiled/operators.js';
import { levelOf, levelsOf, measureLevels } from './compiled/levels.js';
import { compilingWith, enterRoot, isBound, lookupUnbound } from './compiled/scope.js';

export { CompiledTimeout, Fallback, Unsupported } from './compiled/values.js';
export { functionObjects, functionTableSource } from './compiled/functions.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

// ---- the compiler -------------------------------------------------------------------------

/** `checked`: whether a function call's result is checked against the size limits here (not for a call in tail position, as in jsonata's interpreter: see ../engine.ts). */
function compile(node: Node, checked = true): Evaluator {
  let core = compileCore(node);
  if (node.predicate) {
    for (const p of node.predicate) {
      if (p.type !== 'filter') throw new Unsupported(`predicate ${p.type}`);
      const inner = core;
      const filter = compileFilter(p.expr);
      core = (input, env) => filter(inner(input, env), env);
    }
  }
  if (node.type !== 'path' && node.group) {
    const inner = core;
    const group = compileGroup(node.group);
    core = (input, env) => group(inner(input, env), env);
  }
  const keepArray = node.keepArray === true;
  // What cannot be a sequence needs no unwrapping: literals, constructed objects, operators
  // (but `..`), and conditions and blocks, which unwrap their branches (compileTail). A
  // binding is unwrapped again, as jsonata does: its value can be a sequence held whole inside
  // another (what $map keeps of a tail call, see tailCall).
  if (!node.predicate && !node.group && !keepArray && NEVER_A_SEQUENCE(node)) return core;
  // `&` checks its own result (./compiled/operators.ts).
  const produced = checked && node.type !== 'binary' ? producerName(node) : undefined;
  return (input, env) => {
    let result = core(input, env);
    if (result && isSequence(result) && !result.tupleStream) {
      if (keepArray) result.keepSingleton = true;
      if (result.length === 0) result = undefined;
      else if (result.length === 1) result = result.keepSingleton ? result : result[0];
    }
    if (produced !== undefined) checkResult(result, produced);
    return result;
  };
}

/**
 * A condition's branch or a block's last expression, unwrapped `extra` more times as jsonata's
 * evaluate() does at each condition and block it passes through (a sequence held whole inside
 * another, as $map keeps a tail call's answer, comes out of the second). A tail call is not
 * unwrapped at all: jsonata runs it only after the conditions and blocks around it have
 * returned it as a thunk, so its answer passes on as the called function gave it.
 */
function compileTail(node: Node, extra: number): Evaluator {
  if (node.type === 'lambda' && node.thunk === true) return compile(node);
  const plain = !node.predicate && !node.group && node.keepArray !== true;
  if (plain && node.type === 'condition') {
    const cond = compile(node.condition);
    const then = compileTail(node.then, extra + 1);
    const otherwise = node.else === undefined ? undefined : compileTail(node.else, extra + 1);
    return (input, env) => (boolean(cond(input, env)) ? then(input, env) : otherwise?.(input, env));
  }
  if (plain && node.type === 'block') {
    const parts = node.expressions.map((n: Node, i: number) => (i === node.expressions.length - 1 ? compileTail(n, extra + 1) : compile(n))) as Evaluator[];
    return (input, env) => {
      const frame: Frame = childFrame(env);
      let result;
      for (let i = 0; i < parts.length; i++) result = parts[i](input, frame);
      return result;
    };
  }
  const inner = compile(node);
  if (extra === 0) return inner;
  return (input, env) => {
    let result = inner(input, env);
    for (let i = 0; i < extra && result && isSequence(result) && !result.tupleStream; i++) {
      if (result.length === 0) result = undefined;
      else if (result.length === 1 && !result.keepSingleton) result = result[0];
      else break;
    }
    return result;
  };
}

const NEVER_A_SEQUENCE = (node: Node): boolean => {
  switch (node.type) {
    case 'string': case 'number': case 'value': case 'condition': case 'block': case 'lambda': case 'regex':
      return true;
    case 'binary': return node.value !== '..';
    case 'unary': return node.value === '{' || node.value === '-';
    default: return false;
  }
};

function compileCore(node: Node): Evaluator {
  switch (node.type) {
    case 'path': return compilePath(node);
    case 'binary': return compileBinary(node);
    case 'unary': return compileUnary(node);
    case 'name': {
      const key = node.value;
      return (input) => lookup(input, key);
    }
    case 'string':
    case 'number':
    case 'value': {
      const value = node.value;
      return () => value;
    }
    case 'wildcard': return wildcard;
    case 'condition': case 'block':
      return compileTail({ ...node, predicate: undefined, group: undefined, keepArray: undefined }, 0);
    case 'bind': {
      const name = node.lhs.value;
      if (inheritedName(name)) throw new Unsupported(`$${name}`);
      const value = compile(node.rhs);
      return (input, env) => {
        const v = value(input, env);
        env[name] = v;
        return v;
      };
    }
    case 'variable': {
      const name = node.value;
      if (ASYNC_BUILTINS.has(name)) throw new Unsupported(`$${name}`);
      if (name === '') return (input) => (input && input.outerWrapper ? input[0] : input);
      if (inheritedName(name)) throw new Unsupported(`$${name}`);
      // A name the expression never binds: from the root scope directly (./compiled/scope.ts).
      if (!isBound(name)) return () => lookupUnbound(name);
      return (_input, env) => lookupVariable(env, name);
    }
    case 'function': return compileCall(node, undefined);
    case 'lambda': {
      // jsonata turns a call in tail position into a thunk its apply() loop then runs; here it just
      // runs. That loop hands back what the called function returned as it is: a sequence of one
      // is not unwrapped (the call site unwraps it; a built-in such as $map keeps it whole).
      if (node.thunk === true) return compileCall(node.body, undefined, true);
      if (node.signature) throw new Unsupported('lambda with a signature');
      const body = compile(node.body);
      const params = node.arguments;
      const height = levelsOf(node.body);
      return (input, env): Lambda => ({ _jsonata_lambda: true, arguments: params, input, environment: env, body, height });
    }
    case 'apply': return compileApply(node);
    case 'regex': {
      const source = node.value as RegExp;
      return () => regexMatcher(new RegExp(source));
    }
    default:
      throw new Unsupported(node.type);
  }
}

/** Every own field of jsonata's function values (built-ins, lambdas) and of this evaluator's lambdas. */
const FUNCTION_OWN_KEYS = new Set(['_jsonata_function', '_jsonata_lambda', 'implementation', 'signature', 'arity', 'arguments', 'input', 'environment', 'body', 'thunk', 'procedure', 'partial', 'nextFunction', 'height']);

/** A step that only reads a field: no filter, grouping or array flags. */
const plainName = (s: Node): boolean => s.type === 'name' && !s.stages && !s.predicate && !s.group && !s.keepArray;

function compilePath(node: Node): Evaluator {
  const steps: Node[] = node.steps;
  for (const s of steps) {
    if (s.tuple || s.focus !== undefined || s.index !== undefined || s.ancestor || s.type === 'sort') throw new Unsupported('tuple, focus, index, parent or sort step');
  }
  const general = compileSteps(node, steps);
  // `a.b.c` and `$v.b.c` over single objects (most of a mapping): the same answer as the
  // general walk below, without building a sequence per step. Arrays take the general walk.
  const head = steps[0];
  const variableHead = head.type === 'variable' && head.value !== '' && !head.stages && !head.predicate && !head.group && !head.keepArray;
  const names = (variableHead ? steps.slice(1) : steps);
  if (node.keepSingletonArray || node.group || !names.every(plainName) || (!variableHead && !plainName(head))) return general;
  const keys = names.map((s) => s.value as string);
  // A function value has no field but its own few: a key none of them has needs no check that cur is one.
  const functionKey = keys.map((k) => FUNCTION_OWN_KEYS.has(k));
  const variable: string | undefined = variableHead ? head.value : undefined;
  const unbound = variable !== undefined && !isBound(variable);
  return (input, env) => {
    let cur = variable === undefined ? input : unbound ? lookupUnbound(variable) : lookupVariable(env, variable);
    if (Array.isArray(cur)) return general(input, env);
    for (let i = 0; i < keys.length; i++) {
      if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, keys[i]) || (functionKey[i] && isFunction(cur))) return undefined;
      cur = cur[keys[i]];
      if (cur === undefined) return undefined;
      if (Array.isArray(cur) && (i < keys.length - 1 || isSequence(cur))) return general(input, env);
    }
    return cur;
  };
}

function compileSteps(node: Node, steps: Node[]): Evaluator {
  const fns = steps.map((n: Node) => compile(n));
  const stages = steps.map((s) => (s.stages ? (s.stages as Node[]).map((st) => {
    if (st.type !== 'filter') throw new Unsupported(`stage ${st.type}`);
    return compileFilter(st.expr);
  }) : undefined));
  const absolute = steps[0].type === 'variable';
  const consFirst = steps[0].consarray === true;
  const keepSingletonArray = node.keepSingletonArray === true;
  const group = node.group ? compileGroup(node.group) : undefined;
  const last = steps.length - 1;
  return (input, env) => {
    // One input (not an array, or the head of `$v.…`): the first step over it alone, not over a sequence made to hold it.
    const one = !Array.isArray(input) || absolute;
    let inputSequence: any = input;
    let result: any;
    for (let i = 0; i <= last; i++) {
      if (i === 0 && consFirst) result = fns[0](one ? seqOf(input) : input, env);
      else if (i === 0 && one) result = stepOne(fns[0], stages[0], input, env, last === 0);
      else result = step(fns[i], stages[i], inputSequence, env, i === last);
      if (result === undefined || result.length === 0) break;
      inputSequence = result;
    }
    if (keepSingletonArray) {
      if (Array.isArray(result) && (result as Seq).cons && !(result as Seq).sequence) result = seqOf(result);
      result.keepSingleton = true;
    }
    if (group) result = group(result, env);
    return result;
  };
}

function compileFilter(predicate: Node): (input: any, env: Frame) => any {
  if (predicate.type === 'number') {
    const at = Math.floor(predicate.value);
    return (input) => {
      let results: any = seq();
      if (!Array.isArray(input)) input = seqOf(input);
      const index = at < 0 ? input.length + at : at;
      const item = input[index];
      if (item !== undefined) {
        if (Array.isArray(item)) results = item;
        else results.push(item);
      }
      return results;
    };
  }
  const test = compile(predicate);
  return (input, env) => {
    const results = seq();
    if (!Array.isArray(input)) input = seqOf(input);
    for (let index = 0; index < input.length; index++) {
      const item = input[index];
      let res = test(item, env);
      if (isNumeric(res)) res = [res];
      if (isArrayOfNumbers(res)) {
        for (const ires of res) {
          let ii = Math.floor(ires);
          if (ii < 0) ii = input.length + ii;
          if (ii === index) results.push(item);
        }
      } else if (boolean(res)) {
        results.push(item);
      }
    }
    return results;
  };
}

function compileBinary(node: Node): Evaluator {
  return binaryOperator(node.value as string, compile(node.lhs), compile(node.rhs));
}

function compileUnary(node: Node): Evaluator {
  switch (node.value) {
    case '-': {
      const operand = compile(node.expression);
      return (input, env) => {
        const v = operand(input, env);
        if (v === undefined) return undefined;
        if (isNumeric(v)) return -v;
        return fail('D1002');
      };
    }
    case '[': {
      const items = (node.expressions as Node[]).map((item) => ({ fn: compile(item), nested: item.value === '[' }));
      const cons = node.consarray === true;
      return (input, env) => {
        let result: any = [];
        for (let i = 0; i < items.length; i++) {
          const item = items[i];
          const value = item.fn(input, env);
          // result is this call's own array (append answers a copy), so a single value goes on it in place.
          if (value !== undefined) {
            if (item.nested || !Array.isArray(value)) result.push(value);
            else result = append(result, value);
          }
        }
        if (cons) Object.defineProperty(result, 'cons', { enumerable: false, configurable: false, value: true });
        return result;
      };
    }
    case '{': return compileGroup(node);
    default:
      throw new Unsupported(`unary ${node.value}`);
  }
}

/** Object constructors, `{key: value}` and grouping `path{key: value}` alike. */
function compileGroup(node: Node): (input: any, env: Frame) => any {
  const pairs = (node.lhs as Node[][]).map(([k, v]) => ({ key: compile(k), value: compile(v), literal: k.type === 'string' ? (k.value as string) : undefined }));
  const literals = pairs.map((p) => p.literal);
  const allLiteral = literals.every((k) => k !== undefined && k !== '_jsonata_lambda' && k !== '_jsonata_function' && k !== '__proto__')
    && new Set(literals).size === literals.length;
  return (input, env) => {
    // One input and literal keys (almost every mapping): no grouping to do. A plain object, as
    // jsonata builds (a prototype-less one is a slow dictionary from the start); `__proto__`
    // as a key takes the general path below.
    if (allLiteral && !Array.isArray(input)) {
      const result = new PlainObject();
      // Indexed, not for…of: an array iterator's result objects showed up as ~15% of a mapping's allocations.
      for (let i = 0; i < pairs.length; i++) {
        const p = pairs[i];
        const v = p.value(input, env);
        if (v !== undefined) result[p.literal!] = v;
      }
      return result;
    }
    // One input and one pair (`{ $key: value }`): the steps below, without the groups to collect.
    if (pairs.length === 1 && !Array.isArray(input)) {
      const key = pairs[0].key(input, env);
      if (typeof key !== 'string' && key !== undefined) fail('T1003');
      const result = Object.create(null);
      if (key === undefined) return result;
      if (key === '_jsonata_lambda' || key === '_jsonata_function') fail('D1013');
      const v = pairs[0].value(input, env);
      if (v !== undefined) result[key] = v;
      return result;
    }
    const result = Object.create(null);
    const groups: Record<string, { data: any; exprIndex: number }> = Object.create(null);
    if (!Array.isArray(input)) input = seqOf(input);
    if (input.length === 0) input.push(undefined);
    for (let n = 0; n < input.length; n++) {
      const item = input[n];
      for (let i = 0; i < pairs.length; i++) {
        const key = pairs[i].key(item, env);
        if (typeof key !== 'string' && key !== undefined) fail('T1003');
        if (key === undefined) continue;
        if (key === '_jsonata_lambda' || key === '_jsonata_function') fail('D1013');
        if (key in groups) {
          if (groups[key].exprIndex !== i) fail('D1009');
          groups[key].data = append(groups[key].data, item);
        } else {
          groups[key] = { data: item, exprIndex: i };
        }
      }
    }
    const keys = Object.keys(groups);
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      const entry = groups[key];
      const v = pairs[entry.exprIndex].value(entry.data, env);
      if (v !== undefined) result[key] = v;
    }
    return result;
  };
}

/** `tail`: a call in a lambda's tail position, applied with the input the lambda was applied with (see tailCall). */
function compileCall(node: Node, applyTo: Evaluator | undefined, tail = false): Evaluator {
  const procedure = compile(node.procedure);
  const args = (node.arguments as Node[]).map((n: Node) => compile(n));
  const pathName: string | undefined = node.procedure.type === 'path' ? node.procedure.steps[0].value : undefined;
  const level = levelOf(node);
  const argumentValues = compileArguments(applyTo ? [applyTo, ...args] : args);
  return (input, env) => {
    const proc = procedure(input, env);
    if (proc === undefined && pathName !== undefined && lookupVariable(env, pathName)) fail('T1005');
    const values = argumentValues(input, env);
    const outer = callDepth.current;
    callDepth.current = outer + level;
    try {
      return apply(proc, values, tail ? tailCall.input : input, env);
    } finally {
      callDepth.current = outer;
    }
  };
}

/**
 * A call's argument values, left to right, in an array of their number: a literal for up to
 * three (most calls), not an empty array grown by push, which V8 gives room for 17 on the
 * first push (a mapping makes dozens of calls a record).
 */
function compileArguments(args: Evaluator[]): (input: any, env: Frame) => any[] {
  switch (args.length) {
    case 0: return () => [];
    case 1: { const [a] = args; return (input, env) => [a(input, env)]; }
    case 2: { const [a, b] = args; return (input, env) => [a(input, env), b(input, env)]; }
    case 3: { const [a, b, c] = args; return (input, env) => [a(input, env), b(input, env), c(input, env)]; }
    default: return (input, env) => args.map((arg) => arg(input, env));
  }
}

function compileApply(node: Node): Evaluator {
  const lhs = compile(node.lhs);
  if (node.rhs.type === 'function') return compileCall(node.rhs, lhs);
  const rhs = compile(node.rhs);
  const level = levelOf(node);
  return (input, env) => {
    const l = lhs(input, env);
    const func = rhs(input, env);
    if (!isFunction(func)) fail('T2006');
    if (isFunction(l)) fail('function chaining');
    const outer = callDepth.current;
    callDepth.current = outer + level;
    try {
      return apply(func, [l], null, env);
    } finally {
      callDepth.current = outer;
    }
  };
}

// ---- entry point --------------------------------------------------------------------------

export interface CompiledExpression {
  /** Evaluates one input; throws Fallback (use the interpreter) or CompiledTimeout. */
  run(input: unknown, bindings: Record<string, unknown>, limits: { timeoutMs: number; maxDepth: number } & Partial<SizeLimits>): unknown;
}

/**
 * Compiles a parsed jsonata expression. `registered` are the expression's own functions
 * (as function objects, read with {@link functionObjects}). Throws Unsupported.
 */
export async function compileExpression(ast: Node, registered: Record<string, unknown>): Promise<CompiledExpression> {
  const height = measureLevels(ast, 1);
  const root = compilingWith(ast, () => compile(ast));
  // One flat scope of the built-ins and the expression's own functions, under every evaluation's root.
  const globals: Frame = { ...(await builtinFrame()), ...registered };
  return {
    run(input, bindings, limits) {
      const env: Frame = childFrame(globals);
      // for…in: no array of keys a record (bindings is a plain object of the mapping's own names).
      for (const k in bindings) if (Object.prototype.hasOwnProperty.call(bindings, k)) env[k] = bindings[k];
      env.$ = input;
      let context: any = input;
      if (Array.isArray(context) && !isSequence(context)) {
        context = seqOf(context);
        context.outerWrapper = true;
      }
      startEvaluation(limits);
      const outer = enterRoot(env);
      try {
        if (pastDepthLimit(height)) depthFallback(height);
        return root(context, env);
      } catch (err) {
        if (err instanceof CompiledTimeout) throw err;
        throw Fallback.of(err);
      } finally {
        enterRoot(outer);
      }
    },
  };
}

