import type { Resource } from '@medplum/fhirtypes';
import { sendJson, startStub, type HttpStub } from './http-stub';

export interface FakeFhir extends HttpStub {
  baseUrl: string;
  store: Map<string, Resource>;
  /** Writes in arrival order: "POST Patient", "PUT Specimen/3"… */
  writes: string[];
  /** Runs before a PUT is applied (tests use it to race a concurrent writer). */
  beforePut?: (id: string) => void;
}

/**
 * A tiny in-memory FHIR server for unit tests of the push logic: identifier search, POST with If-None-Exist,
 * PUT with If-Match (412 when stale), read, metadata without the transaction interaction; a Bundle posted to
 * the base is refused.
 */
export async function startFakeFhir(options: { refusesBatch?: boolean } = {}): Promise<FakeFhir> {
  const store = new Map<string, Resource>();
  let nextId = 1;
  const fake = { store, writes: [] as string[] } as Partial<FakeFhir> as FakeFhir;
  // refusesBatch: the CapabilityStatement lists batch, but a batch Bundle is answered 400 (as some servers do).
  const interaction = options.refusesBatch ? [{ code: 'batch' }] : undefined;

  const search = (type: string, query: string): Resource[] => {
    const token = new URLSearchParams(query).get('identifier') ?? '';
    const [system, value] = token.includes('|') ? token.split('|', 2) : [undefined, token];
    return [...store.values()].filter(
      (r) =>
        r.resourceType === type &&
        ((r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []).some(
          (i) => i.value === value && (system === undefined || i.system === system),
        ),
    );
  };
  const save = (resource: Resource, id: string): Resource => {
    const prev = store.get(`${resource.resourceType}/${id}`);
    const version = prev ? String(Number(prev.meta?.versionId) + 1) : '1';
    const stored = {
      ...resource,
      id,
      meta: { ...resource.meta, versionId: version, lastUpdated: new Date().toISOString() },
    };
    store.set(`${resource.resourceType}/${id}`, stored);
    return stored;
  };

  const stub = await startStub((req, res) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname.replace(/^\/fhir\/?/, '');
    const [type, id] = path.split('/');
    if (req.method === 'GET' && path === 'metadata') {
      sendJson(res, 200, {
        resourceType: 'CapabilityStatement',
        status: 'active',
        rest: [{ mode: 'server', interaction }],
      });
    } else if (req.method === 'POST' && !path) {
      sendJson(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] });
    } else if (req.method === 'GET' && !id) {
      const found = search(type, url.search.slice(1));
      sendJson(res, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: found.map((resource) => ({ resource, search: { mode: 'match' } })),
      });
    } else if (req.method === 'GET') {
      const r = store.get(`${type}/${id}`);
      sendJson(res, r ? 200 : 404, r ?? { resourceType: 'OperationOutcome', issue: [] });
    } else if (req.method === 'POST') {
      const ifNoneExist = req.headers['if-none-exist'];
      const existing = typeof ifNoneExist === 'string' ? search(type, ifNoneExist) : [];
      if (existing.length) {
        sendJson(res, 200, existing[0]);
        return;
      }
      fake.writes.push(`POST ${type}`);
      sendJson(res, 201, save(JSON.parse(req.body), String(nextId++)));
    } else if (req.method === 'PUT') {
      fake.beforePut?.(id);
      const current = store.get(`${type}/${id}`);
      const ifMatch = /"([^"]+)"/.exec(String(req.headers['if-match'] ?? ''))?.[1];
      if (ifMatch && current?.meta?.versionId !== ifMatch) {
        sendJson(res, 412, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict' }] });
        return;
      }
      fake.writes.push(`PUT ${type}/${id}${ifMatch ? ` If-Match ${ifMatch}` : ''}`);
      sendJson(res, current ? 200 : 201, save(JSON.parse(req.body), id));
    } else {
      sendJson(res, 405, { resourceType: 'OperationOutcome', issue: [] });
    }
  });
  return Object.assign(fake, stub, { baseUrl: `${stub.url}/fhir` });
}
