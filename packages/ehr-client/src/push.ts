import type { Bundle, BundleEntry, Resource, ResourceType } from '@medplum/fhirtypes';
import { parseEtag, parseLocation, type EhrClient } from './client';
import { contentPatch, sameContent, type JsonPatchOperation } from './diff';
import { EhrError, classifyStatus, isOperationOutcomeBody } from './errors';
import { isUrnUuid, orderByReferences, parseConditionalReference, rewriteReferences } from './references';

export type PushMode = 'transaction' | 'sequential';

export interface PushOptions {
  /** 'auto' (default): a transaction when the CapabilityStatement lists it, else sequential. */
  mode?: PushMode | 'auto';
  /** Re-read and re-decide rounds after a 412 (or a create that lost a race); default 3. */
  maxConflictRetries?: number;
}

export type PushAction = 'created' | 'updated' | 'unchanged';

export interface PushEntryResult {
  fullUrl: string;
  resourceType: ResourceType;
  /** Type/id in the EHR. */
  reference: string;
  action: PushAction;
  versionId?: string;
}

export interface PushResult {
  mode: PushMode;
  /** One per Bundle entry, in Bundle order. */
  entries: PushEntryResult[];
}

export type PlanAction = 'create' | 'update' | 'unchanged';

export interface PlanEntry {
  fullUrl: string;
  resourceType: ResourceType;
  action: PlanAction;
  /** Type/id of the EHR's current resource (update, unchanged). */
  reference?: string;
  /** Its current versionId (the If-Match an update would send). */
  versionId?: string;
  /** update: RFC 6902 JSON Patch from the current content to the new one (id, meta and text ignored). */
  patch?: JsonPatchOperation[];
  /**
   * The resource that would be written: conditional references resolved, urn:uuid references to resources
   * that already exist rewritten to Type/id (references to resources still to be created stay urn:uuid).
   */
  resource: Resource;
}

export interface PushPlan {
  entries: PlanEntry[];
}

/** How an entry is found in the EHR: its conditional query (PUT Type?…, POST + ifNoneExist) or its id. */
type EntryKey = { kind: 'conditional'; query: string } | { kind: 'id'; id: string };

interface WorkEntry {
  index: number;
  fullUrl: string;
  resourceType: ResourceType;
  resource: Resource;
  key: EntryKey;
}

interface Existing {
  resource: Resource;
  reference: string;
  versionId?: string;
}

const DEFAULT_CONFLICT_RETRIES = 3;

/**
 * Pushes a transaction Bundle of conditional updates (mapping contract) to the EHR, idempotently:
 * 1. conditional references (`Type?identifier=…`) are resolved against the EHR (none → transient
 *    "reference-not-found", several → permanent "ambiguous"), or to the Bundle entry with that conditional key;
 * 2. each entry is looked up by its conditional key; equal content (ignoring id/meta/text) is left alone,
 *    a missing resource is created (POST with If-None-Exist), a different one is updated with
 *    `If-Match: W/"<versionId>"`;
 * 3. as one transaction when the server supports it (or `mode: 'transaction'`), else one request per entry
 *    in reference order with urn:uuid references rewritten to the real Type/id;
 * 4. a 412 (or a create that finds the resource already there) re-reads and re-decides, up to
 *    `maxConflictRetries` times, then fails with a transient EhrError "conflict".
 */
export async function pushBundle(client: EhrClient, bundle: Bundle, options: PushOptions = {}): Promise<PushResult> {
  const retries = options.maxConflictRetries ?? DEFAULT_CONFLICT_RETRIES;
  const resolved = await resolveConditionalReferences(client, bundle);
  const entries = parseEntries(resolved);
  let mode: PushMode;
  if (options.mode === 'transaction' || options.mode === 'sequential') {
    mode = options.mode;
  } else {
    mode = (await client.supportsTransaction()) ? 'transaction' : 'sequential';
  }
  const results =
    mode === 'transaction'
      ? await pushTransaction(client, entries, retries)
      : await pushSequential(client, entries, retries);
  return { mode, entries: results };
}

