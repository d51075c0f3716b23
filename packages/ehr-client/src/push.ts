import type { Bundle, BundleEntry, Resource, ResourceType } from '@medplum/fhirtypes';
import { parseEtag, parseLocation, searchMatches, type EhrClient, type GetAnswer } from './client';
import { contentPatch, sameContent, type JsonPatchOperation } from './diff';
import { EhrError, classifyStatus, isOperationOutcomeBody } from './errors';
import {
  collectReferences,
  isUrnUuid,
  orderByReferences,
  parseConditionalReference,
  rewriteReferences,
} from './references';

export type PushMode = 'transaction' | 'sequential';

/** Why a guard stopped a push: a word for the decision (e.g. "superseded") and a sentence for people. */
export interface PushStop {
  action: string;
  reason: string;
}

/** What a guard decided from the EHR's current copies. */
export interface PushGuardVerdict {
  /** Write nothing at all. */
  stop?: PushStop;
  /** fullUrl → why: entries whose EHR copy stays as it is (references to them point at that copy). */
  keep?: ReadonlyMap<string, string>;
}

/**
 * Business rules on top of the idempotent push (e.g. report status precedence): given the EHR's current copy of
 * each entry that exists (by fullUrl), decide whether to write and what to leave alone. In transaction mode it is
 * asked again with fresh copies whenever a conflict makes pushBundle re-read; in sequential mode it is asked once,
 * and a conflict re-reads and re-decides only the entry that met it.
 */
export type PushGuard = (current: ReadonlyMap<string, Resource>) => PushGuardVerdict;

export interface PushOptions {
  /** 'auto' (default): a transaction when the CapabilityStatement lists it, else sequential. */
  mode?: PushMode | 'auto';
  /** Re-read and re-decide rounds after a 412 (or a create that lost a race); default 3. */
  maxConflictRetries?: number;
  guard?: PushGuard;
}

export type PushAction = 'created' | 'updated' | 'unchanged';

export interface PushEntryResult {
  fullUrl: string;
  resourceType: ResourceType;
  /** Type/id in the EHR. */
  reference: string;
  action: PushAction;
  versionId?: string;
  /** Why the guard kept the EHR's copy of this entry (action "unchanged"). */
  kept?: string;
}

export interface PushResult {
  mode: PushMode;
  /** One per Bundle entry, in Bundle order (empty when the guard stopped the push). */
  entries: PushEntryResult[];
  /** The guard's decision not to write anything. */
  stopped?: PushStop;
}

export type PlanAction = 'create' | 'update' | 'unchanged' | 'kept';

export interface PlanEntry {
  fullUrl: string;
  resourceType: ResourceType;
  action: PlanAction;
  /** Type/id of the EHR's current resource (update, unchanged, kept). */
  reference?: string;
  /** Its current versionId (the If-Match an update would send). */
  versionId?: string;
  /** update: RFC 6902 JSON Patch from the current content to the new one (id, meta and text ignored). */
  patch?: JsonPatchOperation[];
  /** kept: why the guard keeps the EHR's copy. */
  note?: string;
  /**
   * The resource that would be written: conditional references resolved, urn:uuid references to resources
   * that already exist rewritten to Type/id (references to resources still to be created stay urn:uuid).
   */
  resource: Resource;
}

export interface PushPlan {
  entries: PlanEntry[];
  /** The guard's decision not to write anything (the entries say what would have been written). */
  stopped?: PushStop;
}

/** How an entry is found in the EHR: its conditional query (PUT Type?…, POST + ifNoneExist) or its id. */
type EntryKey = { kind: 'conditional'; query: string } | { kind: 'id'; id: string };

interface WorkEntry {
  index: number;
  fullUrl: string;
  resourceType: ResourceType;
  resource: Resource;
  key: EntryKey;
  /** The `reference` strings of the resource as given, in document order (walked once per push). */
  references: string[];
}

interface Existing {
  resource: Resource;
  reference: string;
  versionId?: string;
}

const DEFAULT_CONFLICT_RETRIES = 3;

