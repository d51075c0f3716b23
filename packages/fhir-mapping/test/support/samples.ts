import fs from 'node:fs';
import path from 'node:path';
import type { BmaOrder, ResultUpdate } from '@marrowbridge/model';

/** /work/main/samples: the synthetic orders and result updates (also the `pnpm start` demo). */
export const samplesDir = path.resolve(__dirname, '..', '..', '..', '..', 'samples');
export const goldenDir = path.resolve(__dirname, '..', 'golden');

export type Sample =
  | { name: string; file: string; kind: 'order'; input: BmaOrder }
  | { name: string; file: string; kind: 'result'; input: ResultUpdate };

function readDir<K extends 'order' | 'result'>(folder: string, kind: K): Sample[] {
  const dir = path.join(samplesDir, folder);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      const input = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (input.kind !== kind) throw new Error(`${file}: expected kind "${kind}"`);
      return { name: path.basename(f, '.json'), file, kind, input } as Sample;
    });
}

/** Every sample, orders first, each folder in file-name order. */
export function loadSamples(): Sample[] {
  return [...readDir('orders', 'order'), ...readDir('results', 'result')];
}

export function loadOrders(): BmaOrder[] {
  return readDir('orders', 'order').map((s) => s.input as BmaOrder);
}

export function loadResults(): ResultUpdate[] {
  return readDir('results', 'result').map((s) => s.input as ResultUpdate);
}

/** A fresh deep copy of one sample's input, to vary in a test. */
export function sampleInput<T extends BmaOrder | ResultUpdate>(name: string): T {
  const sample = loadSamples().find((s) => s.name === name);
  if (!sample) throw new Error(`no sample named ${name}`);
  return structuredClone(sample.input) as T;
}