/**
 * What pushBundle would do, without writing: per entry 'create', 'update' (with a JSON Patch from the current
 * to the new content) or 'unchanged'. Does the same reads (conditional references, conditional keys).
 */
export async function planPush(client: EhrClient, bundle: Bundle): Promise<PushPlan> {
  const resolved = await resolveConditionalReferences(client, bundle);
  const entries = parseEntries(resolved);
  return { entries: await planEntries(client, entries) };
}

/**
 * Returns a copy of the Bundle whose conditional references (`Type?query`) point to `Type/id` in the EHR, or to
 * the fullUrl of the Bundle entry whose request has that same conditional URL.
 */
export async function resolveConditionalReferences(client: EhrClient, bundle: Bundle): Promise<Bundle> {
  const local = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    const url = entry.request?.url;
    if (entry.fullUrl && url && parseConditionalReference(url)) {
      local.set(url, entry.fullUrl);
    }
  }
  const wanted = new Set<string>();
  for (const entry of bundle.entry ?? []) {
    rewriteReferences(entry.resource, (ref) => {
      if (!local.has(ref) && parseConditionalReference(ref)) {
        wanted.add(ref);
      }
      return undefined;
    });
  }
  const found = new Map<string, string>();
  for (const ref of wanted) {
    const { resourceType, query } = parseConditionalReference(ref) as { resourceType: string; query: string };
    const matches = await client.searchResources(resourceType as ResourceType, query);
    if (matches.length === 0) {
      throw new EhrError({
        kind: 'transient',
        category: 'reference-not-found',
        reason: `referenced ${resourceType} not found yet (the order may not have arrived)`,
      });
    }
    if (matches.length > 1) {
      throw new EhrError({
        kind: 'permanent',
        category: 'ambiguous',
        reason: `a conditional reference to ${resourceType} matches ${matches.length} resources in the EHR`,
      });
    }
    found.set(ref, `${resourceType}/${matches[0].id}`);
  }
  return {
    ...bundle,
    entry: bundle.entry?.map((entry) => ({
      ...entry,
      resource: rewriteReferences(entry.resource, (ref) => local.get(ref) ?? found.get(ref)),
    })),
  };
}

function invalidBundle(reason: string): EhrError {
  return new EhrError({ kind: 'permanent', category: 'invalid-bundle', reason });
}

function parseEntries(bundle: Bundle): WorkEntry[] {
  if (bundle.resourceType !== 'Bundle' || (bundle.type !== 'transaction' && bundle.type !== 'batch')) {
    throw invalidBundle('only transaction (or batch) Bundles can be pushed');
  }
  const entries = (bundle.entry ?? []).map((entry, index) => parseEntry(entry, index));
  const fullUrls = new Set<string>();
  for (const e of entries) {
    if (fullUrls.has(e.fullUrl)) {
      throw invalidBundle(`entry ${e.index}: duplicate fullUrl`);
    }
    fullUrls.add(e.fullUrl);
  }
  for (const e of entries) {
    rewriteReferences(e.resource, (ref) => {
      if (isUrnUuid(ref) && !fullUrls.has(ref)) {
        throw invalidBundle(`entry ${e.index} (${e.resourceType}): a urn:uuid reference names no entry of the Bundle`);
      }
      return undefined;
    });
  }
  return entries;
}

