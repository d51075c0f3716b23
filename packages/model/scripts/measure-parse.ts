/**
 * Rough cost of the model's input checks per document, on the sample documents.
 * Run: pnpm exec tsx packages/model/scripts/measure-parse.ts [iterations]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseCanonicalJson, parseOrder, parseResultUpdate } from '../src';

const samples = path.resolve(__dirname, '..', '..', '..', 'samples');
const read = (folder: string): unknown[] =>
  fs
    .readdirSync(path.join(samples, folder))
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(samples, folder, f), 'utf8')));

const iterations = Number(process.argv[2] ?? 20_000);
const orders = read('orders');
const results = read('results');

function measure(label: string, docs: unknown[], fn: (doc: unknown) => { ok: boolean }): void {
  for (const d of docs) if (!fn(d).ok) throw new Error(`${label}: a sample fails`);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(docs[i % docs.length]);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
  console.log(`${label}: ${us.toFixed(1)} µs per document (${docs.length} samples, ${iterations} runs)`);
}

const t0 = process.hrtime.bigint();
parseOrder({});
console.log(`first call (compiles the schemas): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
measure('parseOrder', orders, parseOrder);
measure('parseResultUpdate', results, parseResultUpdate);
const orderTexts = orders.map((o) => JSON.stringify(o));
measure('parseCanonicalJson (order text)', orderTexts, (t) => parseCanonicalJson(t as string));
const invalid = orders.map((o) => ({ ...(o as object), priority: 'soon', patient: {} }));
measure('parseOrder, invalid (2 errors)', invalid, (d) => ({ ok: !parseOrder(d).ok }));