/**
 * Pushes a transaction Bundle of conditional updates (mapping contract) to the EHR, idempotently:
 * 1. one round of reads (a single `batch` of GETs when the server supports it): the conditional references
 *    (`Type?identifier=…`) that no Bundle entry answers (none → transient "reference-not-found", several →
 *    permanent "ambiguous"), and every entry's current copy by its conditional key or id;
 * 2. `options.guard` may stop the push or keep some entries as the EHR has them;
 * 3. equal content (ignoring id/meta/text) is left alone, a missing resource is created (POST with
 *    If-None-Exist), a different one is updated with `If-Match: W/"<versionId>"`;
 * 4. as one transaction when the server supports it (or `mode: 'transaction'`), else one request per entry
 *    in reference order with urn:uuid references rewritten to the real Type/id;
 * 5. a 412 (or a create that finds the resource already there) re-reads and re-decides (in transaction mode,
 *    guard included; in sequential mode, that entry alone), up to `maxConflictRetries` times, then fails with a
 *    transient EhrError "conflict".
 */
export async function pushBundle(client: EhrClient, bundle: Bundle, options: PushOptions = {}): Promise<PushResult> {
  const retries = options.maxConflictRetries ?? DEFAULT_CONFLICT_RETRIES;
  const { entries, lookup } = await prepare(client, bundle);
  let mode: PushMode;
  if (options.mode === 'transaction' || options.mode === 'sequential') {
    mode = options.mode;
  } else {
    mode = (await client.supportsTransaction()) ? 'transaction' : 'sequential';
  }
  const verdict = options.guard?.(currentCopies(entries, lookup)) ?? {};
  if (verdict.stop) {
    return { mode, entries: [], stopped: verdict.stop };
  }
  return mode === 'transaction'
    ? pushTransaction(client, entries, lookup, verdict, options.guard, retries)
    : { mode, entries: await pushSequential(client, entries, lookup, verdict, retries) };
}

/**
 * What pushBundle would do, without writing: per entry 'create', 'update' (with a JSON Patch from the current
 * to the new content), 'unchanged' or 'kept' (by the guard), and whether the guard stops it. Does the same reads.
 */
export async function planPush(
  client: EhrClient,
  bundle: Bundle,
  options: Pick<PushOptions, 'guard'> = {},
): Promise<PushPlan> {
  const { entries, lookup } = await prepare(client, bundle);
  const verdict = options.guard?.(currentCopies(entries, lookup)) ?? {};
  return {
    entries: planEntries(entries, lookup.existing, verdict, true),
    ...(verdict.stop ? { stopped: verdict.stop } : {}),
  };
}

/** The conditional references of a Bundle: those an entry's own conditional URL answers, and those to search. */
function conditionalReferences(
  bundle: Bundle,
  entries: readonly WorkEntry[],
): { local: Map<string, string>; wanted: string[] } {
  const local = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    const url = entry.request?.url;
    if (entry.fullUrl && url && parseConditionalReference(url)) {
      local.set(url, entry.fullUrl);
    }
  }
  const wanted = new Set<string>();
  for (const entry of entries) {
    for (const ref of entry.references) {
      if (!local.has(ref) && parseConditionalReference(ref)) {
        wanted.add(ref);
      }
    }
  }
  return { local, wanted: [...wanted] };
}

/** Parsed entries with their conditional references resolved, and the first round of reads. */
async function prepare(client: EhrClient, bundle: Bundle): Promise<{ entries: WorkEntry[]; lookup: Lookup }> {
  const entries = parseEntries(bundle);
  const { local, wanted } = conditionalReferences(bundle, entries);
  const lookup = await lookUp(client, entries, wanted);
  for (const e of entries) {
    // Copy on write: the caller's Bundle is never modified, and nothing a push does modifies a resource in place.
    e.resource = rewriteReferences(e.resource, (ref) => local.get(ref) ?? lookup.references.get(ref));
  }
  return { entries, lookup };
}

/** One round of reads: conditional reference → Type/id, and each entry's current copy in the EHR. */
interface Lookup {
  references: Map<string, string>;
  existing: (Existing | undefined)[];
}