function parseEntry(entry: BundleEntry, index: number): WorkEntry {
  const resource = entry.resource;
  const request = entry.request;
  if (!resource || !request) {
    throw invalidBundle(`entry ${index}: a resource and a request are required`);
  }
  const resourceType = resource.resourceType as ResourceType;
  let key: EntryKey;
  const conditional = parseConditionalReference(request.url);
  if (request.method === 'PUT' && conditional) {
    key = { kind: 'conditional', query: conditional.query };
    if (conditional.resourceType !== resourceType) {
      throw invalidBundle(`entry ${index}: request.url names another resource type than the resource`);
    }
  } else if (request.method === 'POST' && request.ifNoneExist && request.url === resourceType) {
    key = { kind: 'conditional', query: request.ifNoneExist.replace(/^\?/, '') };
  } else if (request.method === 'PUT' && request.url.startsWith(`${resourceType}/`)) {
    key = { kind: 'id', id: request.url.slice(resourceType.length + 1) };
  } else {
    throw invalidBundle(
      `entry ${index} (${resourceType}): ${request.method} ${request.url.split('?')[0]} is not idempotent; use a conditional PUT, POST with ifNoneExist, or PUT Type/id`,
    );
  }
  const fullUrl = entry.fullUrl ?? (key.kind === 'id' ? `${resourceType}/${key.id}` : `entry-${index}`);
  return { index, fullUrl, resourceType, resource: structuredClone(resource), key };
}

async function findExisting(client: EhrClient, entry: WorkEntry): Promise<Existing | undefined> {
  let resource: Resource | undefined;
  if (entry.key.kind === 'conditional') {
    const matches = await client.searchResources(entry.resourceType, entry.key.query);
    if (matches.length > 1) {
      throw new EhrError({
        kind: 'permanent',
        category: 'ambiguous',
        reason: `the conditional key of a ${entry.resourceType} entry matches ${matches.length} resources in the EHR`,
      });
    }
    resource = matches[0];
  } else {
    try {
      resource = await client.read(entry.resourceType, entry.key.id);
    } catch (err) {
      if (err instanceof EhrError && (err.status === 404 || err.status === 410)) {
        resource = undefined;
      } else {
        throw err;
      }
    }
  }
  if (!resource) {
    return undefined;
  }
  return { resource, reference: `${resource.resourceType}/${resource.id}`, versionId: resource.meta?.versionId };
}

