/**
 * Rough single-thread rate of translateHl7 on the synthetic preliminary BMA ORU^R01 (8 OBX).
 *   pnpm exec tsx packages/hl7v2/bench/translate-rate.ts [seconds-per-case]
 * Prints messages per second for a UTC sender and a sender in a DST zone (Intl offset lookups).
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildAck, translateHl7 } from '../src';

const text = fs.readFileSync(path.join(__dirname, '..', 'test', 'fixtures', 'oru-r01-bma-preliminary.hl7'), 'utf8');
const seconds = Number(process.argv[2] ?? '2');

function rate(label: string, fn: () => void): void {
  for (let i = 0; i < 2000; i++) fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - start < budget) {
    for (let i = 0; i < 200; i++) fn();
    n += 200;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${label}: ${Math.round(n / secs)} msg/s (${n} in ${secs.toFixed(2)} s)`);
}

const check = translateHl7(text);
if (!check.ok || check.items.length !== 1) throw new Error('fixture does not translate');
rate('translateHl7, ORU^R01 8 OBX, timeZone UTC', () => translateHl7(text));
rate('translateHl7, ORU^R01 8 OBX, timeZone America/New_York', () =>
  translateHl7(text, { timeZone: 'America/New_York' }),
);
rate('translateHl7 + buildAck (AA)', () => {
  translateHl7(text);
  buildAck(text, { code: 'AA' });
});