/** Reads the conditional references and the entries' current copies, as one `batch` where the server allows. */
async function lookUp(client: EhrClient, entries: WorkEntry[], references: readonly string[]): Promise<Lookup> {
  const paths = [
    ...references,
    ...entries.map((e) =>
      e.key.kind === 'conditional'
        ? `${e.resourceType}?${e.key.query}`
        : `${e.resourceType}/${encodeURIComponent(e.key.id)}`,
    ),
  ];
  const answers = paths.length ? await client.getMany(paths) : [];
  const resolved = new Map<string, string>();
  references.forEach((ref, i) => {
    const resourceType = (parseConditionalReference(ref) as { resourceType: string }).resourceType as ResourceType;
    const matches = matchesIn(answers[i], resourceType);
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
    resolved.set(ref, `${resourceType}/${matches[0].id}`);
  });
  const existing = entries.map((e, k) => {
    const answer = answers[references.length + k];
    const resource = e.key.kind === 'conditional' ? onlyMatch(answer, e.resourceType) : readResult(answer, e);
    return resource
      ? { resource, reference: `${resource.resourceType}/${resource.id}`, versionId: resource.meta?.versionId }
      : undefined;
  });
  return { references: resolved, existing };
}

/** The matches of a search answer; a failed search throws its error. */
function matchesIn(answer: GetAnswer, resourceType: ResourceType): Resource[] {
  if (answer.error) {
    throw answer.error;
  }
  if (answer.resource?.resourceType !== 'Bundle') {
    throw new EhrError({
      kind: 'transient',
      category: 'invalid-response',
      status: answer.status,
      reason: `GET ${resourceType} (search) did not return a Bundle`,
    });
  }
  return searchMatches(answer.resource, resourceType);
}

/** The one match of an entry's conditional key, or undefined; several is a permanent "ambiguous". */
function onlyMatch(answer: GetAnswer, resourceType: ResourceType): Resource | undefined {
  const matches = matchesIn(answer, resourceType);
  if (matches.length > 1) {
    throw new EhrError({
      kind: 'permanent',
      category: 'ambiguous',
      reason: `the conditional key of a ${resourceType} entry matches ${matches.length} resources in the EHR`,
    });
  }
  return matches[0];
}

/** The answer to GET Type/id: the resource, or undefined when the EHR has none (404, 410). */
function readResult(answer: GetAnswer, entry: WorkEntry): Resource | undefined {
  if (answer.status === 404 || answer.status === 410) {
    return undefined;
  }
  if (answer.error) {
    throw answer.error;
  }
  if (answer.resource?.resourceType !== entry.resourceType) {
    throw new EhrError({
      kind: 'transient',
      category: 'invalid-response',
      status: answer.status,
      reason: `GET ${entry.resourceType}/{id} did not return a ${entry.resourceType}`,
    });
  }
  return answer.resource;
}

/** fullUrl → the EHR's current copy, for the entries that exist there (what a guard decides on). */
function currentCopies(entries: WorkEntry[], lookup: Lookup): Map<string, Resource> {
  const out = new Map<string, Resource>();
  entries.forEach((e, i) => {
    const ex = lookup.existing[i];
    if (ex) {
      out.set(e.fullUrl, ex.resource);
    }
  });
  return out;
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
    if (e.references.some((ref) => isUrnUuid(ref) && !fullUrls.has(ref))) {
      throw invalidBundle(`entry ${e.index} (${e.resourceType}): a urn:uuid reference names no entry of the Bundle`);
    }
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
  return { index, fullUrl, resourceType, resource, key, references: collectReferences(resource) };
}

/** The EHR's current copy of one entry (by its conditional key or id), or undefined. */
async function findExisting(client: EhrClient, entry: WorkEntry): Promise<Existing | undefined> {
  return (await lookUp(client, [entry], [])).existing[0];
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

/** What to do with each entry; `withPatch` adds the JSON Patch of updates (for people; a push does not need it). */
function planEntries(
  entries: WorkEntry[],
  existing: (Existing | undefined)[],
  verdict: PushGuardVerdict,
  withPatch = false,
): PlanEntry[] {
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
    const note = verdict.keep?.get(entry.fullUrl);
    if (note !== undefined) {
      return { ...base, action: 'kept', note };
    }
    if (sameContent(ex.resource, resource)) {
      return { ...base, action: 'unchanged' };
    }
    return { ...base, action: 'update', ...(withPatch ? { patch: contentPatch(ex.resource, resource) } : {}) };
  });
}

