/** A path's steps at run time, for the compiled evaluator (../compiled.ts): jsonata's evaluateStep, mirrored. */
import { tick } from './functions.js';
import { isSequence, seq, seqOf, type Evaluator, type Frame, type Seq } from './values.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/**
 * One step of a path over each item of its input: the results flattened into one sequence, but
 * a last step's single array result (not a sequence) as it is. Results that are not arrays go
 * straight into the sequence; from the first array result on, they are flattened once every
 * item is evaluated, as jsonata's evaluateStep does (a later item could change an array an
 * earlier one answered). Most steps answer objects or values: no list of results is made.
 */
export function step(fn: Evaluator, stages: ((input: any, env: Frame) => any)[] | undefined, input: any[], env: Frame, lastStep: boolean): any {
  // Room for one result per item, written in place (an empty array's first push makes room for 17).
  const out: Seq = new Array(input.length);
  let written = 0;
  let results = 0;
  let only: any;
  let later: any[] | undefined;
  for (let i = 0; i < input.length; i++) {
    tick();
    let res = fn(input[i], env);
    if (stages) for (let s = 0; s < stages.length; s++) res = stages[s](res, env);
    if (res === undefined) continue;
    if (++results === 1) only = res;
    if (later) later.push(res);
    else if (!Array.isArray(res) || (res as Seq).cons) out[written++] = res;
    else later = [res];
  }
  out.length = written;
  out.sequence = true;
  if (lastStep && results === 1 && Array.isArray(only) && !isSequence(only)) return only;
  if (later) {
    for (let i = 0; i < later.length; i++) {
      const res = later[i];
      if (!Array.isArray(res) || (res as Seq).cons) out.push(res);
      else for (let j = 0; j < res.length; j++) out.push(res[j]);
    }
  }
  return out;
}

/** step() over a sequence of the one item `item`, answering the same. */
export function stepOne(fn: Evaluator, stages: ((input: any, env: Frame) => any)[] | undefined, item: any, env: Frame, lastStep: boolean): any {
  tick();
  let res = fn(item, env);
  if (stages) for (let s = 0; s < stages.length; s++) res = stages[s](res, env);
  if (res === undefined) return seq();
  if (!Array.isArray(res)) return seqOf(res);
  if (lastStep && !isSequence(res)) return res;
  if ((res as Seq).cons) return seqOf(res);
  const out: Seq = new Array(res.length);
  for (let j = 0; j < res.length; j++) out[j] = res[j];
  out.sequence = true;
  return out;
}
