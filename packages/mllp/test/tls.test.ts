/**
 * MLLP over TLS, with certificates made for this run (openssl, in a temporary folder; nothing committed):
 * a test CA, a server certificate for 127.0.0.1, and a client certificate for mutual TLS.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MllpClient, readAck, startMllpListener } from '../src';
import type { MllpEvent, MllpListener, MllpListenerOptions } from '../src';
import { oru, RecordingSink } from './support';

interface Pki {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
  otherCa: Buffer;
}

function makePki(dir: string): Pki {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=marrowbridge test CA', '-days', '2');
  run('req', '-x509', ...ec, '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=unrelated CA', '-days', '2');
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'LIS-MBLAB'],
  ]) {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  }
  const read = (f: string) => fs.readFileSync(path.join(dir, f));
  return {
    ca: read('ca.crt'),
    serverKey: read('server.key'),
    serverCert: read('server.crt'),
    clientKey: read('client.key'),
    clientCert: read('client.crt'),
    otherCa: read('other.crt'),
  };
}

let dir: string;
let pki: Pki;
const listeners: MllpListener[] = [];
const clients: MllpClient[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mb-mllp-tls-'));
  pki = makePki(dir);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(listeners.splice(0).map((l) => l.stop({ drainTimeoutMs: 200 })));
});

async function start(sink: RecordingSink, tls: MllpListenerOptions['tls'], events: MllpEvent[] = []) {
  const l = await startMllpListener({ sink: sink.sink, tls, onEvent: (e) => events.push(e) });
  listeners.push(l);
  return l;
}

describe('MLLP over TLS', () => {
  it('accepts a message over TLS and answers AA; the client checks the server certificate', async () => {
    const sink = new RecordingSink();
    const l = await start(sink, { key: pki.serverKey, cert: pki.serverCert });
    const c = await MllpClient.connect({ port: l.port, tls: { ca: pki.ca, servername: 'localhost' } });
    clients.push(c);
    expect(readAck(await c.send(oru('TLS-1')))).toMatchObject({ code: 'AA', messageId: 'TLS-1' });
    expect(sink.count('TLS-1')).toBe(1);
    // a client that trusts another CA refuses the server
    await expect(
      MllpClient.connect({ port: l.port, tls: { ca: pki.otherCa, servername: 'localhost' } }),
    ).rejects.toThrow();
  });

  it('a plain-TCP client on the TLS port gets no ACK and the message is not processed', async () => {
    const sink = new RecordingSink();
    const events: MllpEvent[] = [];
    const l = await start(sink, { key: pki.serverKey, cert: pki.serverCert }, events);
    const c = await MllpClient.connect({ port: l.port });
    clients.push(c);
    await expect(c.send(oru('PLAIN-1'), 3000)).rejects.toThrow();
    expect(sink.attempts).toBe(0);
    expect(events.some((e) => e.type === 'tls-error')).toBe(true);
  });

  it('mutual TLS: a client certificate from the trusted CA is required; its CN reaches the sink', async () => {
    const sink = new RecordingSink();
    const cns: (string | undefined)[] = [];
    const l = await startMllpListener({
      sink: async (m) => {
        cns.push(m.peerCommonName);
        return sink.sink(m);
      },
      tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true },
    });
    listeners.push(l);
    const c = await MllpClient.connect({
      port: l.port,
      tls: { ca: pki.ca, servername: 'localhost', key: pki.clientKey, cert: pki.clientCert },
    });
    clients.push(c);
    expect(readAck(await c.send(oru('MTLS-1'))).code).toBe('AA');
    expect(cns).toEqual(['LIS-MBLAB']);
    // without a client certificate: the handshake (TLS 1.3: the first read) fails, nothing is processed
    let refused = false;
    try {
      const anon = await MllpClient.connect({ port: l.port, tls: { ca: pki.ca, servername: 'localhost' } });
      clients.push(anon);
      await anon.send(oru('MTLS-2'), 3000);
    } catch {
      refused = true;
    }
    expect(refused).toBe(true);
    expect(sink.count('MTLS-2')).toBe(0);
  });
});