async function pushTransaction(
  client: EhrClient,
  entries: WorkEntry[],
  firstLookup: Lookup,
  firstVerdict: PushGuardVerdict,
  guard: PushGuard | undefined,
  retries: number,
): Promise<PushResult> {
  const mode = 'transaction';
  const earlier: (PushAction | undefined)[] = entries.map(() => undefined);
  for (let round = 0; round <= retries; round++) {
    let existing = firstLookup.existing;
    let verdict = firstVerdict;
    if (round > 0) {
      const lookup = await lookUp(client, entries, []);
      existing = lookup.existing;
      verdict = guard?.(currentCopies(entries, lookup)) ?? {};
      if (verdict.stop) {
        return { mode, entries: [], stopped: verdict.stop };
      }
    }
    const plan = planEntries(entries, existing, verdict);
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

    const results: PushEntryResult[] = plan.map(unchangedResult);
    if (writes.length === 0) {
      return { mode, entries: mergeEarlier(results, earlier) };
    }

    let response: Bundle;
    try {
      // Only the ids and versions are read back (location, etag), not the resources.
      response = await client.transaction(
        { resourceType: 'Bundle', type: 'transaction', entry: writes.map((w) => w.bundleEntry) },
        { minimal: true },
      );
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
      return { mode, entries: mergeEarlier(results, earlier) };
    }
    results.forEach((r, i) => {
      if (r.action !== 'unchanged' && earlier[i] !== 'created') {
        earlier[i] = r.action;
      }
    });
  }
  throw conflictError();
}

/** An entry nothing is written for (unchanged, or kept by the guard). */
function unchangedResult(p: PlanEntry): PushEntryResult {
  return {
    fullUrl: p.fullUrl,
    resourceType: p.resourceType,
    reference: p.reference ?? '',
    action: 'unchanged',
    versionId: p.versionId,
    ...(p.note !== undefined ? { kept: p.note } : {}),
  };
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

async function pushSequential(
  client: EhrClient,
  entries: WorkEntry[],
  lookup: Lookup,
  verdict: PushGuardVerdict,
  retries: number,
): Promise<PushEntryResult[]> {
  const { order, deferred } = orderByReferences(entries);
  const deferredTargets = new Map<number, Set<string>>();
  for (const [from, to] of deferred) {
    const set = deferredTargets.get(from) ?? new Set<string>();
    set.add(entries[to].fullUrl);
    deferredTargets.set(from, set);
  }
  const firstCopy = new Map(entries.map((e, i) => [e.fullUrl, lookup.existing[i]]));
  const known = new Map<string, string>();
  const results: PushEntryResult[] = new Array(entries.length);
  const fixups: number[] = [];
  // Entries the guard keeps are not written: references to them point at the EHR's copy.
  entries.forEach((e, i) => {
    const ex = lookup.existing[i];
    const note = verdict.keep?.get(e.fullUrl);
    if (ex && note !== undefined) {
      known.set(e.fullUrl, ex.reference);
      const base = { fullUrl: e.fullUrl, resourceType: e.resourceType, reference: ex.reference };
      results[i] = { ...base, action: 'unchanged', versionId: ex.versionId, kept: note };
    }
  });

  for (const i of order) {
    const entry = entries[i];
    if (results[i]) {
      continue; // kept by the guard
    }
    // A reference to an entry not written yet (a cycle): use the EHR's copy if it exists, else drop it now and
    // write it in a second pass.
    let incomplete = false;
    for (const target of deferredTargets.get(i) ?? []) {
      if (!known.has(target)) {
        const ex = firstCopy.get(target);
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
    const result = await upsert(client, entry, resource, retries, { existing: lookup.existing[i] });
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
  /** The entry's copy as read just before, used for the first round instead of reading again. */
  first?: { existing: Existing | undefined },
): Promise<PushEntryResult> {
  const base = { fullUrl: entry.fullUrl, resourceType: entry.resourceType };
  for (let round = 0; round <= retries; round++) {
    const ex = round === 0 && first ? first.existing : await findExisting(client, entry);
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
