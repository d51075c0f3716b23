/**
 * The operator commands against a real Redis (the test harness): `enqueue`, `dlq list`, `dlq replay`.
 * Dead-letter entries are made the way the sync-worker makes them (DeliveryQueues.addDeadLetter on a queued job).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRedisConnection, DeliveryQueues, type DeadLetterEntry, type RedisConnection } from '@marrowbridge/queue';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { withTestRedis } from '../../../test/harness/redis';
import { repoRoot } from '../../../test/support/paths';
import { run } from '../src/main';
import { capture } from './helpers';

const redis = withTestRedis();
const sample = (sub: string, name: string) => path.join(repoRoot, 'samples', sub, `${name}.json`);
const ORDER = sample('orders', 'order-sternum');
const RESULT = sample('results', 'result-aspirate-2-final');

// Two ORM^O01 messages in one file (synthetic, v2.3): a batch makes one job per message.
const ORM = (id: string, placer: string) =>
  [
    `MSH|^~\\&|HISORD|MBHOSP|LIS|MBLAB|20230115081500||ORM^O01|${id}|P|2.3`,
    'PID|1||MRN-900002^^^MBHOSP^MR||TESTPATIENT^BRAVO||19550212|M',
    `ORC|NW|${placer}^HISORD|||||||20230115080000|||1987654328^PRESCRIBER^PAT^^^DR`,
    `OBR|1|${placer}^HISORD||BMA^Bone marrow aspiration^L|S||||||||||MAR&Marrow&HL70070^EDTA^Sample from the right posterior iliac crest^PIC&Posterior iliac crest&L^R&Right&HL70495|1987654328^PRESCRIBER^PAT^^^DR|||||||||||||||^Pancytopenia`,
  ].join('\r');

function tmpFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-cli-op-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('marrowbridge enqueue / dlq', () => {
  let env: Record<string, string>;
  let queues: DeliveryQueues;
  let connection: RedisConnection;

  beforeEach(() => {
    const prefix = `{cli${Math.random().toString(36).slice(2, 8)}}`;
    env = { REDIS_URL: redis().url, QUEUE_PREFIX: prefix };
    connection = createRedisConnection(redis().url);
    queues = new DeliveryQueues({ connection, prefix });
  });
  afterEach(async () => {
    await queues.close();
    connection.disconnect();
  });

  const cli = async (...argv: string[]) => {
    const io = capture();
    const code = await run(argv, io, env);
    return { code, ...io };
  };

  it('enqueue puts files on the delivery queues and prints their job ids', async () => {
    const r = await cli('enqueue', ORDER, RESULT);
    expect(r.code).toBe(0);
    const ids = [...r.stdout.matchAll(/queued (order|result) job (\S+) on (\S+)/g)].map((m) => [m[1], m[2], m[3]]);
    expect(ids).toHaveLength(2);
    expect(ids[0][0]).toBe('order');
    expect(ids[0][2]).toBe('order-deliveries');
    expect(ids[1][2]).toBe('result-deliveries');
    expect(r.stdout).toMatch(/2 job\(s\) queued, 0 already existed, 0 message\(s\) rejected/);
    const job = await queues.orders.getJob(ids[0][1]);
    expect(job?.data.source.channel).toBe('cli');
    expect(job?.data.raw).toBe(fs.readFileSync(ORDER, 'utf8'));
    expect(job?.opts.attempts).toBe(12);
    expect(await queues.results.getJob(ids[1][1])).toBeDefined();
  });

  it('a re-sent file prints the existing job id and says it existed', async () => {
    const first = await cli('enqueue', '--json', ORDER);
    const [report] = JSON.parse(first.stdout) as { jobs: { jobId: string; created: boolean }[] }[];
    expect(report.jobs[0].created).toBe(true);
    const again = await cli('enqueue', ORDER);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`job ${report.jobs[0].jobId} already existed (re-sent message)`);
    expect(again.stdout).toMatch(/0 job\(s\) queued, 1 already existed/);
    expect(await queues.orders.getJobCountByTypes('waiting')).toBe(1);
  });

  it('an HL7 batch file gives one job per message, named by MSH-3|MSH-4 and MSH-10', async () => {
    const file = tmpFile('batch.hl7', `${ORM('ORM-CLI-1', 'PLC-CLI-1')}\r${ORM('ORM-CLI-2', 'PLC-CLI-2')}\r`);
    const r = await cli('enqueue', '--json', file);
    expect(r.code).toBe(0);
    const reports = JSON.parse(r.stdout) as { message: number; jobs: { jobId: string }[] }[];
    expect(reports.map((x) => x.message)).toEqual([1, 2]);
    const jobs = await Promise.all(reports.map((x) => queues.orders.getJob(x.jobs[0].jobId)));
    expect(jobs.map((j) => j?.data.source)).toEqual([
      { channel: 'cli', system: 'HISORD|MBHOSP', messageId: 'ORM-CLI-1' },
      { channel: 'cli', system: 'HISORD|MBHOSP', messageId: 'ORM-CLI-2' },
    ]);
    // Each job keeps its own message, so a replay re-translates exactly it.
    expect(jobs[1]?.data.raw.startsWith('MSH|')).toBe(true);
    expect(jobs[1]?.data.raw).toContain('ORM-CLI-2');
    expect(jobs[1]?.data.raw).not.toContain('ORM-CLI-1');
  });

  it('a rejected file exits 1 with its OperationOutcome; the good files are still queued', async () => {
    const bad = tmpFile('bad-order.json', JSON.stringify({ kind: 'order', placerOrderNumber: { value: 'X' } }));
    const r = await cli('enqueue', bad, ORDER);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad-order\.json: REJECTED, nothing queued/);
    const outcomeText = r.stdout.slice(r.stdout.indexOf('{'), r.stdout.indexOf('\n}\n') + 2);
    const outcome = JSON.parse(outcomeText) as OperationOutcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/1 job\(s\) queued, 0 already existed, 1 message\(s\) rejected/);
    expect(await queues.orders.getJobCountByTypes('waiting')).toBe(1);
  });

  it('enqueue reads every file before queuing anything', async () => {
    const r = await cli('enqueue', ORDER, '/nonexistent/file.json');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such file: \/nonexistent\/file\.json/);
    expect(await queues.orders.getJobCountByTypes('waiting')).toBe(0);
  });

  /** Queues a file with the CLI, then dead-letters its job as the worker would. */
  async function deadLetter(file: string, reason: string, outcome?: OperationOutcome): Promise<DeadLetterEntry> {
    const r = await cli('enqueue', '--json', file);
    const [report] = JSON.parse(r.stdout) as { jobs: { jobId: string; kind: string }[] }[];
    const q = report.jobs[0].kind === 'order' ? queues.orders : queues.results;
    const job = (await q.getJob(report.jobs[0].jobId))!;
    await job.updateData({ ...job.data, attempts: [{ at: new Date().toISOString(), kind: 'invalid', reason }] });
    await job.remove();
    return queues.addDeadLetter(job, reason, { outcome, httpStatus: outcome ? undefined : 422 });
  }

  const invalid: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'required',
        details: { text: 'DiagnosticReport.conclusion is required by the bma-diagnostic-report profile' },
        expression: ['Bundle.entry[1].resource.ofType(DiagnosticReport).conclusion'],
      },
      { severity: 'warning', code: 'informational', details: { text: 'a warning is not listed' } },
    ],
  };

  it('dlq list shows each entry readably, and --json the whole entries', async () => {
    const empty = await cli('dlq', 'list');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/the dead-letter queue is empty/);

    const entry = await deadLetter(RESULT, 'validation failed with 1 error(s); nothing was sent', invalid);
    const r = await cli('dlq', 'list');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 dead-lettered delivery');
    expect(r.stdout).toContain(entry.id);
    expect(r.stdout).toMatch(/result 48807-2 \(final\) of order ORD-26-000214, queue result-deliveries/);
    expect(r.stdout).toMatch(/1 attempt\(s\)/);
    expect(r.stdout).toContain('reason: validation failed with 1 error(s); nothing was sent');
    expect(r.stdout).toContain(
      '- DiagnosticReport.conclusion is required by the bma-diagnostic-report profile (at Bundle.entry[1].resource.ofType(DiagnosticReport).conclusion)',
    );
    expect(r.stdout).not.toContain('a warning is not listed');
    // No patient data in the human listing.
    expect(r.stdout).not.toContain('MRN-40035519');

    const j = await cli('dlq', 'list', '--json');
    const entries = JSON.parse(j.stdout) as DeadLetterEntry[];
    expect(entries).toHaveLength(1);
    expect(entries[0].id).toBe(entry.id);
    expect(entries[0].data.raw).toBe(fs.readFileSync(RESULT, 'utf8'));
    expect(entries[0].lastOutcome).toEqual(invalid);
  });

  it('dlq replay ID queues the kept input again and removes the entry', async () => {
    const entry = await deadLetter(RESULT, 'HTTP 422');
    const r = await cli('dlq', 'replay', entry.id);
    expect(r.code).toBe(0);
    const m = /replayed as result job (\S+) on result-deliveries/.exec(r.stdout);
    expect(m).not.toBeNull();
    const job = await queues.results.getJob(m![1]);
    expect(job?.data.source.channel).toBe('replay');
    expect(job?.data.attempts).toEqual([]);
    expect(await queues.listDeadLetters()).toHaveLength(0);

    const unknown = await cli('dlq', 'replay', entry.id);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain(`${entry.id}: not replayed: no dead-letter entry ${entry.id}`);
  });

  it('dlq replay --all replays every entry', async () => {
    await deadLetter(ORDER, 'HTTP 422');
    await deadLetter(RESULT, 'HTTP 422');
    const r = await cli('dlq', 'replay', '--all');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/2 replayed, 0 not replayed/);
    expect(await queues.listDeadLetters()).toHaveLength(0);
    expect(await queues.orders.getJobCountByTypes('waiting')).toBe(1);
    expect(await queues.results.getJobCountByTypes('waiting')).toBe(1);
    const none = await cli('dlq', 'replay', '--all');
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/nothing to replay/);
  });

  it('usage errors exit 2', async () => {
    for (const argv of [['enqueue'], ['dlq'], ['dlq', 'replay'], ['dlq', 'purge'], ['dlq', 'replay', 'x', '--all']]) {
      const r = await cli(...argv);
      expect({ argv, code: r.code }).toEqual({ argv, code: 2 });
      expect(r.stderr).toMatch(/^marrowbridge: /);
    }
  });

  it('a wrong setting exits 2 naming it', async () => {
    env.QUEUE_PREFIX = 'no-hash-tag';
    const wrong = await cli('dlq', 'list');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/QUEUE_PREFIX must contain a hash tag/);
    env = { ...env, QUEUE_PREFIX: '{ok}', RETRY_ATTEMPTS: 'many' };
    const attempts = await cli('enqueue', ORDER);
    expect(attempts.code).toBe(2);
    expect(attempts.stderr).toMatch(/RETRY_ATTEMPTS must be a whole number/);
  });

  /** The installed command, as a separate process. */
  const bin = (argv: string[], extraEnv: Record<string, string>) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [path.join(repoRoot, 'packages', 'cli', 'bin', 'marrowbridge.js'), ...argv],
        { env: { ...process.env, ...extraEnv }, timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('the installed command runs and exits by itself', async () => {
    const { code, stdout } = await bin(['enqueue', ORDER], env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/queued order job order-[0-9a-f]{40} on order-deliveries/);
  }, 60_000);

  it('an unreachable Redis exits 3, naming REDIS_URL', async () => {
    const { code, stderr } = await bin(['dlq', 'list'], { REDIS_URL: 'redis://127.0.0.1:1', REDIS_TIMEOUT_MS: '300' });
    expect(code).toBe(3);
    expect(stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 within 300 ms \(REDIS_URL\)/);
  }, 60_000);
});