/** The resource as it should be sent: our content, the EHR's id (when known), no server-owned meta. */
function forWrite(resource: Resource, id?: string): Resource {
  const out = { ...resource } as Resource;
  if (id) {
    out.id = id;
  } else {
    delete out.id;
  }
  if (out.meta) {
    const meta = { ...out.meta };
    delete meta.versionId;
    delete meta.lastUpdated;
    if (Object.keys(meta).length) {
      out.meta = meta;
    } else {
      delete out.meta;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Plan (and transaction mode)

async function planEntries(client: EhrClient, entries: WorkEntry[]): Promise<PlanEntry[]> {
  const existing: (Existing | undefined)[] = [];
  for (const entry of entries) {
    existing.push(await findExisting(client, entry));
  }
  const known = new Map<string, string>();
  entries.forEach((e, i) => {
    const ex = existing[i];
    if (ex) {
      known.set(e.fullUrl, ex.reference);
    }
  });
  return entries.map((entry, i) => {
    const ex = existing[i];
    const id = ex?.resource.id ?? (entry.key.kind === 'id' ? entry.key.id : undefined);
    const resource = rewriteReferences(forWrite(entry.resource, id), (ref) => known.get(ref));
    if (!ex) {
      return { fullUrl: entry.fullUrl, resourceType: entry.resourceType, action: 'create', resource };
    }
    const base = {
      fullUrl: entry.fullUrl,
      resourceType: entry.resourceType,
      reference: ex.reference,
      versionId: ex.versionId,
      resource,
    };
    if (sameContent(ex.resource, resource)) {
      return { ...base, action: 'unchanged' };
    }
    return { ...base, action: 'update', patch: contentPatch(ex.resource, resource) };
  });
}

async function pushTransaction(client: EhrClient, entries: WorkEntry[], retries: number): Promise<PushEntryResult[]> {
  const earlier: (PushAction | undefined)[] = entries.map(() => undefined);
  for (let round = 0; round <= retries; round++) {
    const plan = await planEntries(client, entries);
    const writes: { entryIndex: number; bundleEntry: BundleEntry }[] = [];
    plan.forEach((p, i) => {
      const entry = entries[i];
      if (p.action === 'create') {
        writes.push({
          entryIndex: i,
          bundleEntry: {
            fullUrl: entry.fullUrl,
            resource: p.resource,
            request:
              entry.key.kind === 'conditional'
                ? { method: 'POST', url: entry.resourceType, ifNoneExist: entry.key.query }
                : { method: 'PUT', url: `${entry.resourceType}/${entry.key.id}` },
          },
        });
      } else if (p.action === 'update') {
        writes.push({
          entryIndex: i,
          bundleEntry: {
            fullUrl: entry.fullUrl,
            resource: p.resource,
            request: {
              method: 'PUT',
              url: p.reference as string,
              ...(p.versionId ? { ifMatch: `W/"${p.versionId}"` } : {}),
            },
          },
        });
      }
    });

    const results: PushEntryResult[] = plan.map((p) => ({
      fullUrl: p.fullUrl,
      resourceType: p.resourceType,
      reference: p.reference ?? '',
      action: 'unchanged',
      versionId: p.versionId,
    }));
    if (writes.length === 0) {
      return mergeEarlier(results, earlier);
    }

    let response: Bundle;
    try {
      response = await client.transaction({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: writes.map((w) => w.bundleEntry),
      });
    } catch (err) {
      if (isConflict(err)) {
        continue;
      }
      throw err;
    }

    let raced = false;
    for (let k = 0; k < writes.length; k++) {
      const { entryIndex, bundleEntry } = writes[k];
      const answer = response.entry?.[k];
      const status = parseInt(answer?.response?.status ?? '', 10);
      if (!Number.isFinite(status)) {
        throw new EhrError({
          kind: 'transient',
          category: 'invalid-response',
          reason: 'the transaction response has no status for an entry',
        });
      }
      if (status === 412) {
        raced = true;
        continue;
      }
      if (status < 200 || status > 299) {
        const outcome = answer?.response?.outcome ?? answer?.resource;
        throw new EhrError({
          kind: classifyStatus(status),
          category: status === 401 || status === 403 ? 'auth' : 'http',
          status,
          outcome: isOperationOutcomeBody(outcome) ? outcome : undefined,
          reason: `transaction entry ${bundleEntry.request?.method} ${entries[entryIndex].resourceType} failed with HTTP ${status}`,
        });
      }
      const location = answer?.response?.location ? parseLocation(answer.response.location) : undefined;
      const returned = answer?.resource;
      const id = returned?.id ?? location?.id;
      const created = status === 201;
      if (bundleEntry.request?.method === 'POST' && status !== 201) {
        // If-None-Exist found the resource: someone created it after our read. Re-decide in the next round.
        raced = true;
      }
      results[entryIndex] = {
        ...results[entryIndex],
        reference: id ? `${entries[entryIndex].resourceType}/${id}` : results[entryIndex].reference,
        action: created ? 'created' : 'updated',
        versionId: returned?.meta?.versionId ?? parseEtag(answer?.response?.etag) ?? location?.versionId,
      };
    }
    if (!raced) {
      return mergeEarlier(results, earlier);
    }
    results.forEach((r, i) => {
      if (r.action !== 'unchanged' && earlier[i] !== 'created') {
        earlier[i] = r.action;
      }
    });
  }
  throw conflictError();
}

function mergeEarlier(results: PushEntryResult[], earlier: (PushAction | undefined)[]): PushEntryResult[] {
  return results.map((r, i) => {
    const before = earlier[i];
    if (before === 'created') {
      return { ...r, action: 'created' };
    }
    if (before === 'updated' && r.action === 'unchanged') {
      return { ...r, action: 'updated' };
    }
    return r;
  });
}

function isConflict(err: unknown): boolean {
  return err instanceof EhrError && err.status === 412;
}

function conflictError(): EhrError {
  return new EhrError({
    kind: 'transient',
    category: 'conflict',
    status: 412,
    reason: 'the EHR copy kept changing between read and write (If-Match failed on every retry)',
  });
}

// ---------------------------------------------------------------------------------------------------------
// Sequential mode

async function pushSequential(client: EhrClient, entries: WorkEntry[], retries: number): Promise<PushEntryResult[]> {
  const { order, deferred } = orderByReferences(entries);
  const deferredTargets = new Map<number, Set<string>>();
  for (const [from, to] of deferred) {
    const set = deferredTargets.get(from) ?? new Set<string>();
    set.add(entries[to].fullUrl);
    deferredTargets.set(from, set);
  }
  const byFullUrl = new Map(entries.map((e) => [e.fullUrl, e]));
  const known = new Map<string, string>();
  const results: PushEntryResult[] = new Array(entries.length);
  const fixups: number[] = [];

  for (const i of order) {
    const entry = entries[i];
    // A reference to an entry not written yet (a cycle): use the EHR's copy if it exists, else drop it now and
    // write it in a second pass.
    let incomplete = false;
    for (const target of deferredTargets.get(i) ?? []) {
      if (!known.has(target)) {
        const ex = await findExisting(client, byFullUrl.get(target) as WorkEntry);
        if (ex) {
          known.set(target, ex.reference);
        } else {
          incomplete = true;
        }
      }
    }
    const resource = rewriteReferences(entry.resource, (ref) =>
      isUrnUuid(ref) ? (known.get(ref) ?? null) : undefined,
    );
    const result = await upsert(client, entry, resource, retries);
    known.set(entry.fullUrl, result.reference);
    results[i] = result;
    if (incomplete) {
      fixups.push(i);
    }
  }

  for (const i of fixups) {
    const entry = entries[i];
    const resource = rewriteReferences(entry.resource, (ref) => (isUrnUuid(ref) ? known.get(ref) : undefined));
    const second = await upsert(client, entry, resource, retries);
    const first = results[i];
    results[i] = {
      ...second,
      action: first.action === 'created' ? 'created' : second.action === 'unchanged' ? first.action : 'updated',
    };
  }
  return results;
}

/** Read by key, then create / leave / update with If-Match; 412 or a lost create race → re-read and re-decide. */
async function upsert(
  client: EhrClient,
  entry: WorkEntry,
  resource: Resource,
  retries: number,
): Promise<PushEntryResult> {
  const base = { fullUrl: entry.fullUrl, resourceType: entry.resourceType };
  for (let round = 0; round <= retries; round++) {
    const ex = await findExisting(client, entry);
    try {
      if (!ex) {
        if (entry.key.kind === 'conditional') {
          const res = await client.create(forWrite(resource), { ifNoneExist: entry.key.query });
          if (!res.created) {
            continue; // it appeared after our read: re-decide against it
          }
          return { ...base, reference: `${entry.resourceType}/${res.id}`, action: 'created', versionId: res.versionId };
        }
        const res = await client.update(forWrite(resource, entry.key.id));
        return {
          ...base,
          reference: `${entry.resourceType}/${res.id}`,
          action: res.created ? 'created' : 'updated',
          versionId: res.versionId,
        };
      }
      const next = forWrite(resource, ex.resource.id);
      if (sameContent(ex.resource, next)) {
        return { ...base, reference: ex.reference, action: 'unchanged', versionId: ex.versionId };
      }
      const res = await client.update(next, ex.versionId ? { ifMatch: ex.versionId } : {});
      return { ...base, reference: ex.reference, action: 'updated', versionId: res.versionId };
    } catch (err) {
      if (isConflict(err)) {
        continue;
      }
      throw err;
    }
  }
  throw conflictError();
}
