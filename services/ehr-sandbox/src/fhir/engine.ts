import type { Operation } from '@medplum/core';
import { getStatus, isOk, isResourceType, parseSearchRequest } from '@medplum/core';
import type { FhirRouter, HttpMethod } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, OperationOutcome, Parameters, Resource } from '@medplum/fhirtypes';
import type { Permission } from '../auth/scopes';
import type { SandboxRepository } from '../repo';
import { matchesSearch } from '../repo';
import { hasErrors, httpError, HttpError, makeOutcome, stripOutcomeId, toHttpError } from './outcome';
import { collectReferences, parseConditionalReference, parseLocalReference, rewriteReferences } from './references';

/**
 * The validation hook: returns an OperationOutcome (errors → the write is refused with 422) or
 * undefined when there is nothing to say.
 */
export type ValidateHook = (
  resource: Resource,
) => OperationOutcome | undefined | void | Promise<OperationOutcome | undefined | void>;

/** Throws an HttpError 403 when the caller may not do `permission` on `resourceType`. */
export type Authorizer = (resourceType: string, permission: Permission) => void;

export interface EngineOptions {
  repo: SandboxRepository;
  router: FhirRouter;
  /** Absolute FHIR base URL (known once the server listens). */
  baseUrl: () => string;
  validate?: ValidateHook;
  /** Refuse writes whose local references (`Type/id`) point at nothing. */
  referentialIntegrity: boolean;
}

/** One interaction, from an HTTP request or a Bundle entry. */
export interface EntryInput {
  method: string;
  /** Relative to the base (`Patient/1`, `Patient?identifier=...`), or absolute under the base. */
  url: string;
  /** Owned by the engine from here on: its references are rewritten in place (a freshly parsed request body). */
  resource?: Resource;
  /** The bare version id (already taken out of `W/"..."`). */
  ifMatch?: string;
  ifNoneExist?: string;
  patch?: Operation[] | Parameters;
  fullUrl?: string;
}

/** The outcome of one interaction. */
export interface EntryResult {
  status: number;
  resource?: Resource;
  outcome?: OperationOutcome;
  /** Relative `Type/id/_history/vid`. */
  location?: string;
  versionId?: string;
  lastModified?: string;
}

type Action = 'create' | 'update' | 'noop' | 'patch' | 'delete' | 'get';

interface Plan {
  index: number;
  input: EntryInput;
  action: Action;
  resourceType: string;
  id?: string;
  resource?: Resource;
  ifMatch?: string;
  patch?: Operation[] | Parameters;
  /** PUT that creates (update-as-create or a conditional update without a match). */
  createsByUpdate?: boolean;
  /** The search behind a conditional create/update that ended in a create. */
  condition?: string;
  /** For GET entries: the URL handed to the router. */
  getUrl?: string;
}

/** Reference resolution policy for a unit of work. */
type Mode = 'single' | 'batch' | 'transaction';

/** State of one unit of work (a transaction, one batch entry, one plain request). */
class WorkState {
  /** fullUrl → Type/id; shared across the entries of a batch. */
  readonly identities: Map<string, string>;
  /** Type/id touched by an entry (an entry may not touch what another touches). */
  readonly claimed = new Map<string, number>();
  readonly deleted = new Set<string>();
  /** Type/id → content that will be stored. */
  readonly written = new Map<string, Resource>();
  /** Conditional reference → Type/id, resolved once per unit of work. */
  readonly resolvedConditionals = new Map<string, string>();

  constructor(identities: Map<string, string> = new Map()) {
    this.identities = identities;
  }
}

const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const EXECUTION_ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 3, GET: 4 };
const STATUS_TEXT: Record<number, string> = { 200: '200 OK', 201: '201 Created', 204: '204 No Content' };

export class FhirEngine {
  private readonly opts: EngineOptions;

  constructor(opts: EngineOptions) {
    this.opts = opts;
  }

  private get repo(): SandboxRepository {
    return this.opts.repo;
  }

  /** One plain REST write (create, update, conditional update, patch, delete). */
  async single(input: EntryInput, authorize: Authorizer): Promise<EntryResult> {
    const state = new WorkState();
    const plan = await this.plan(input, 0, state, authorize);
    this.record(plan, state);
    await this.resolveReferences([plan], state, 'single');
    this.checkIntegrity([plan], state, 'single');
    await this.validateAll([plan], 'single');
    return this.execute(plan);
  }

  /**
   * A transaction Bundle: all entries or none. Planned in full (identities, conditional matches,
   * urn:uuid and conditional references, referential integrity, validation) before anything is
   * written; executed DELETE, POST, PUT, PATCH, GET; on any failure the repository is restored
   * to its state before the transaction and the failing entry's error is thrown.
   */
  async transaction(bundle: Bundle, authorize: Authorizer): Promise<Bundle> {
    const entries = bundle.entry ?? [];
    const state = new WorkState();
    const inputs = entries.map((e, i) => entryInput(e, i));
    const fullUrls = new Set<string>();
    for (const input of inputs) {
      if (input.fullUrl) {
        if (fullUrls.has(input.fullUrl)) {
          throw httpError(400, 'invalid', `Duplicate fullUrl in transaction: ${input.fullUrl}`);
        }
        fullUrls.add(input.fullUrl);
      }
    }
    const plans: Plan[] = [];
    for (let i = 0; i < inputs.length; i++) {
      plans.push(await atEntry('transaction', i, inputs[i], () => this.plan(inputs[i], i, state, authorize)));
    }
    for (const plan of plans) {
      atEntrySync(plan.index, plan.input, () => this.record(plan, state));
    }
    this.checkConditionalCreates(plans, state);
    await this.resolveReferences(plans, state, 'transaction');
    this.checkIntegrity(plans, state, 'transaction');
    await this.validateAll(plans, 'transaction');

    const results: EntryResult[] = new Array(plans.length);
    const order = [...plans].sort(
      (a, b) => EXECUTION_ORDER[a.input.method] - EXECUTION_ORDER[b.input.method] || a.index - b.index,
    );
    try {
      await this.repo.atomically(async () => {
        for (const plan of order) {
          results[plan.index] = await atEntry('transaction', plan.index, plan.input, () => this.execute(plan));
        }
      });
    } catch (err) {
      const e = toHttpError(err);
      e.outcome.issue?.push({
        severity: 'information',
        code: 'informational',
        diagnostics: 'The transaction was rolled back: nothing in it was stored.',
      });
      throw e;
    }
    return {
      resourceType: 'Bundle',
      type: 'transaction-response',
      entry: results.map((r) => responseEntry(r, this.opts.baseUrl())),
    };
  }

  /** A batch Bundle: each entry on its own, in Bundle order; failures are reported per entry. */
  async batch(bundle: Bundle, authorize: Authorizer): Promise<Bundle> {
    const identities = new Map<string, string>();
    const out: BundleEntry[] = [];
    const entries = bundle.entry ?? [];
    for (let i = 0; i < entries.length; i++) {
      try {
        const input = entryInput(entries[i], i);
        const state = new WorkState(identities);
        const plan = await this.plan(input, i, state, authorize);
        this.record(plan, state);
        await this.resolveReferences([plan], state, 'batch');
        this.checkIntegrity([plan], state, 'batch');
        await this.validateAll([plan], 'batch');
        out.push(responseEntry(await this.execute(plan), this.opts.baseUrl()));
      } catch (err) {
        const e = toHttpError(err);
        out.push({ response: { status: String(e.status), outcome: e.outcome } });
      }
    }
    return { resourceType: 'Bundle', type: 'batch-response', entry: out };
  }

  // ---------------------------------------------------------------------------------------------
  // Planning

  private async plan(input: EntryInput, index: number, state: WorkState, authorize: Authorizer): Promise<Plan> {
    const { method } = input;
    const { segments, query } = splitUrl(input.url, this.opts.baseUrl());
    const resourceType = segments[0];
    if (!resourceType || !isResourceType(resourceType)) {
      throw httpError(400, 'not-supported', `Unsupported request URL for ${method}: "${segments.join('/')}"`);
    }
    const id = segments[1];
    if (segments.length > 2 && method !== 'GET') {
      throw httpError(400, 'not-supported', `Unsupported request URL for ${method}`);
    }
    const base: Plan = { index, input, action: 'get', resourceType, ifMatch: input.ifMatch };

    if (method === 'GET') {
      authorize(resourceType, segments.length === 1 ? 's' : 'r');
      return { ...base, action: 'get', getUrl: segments.map(encodeURIComponent).join('/') + query };
    }

    if (method === 'POST') {
      if (segments.length !== 1) {
        throw httpError(400, 'not-supported', 'POST is only supported on a resource type (create)');
      }
      const resource = requireResource(input, resourceType);
      authorize(resourceType, 'c');
      if (input.ifNoneExist) {
        const ids = await this.matchIds(resourceType, input.ifNoneExist, state);
        if (ids.length > 1) {
          throw multipleMatches('If-None-Exist', resourceType, ids.length);
        }
        if (ids.length === 1) {
          return this.claim({ ...base, action: 'noop', id: ids[0] }, state);
        }
        checkMatchesCondition(resource, input.ifNoneExist, 'If-None-Exist');
        return this.claim(
          { ...base, action: 'create', id: this.repo.generateId(), resource, condition: input.ifNoneExist },
          state,
        );
      }
      return this.claim({ ...base, action: 'create', id: this.repo.generateId(), resource }, state);
    }

    if (method === 'PUT') {
      const resource = requireResource(input, resourceType);
      authorize(resourceType, 'u');
      if (id) {
        if (resource.id !== undefined && resource.id !== id) {
          throw httpError(400, 'invalid', `Resource id "${resource.id}" does not match the URL id "${id}"`, [
            `${resourceType}.id`,
          ]);
        }
        const exists = this.exists(resourceType, id, state);
        if (!exists) {
          if (input.ifMatch) {
            throw httpError(412, 'conflict', `If-Match given but ${resourceType}/${id} does not exist`);
          }
          authorize(resourceType, 'c');
        }
        return this.claim({ ...base, action: 'update', id, resource, createsByUpdate: !exists }, state);
      }
      const condition = query.replace(/^\?/, '');
      if (!condition) {
        throw httpError(400, 'invalid', 'PUT on a resource type needs search parameters (conditional update)');
      }
      const ids = await this.matchIds(resourceType, condition, state);
      if (ids.length > 1) {
        throw multipleMatches('conditional update', resourceType, ids.length);
      }
      if (ids.length === 1) {
        if (resource.id !== undefined && resource.id !== ids[0]) {
          throw httpError(400, 'invalid', 'Resource id does not match the resource found by the condition', [
            `${resourceType}.id`,
          ]);
        }
        return this.claim({ ...base, action: 'update', id: ids[0], resource }, state);
      }
      if (input.ifMatch) {
        throw httpError(412, 'conflict', `If-Match given but no ${resourceType} matches the condition`);
      }
      authorize(resourceType, 'c');
      const newId = resource.id ?? this.repo.generateId();
      if (this.repo.peek(resourceType, newId)) {
        throw httpError(400, 'invalid', `${resourceType}/${newId} exists but does not match the condition`);
      }
      checkMatchesCondition(resource, condition, 'conditional update URL');
      return this.claim({ ...base, action: 'update', id: newId, resource, createsByUpdate: true, condition }, state);
    }

    if (method === 'PATCH') {
      authorize(resourceType, 'u');
      const patch = input.patch;
      if (!patch || (!Array.isArray(patch) && patch.resourceType !== 'Parameters')) {
        throw httpError(400, 'invalid', 'PATCH needs a JSON Patch array or a FHIRPath Patch Parameters resource');
      }
      const targetId = id ?? (await this.singleMatch(resourceType, query, state, 'conditional patch'));
      if (!this.exists(resourceType, targetId, state)) {
        throw httpError(404, 'not-found', `${resourceType}/${targetId} not found`);
      }
      return this.claim({ ...base, action: 'patch', id: targetId, patch }, state);
    }

    if (method === 'DELETE') {
      authorize(resourceType, 'd');
      let targetId = id;
      if (!targetId) {
        const condition = query.replace(/^\?/, '');
        if (!condition) {
          throw httpError(400, 'invalid', 'DELETE on a resource type needs search parameters (conditional delete)');
        }
        const ids = await this.matchIds(resourceType, condition, state);
        if (ids.length > 1) {
          throw multipleMatches('conditional delete', resourceType, ids.length);
        }
        targetId = ids[0];
      }
      if (targetId && input.ifMatch && !this.exists(resourceType, targetId, state)) {
        throw httpError(412, 'conflict', `If-Match given but ${resourceType}/${targetId} does not exist`);
      }
      return this.claim({ ...base, action: 'delete', id: targetId }, state);
    }

    throw httpError(405, 'not-supported', `Method ${method} is not supported`);
  }

  private claim(plan: Plan, state: WorkState): Plan {
    if (plan.id) {
      const key = `${plan.resourceType}/${plan.id}`;
      const other = state.claimed.get(key);
      if (other !== undefined) {
        throw httpError(
          400,
          'invalid',
          `Bundle.entry[${other}] and Bundle.entry[${plan.index}] both act on ${key}; a transaction may touch a resource once`,
        );
      }
      state.claimed.set(key, plan.index);
    }
    return plan;
  }

  /** Registers the plan's identity (fullUrl) and the content it will store. */
  private record(plan: Plan, state: WorkState): void {
    if (!plan.id) {
      return;
    }
    const key = `${plan.resourceType}/${plan.id}`;
    if (plan.input.fullUrl && plan.action !== 'get') {
      state.identities.set(plan.input.fullUrl, key);
    }
    if (plan.action === 'delete') {
      state.deleted.add(key);
    } else if (plan.resource && (plan.action === 'create' || plan.action === 'update')) {
      plan.resource = { ...plan.resource, id: plan.id };
      state.written.set(key, plan.resource);
    }
  }

  /** Two entries of one transaction must not both create what one condition identifies. */
  private checkConditionalCreates(plans: Plan[], state: WorkState): void {
    for (const plan of plans) {
      if (!plan.condition || (plan.action !== 'create' && !plan.createsByUpdate)) {
        continue;
      }
      const search = parseSearchRequest(`${plan.resourceType}?${plan.condition}`);
      for (const [key, resource] of state.written) {
        if (key !== `${plan.resourceType}/${plan.id}` && matchesSearch(resource, search)) {
          throw httpError(
            400,
            'duplicate',
            `Bundle.entry[${plan.index}]: another entry of this transaction also creates or updates a ${plan.resourceType} matching its condition`,
          );
        }
      }
    }
  }

  /** Ids of current resources matching `Type?query`, minus those this unit deletes. */
  private async matchIds(resourceType: string, query: string, state: WorkState): Promise<string[]> {
    let search;
    try {
      search = parseSearchRequest(`${resourceType}?${query}`);
    } catch (err) {
      throw toHttpError(err);
    }
    if (!search.filters?.length) {
      throw httpError(400, 'invalid', `The condition on ${resourceType} has no usable search parameter`);
    }
    search.count = undefined;
    search.offset = undefined;
    // Only the ids are read: no copies.
    const bundle = await this.repo.shared.search(search);
    return (bundle.entry ?? [])
      .map((e) => e.resource?.id as string)
      .filter((id) => id && !state.deleted.has(`${resourceType}/${id}`));
  }

  private async singleMatch(resourceType: string, query: string, state: WorkState, what: string): Promise<string> {
    const condition = query.replace(/^\?/, '');
    if (!condition) {
      throw httpError(400, 'invalid', `${what} needs search parameters`);
    }
    const ids = await this.matchIds(resourceType, condition, state);
    if (ids.length > 1) {
      throw multipleMatches(what, resourceType, ids.length);
    }
    if (ids.length === 0) {
      throw httpError(404, 'not-found', `No ${resourceType} matches the ${what} condition`);
    }
    return ids[0];
  }

  private exists(resourceType: string, id: string, state: WorkState): boolean {
    const key = `${resourceType}/${id}`;
    return !state.deleted.has(key) && !!this.repo.peek(resourceType, id);
  }

  // ---------------------------------------------------------------------------------------------
  // References

  /**
   * Rewrites references in the bodies: fullUrls of this unit's entries → Type/id; conditional
   * references (`Type?params`, transaction and batch only) → the one resource that matches, among
   * current resources and those this unit writes. Zero matches → 400, several → 412.
   */
  private async resolveReferences(plans: Plan[], state: WorkState, mode: Mode): Promise<void> {
    for (const plan of plans) {
      const body: unknown = plan.resource ?? (Array.isArray(plan.patch) ? plan.patch : undefined);
      if (!body) {
        continue;
      }
      await atEntry(mode, plan.index, plan.input, () =>
        rewriteReferences(body, plan.resourceType, async (reference, path) => {
          const mapped = state.identities.get(reference);
          if (mapped) {
            return mapped;
          }
          if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
            throw httpError(
              400,
              'not-found',
              mode === 'single'
                ? `${path}: ${reference} can only be resolved inside a transaction Bundle`
                : `${path}: ${reference} matches no fullUrl of this Bundle`,
              [path],
            );
          }
          const conditional = parseConditionalReference(reference);
          if (!conditional) {
            return undefined;
          }
          if (mode === 'single') {
            throw httpError(
              400,
              'not-supported',
              `${path}: conditional references are resolved only inside transaction and batch Bundles`,
              [path],
            );
          }
          const known = state.resolvedConditionals.get(reference);
          if (known) {
            return known;
          }
          const resolved = await this.resolveConditionalReference(
            conditional.resourceType,
            conditional.query,
            state,
            path,
          );
          state.resolvedConditionals.set(reference, resolved);
          return resolved;
        }),
      );
    }
  }

  private async resolveConditionalReference(
    resourceType: string,
    query: string,
    state: WorkState,
    path: string,
  ): Promise<string> {
    if (!isResourceType(resourceType)) {
      throw httpError(400, 'invalid', `${path}: unknown resource type in conditional reference`, [path]);
    }
    let search;
    try {
      search = parseSearchRequest(`${resourceType}?${query}`);
    } catch (err) {
      throw toHttpError(err);
    }
    const keys = new Set<string>();
    for (const id of await this.matchIds(resourceType, query, state)) {
      const key = `${resourceType}/${id}`;
      const replaced = state.written.get(key);
      if (!replaced || matchesSearch(replaced, search)) {
        keys.add(key);
      }
    }
    for (const [key, resource] of state.written) {
      if (resource.resourceType === resourceType && matchesSearch(resource, search)) {
        keys.add(key);
      }
    }
    if (keys.size === 0) {
      throw httpError(400, 'not-found', `${path}: conditional reference to ${resourceType} matches no resource`, [
        path,
      ]);
    }
    if (keys.size > 1) {
      throw httpError(
        412,
        'multiple-matches',
        `${path}: conditional reference to ${resourceType} matches ${keys.size} resources`,
        [path],
      );
    }
    return [...keys][0];
  }

  /** Local references (`Type/id`, or absolute under this base) in written resources must resolve. */
  private checkIntegrity(plans: Plan[], state: WorkState, mode: Mode): void {
    if (!this.opts.referentialIntegrity) {
      return;
    }
    const base = this.opts.baseUrl() + '/';
    for (const plan of plans) {
      if (!plan.resource) {
        continue;
      }
      for (const { reference, path } of collectReferences(plan.resource, plan.resourceType)) {
        const local = parseLocalReference(reference.startsWith(base) ? reference.slice(base.length) : reference);
        if (!local) {
          continue;
        }
        const key = `${local.resourceType}/${local.id}`;
        if (state.written.has(key) || this.exists(local.resourceType, local.id, state)) {
          continue;
        }
        const e = httpError(400, 'not-found', `${path}: referenced resource ${key} does not exist`, [path]);
        throw mode === 'transaction' ? atEntryError(plan.index, plan.input, e) : e;
      }
    }
  }

  private async validateAll(plans: Plan[], mode: Mode): Promise<void> {
    for (const plan of plans) {
      if (plan.resource && (plan.action === 'create' || plan.action === 'update')) {
        await atEntry(mode, plan.index, plan.input, () => this.validateOne(plan.resource as Resource));
      }
    }
  }

  private async validateOne(resource: Resource): Promise<void> {
    if (!this.opts.validate) {
      return;
    }
    let outcome: OperationOutcome | undefined | void;
    try {
      outcome = await this.opts.validate(resource);
    } catch {
      throw httpError(500, 'exception', 'The validation hook failed');
    }
    if (outcome && hasErrors(outcome)) {
      throw new HttpError(422, { ...outcome, resourceType: 'OperationOutcome' });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Execution

  private async execute(plan: Plan): Promise<EntryResult> {
    const { repo } = this;
    const { resourceType, id } = plan;
    switch (plan.action) {
      case 'create': {
        const stored = await repo.createResource({ ...(plan.resource as Resource), id }, { assignedId: true });
        return stored2result(201, stored);
      }
      case 'update': {
        const stored = await repo.updateResource({ ...(plan.resource as Resource), id }, { ifMatch: plan.ifMatch });
        return stored2result(plan.createsByUpdate ? 201 : 200, stored);
      }
      case 'noop':
        return stored2result(200, await repo.shared.readResource(resourceType, id as string));
      case 'patch':
        return stored2result(200, await this.patch(plan));
      case 'delete':
        if (id && repo.peek(resourceType, id)) {
          await repo.deleteResource(resourceType, id, { ifMatch: plan.ifMatch });
        }
        return { status: 204 };
      case 'get': {
        const [outcome, resource] = await this.opts.router.handleRequest(
          {
            method: 'GET' as HttpMethod,
            url: plan.getUrl as string,
            pathname: '',
            body: undefined,
            params: {},
            query: {},
          },
          // The answer is only serialized: no copies (see SandboxRepository.shared).
          repo.shared,
        );
        if (!isOk(outcome)) {
          throw new HttpError(getStatus(outcome), stripOutcomeId(outcome));
        }
        return { status: 200, resource };
      }
    }
    throw httpError(500, 'exception', 'Unknown action');
  }

  /** Applies the patch on a scratch copy, validates the result, then writes it with If-Match. */
  private async patch(plan: Plan): Promise<Resource> {
    // Not changed here: the scratch repository below stores its own copy.
    const current = await this.repo.shared.readResource(plan.resourceType, plan.id as string);
    if (plan.ifMatch && current.meta?.versionId !== plan.ifMatch) {
      throw httpError(412, 'conflict', `Version mismatch: ${plan.resourceType}/${plan.id} has changed`);
    }
    const scratch = new MemoryRepository();
    await scratch.withSeeding(() => scratch.createResource(current));
    const patched = await scratch.patchResource(
      current.resourceType,
      plan.id as string,
      plan.patch as Operation[] | Parameters,
    );
    if (patched.resourceType !== plan.resourceType || patched.id !== plan.id) {
      throw httpError(400, 'invalid', 'A patch may not change resourceType or id');
    }
    await this.validateOne(patched);
    return this.repo.updateResource(patched, { ifMatch: current.meta?.versionId });
  }
}

// -----------------------------------------------------------------------------------------------
// Helpers

function stored2result(status: number, resource: Resource): EntryResult {
  const versionId = resource.meta?.versionId;
  return {
    status,
    resource,
    versionId,
    lastModified: resource.meta?.lastUpdated,
    location: `${resource.resourceType}/${resource.id}${versionId ? `/_history/${versionId}` : ''}`,
  };
}

function responseEntry(r: EntryResult, baseUrl: string): BundleEntry {
  const response: BundleEntry['response'] = { status: STATUS_TEXT[r.status] ?? String(r.status) };
  if (r.location) {
    response.location = r.location;
  }
  if (r.versionId) {
    response.etag = `W/"${r.versionId}"`;
  }
  if (r.lastModified) {
    response.lastModified = r.lastModified;
  }
  const entry: BundleEntry = { response };
  if (r.resource) {
    entry.resource = r.resource;
    if (r.resource.id && r.resource.resourceType !== 'Bundle') {
      entry.fullUrl = `${baseUrl}/${r.resource.resourceType}/${r.resource.id}`;
    }
  }
  return entry;
}

/** Splits a request URL into path segments and the query string (with its leading '?', or ''). */
function splitUrl(url: string, baseUrl: string): { segments: string[]; query: string } {
  let rel = url;
  if (rel.startsWith(baseUrl + '/')) {
    rel = rel.slice(baseUrl.length + 1);
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(rel)) {
    throw httpError(400, 'not-supported', 'Absolute request URLs must be under this server’s base');
  }
  const q = rel.indexOf('?');
  const path = q >= 0 ? rel.slice(0, q) : rel;
  const query = q >= 0 ? rel.slice(q) : '';
  let segments: string[];
  try {
    segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw httpError(400, 'invalid', 'Malformed request URL');
  }
  return { segments, query };
}

function requireResource(input: EntryInput, resourceType: string): Resource {
  const resource = input.resource;
  if (!resource || typeof resource !== 'object') {
    throw httpError(400, 'required', `${input.method} needs a ${resourceType} resource`);
  }
  if (resource.resourceType !== resourceType) {
    throw httpError(
      400,
      'invalid',
      `Resource type "${String(resource.resourceType)}" does not match the URL's "${resourceType}"`,
    );
  }
  // Not copied: it is the engine's own (see EntryInput.resource), and what is stored is a copy anyway.
  return resource;
}

/**
 * A resource created by a conditional create/update must itself match the condition (as HAPI
 * checks); otherwise every retry would create one more copy (e.g. an identifier encoded
 * differently in the URL than in the resource).
 */
function checkMatchesCondition(resource: Resource, condition: string, what: string): void {
  if (!matchesSearch(resource, parseSearchRequest(`${resource.resourceType}?${condition}`))) {
    throw httpError(
      400,
      'processing',
      `The ${resource.resourceType} does not match its ${what}: sending it again would create another copy`,
    );
  }
}

function multipleMatches(what: string, resourceType: string, count: number): HttpError {
  return httpError(412, 'multiple-matches', `The ${what} condition matches ${count} ${resourceType} resources`);
}

/** A Bundle entry → EntryInput, with structural checks. */
function entryInput(entry: BundleEntry, index: number): EntryInput {
  const request = entry?.request;
  if (!request?.method || !request.url) {
    throw httpError(400, 'required', `Bundle.entry[${index}].request needs method and url`, [
      `Bundle.entry[${index}].request`,
    ]);
  }
  const method = String(request.method).toUpperCase();
  if (!METHODS.includes(method)) {
    throw httpError(400, 'not-supported', `Bundle.entry[${index}]: method ${method} is not supported`);
  }
  const input: EntryInput = { method, url: request.url, fullUrl: entry.fullUrl };
  if (request.ifMatch) {
    input.ifMatch = parseETag(request.ifMatch);
  }
  if (request.ifNoneExist) {
    input.ifNoneExist = request.ifNoneExist.replace(/^[A-Za-z]+\?/, '');
  }
  if (method === 'PATCH') {
    input.patch = patchFromEntryResource(entry.resource, index);
  } else if (entry.resource) {
    input.resource = entry.resource;
  }
  return input;
}

/** In a Bundle, a JSON Patch travels as a Binary (base64 data); a FHIRPath Patch as Parameters. */
function patchFromEntryResource(resource: Resource | undefined, index: number): Operation[] | Parameters {
  if (resource?.resourceType === 'Parameters') {
    return resource;
  }
  if (resource?.resourceType === 'Binary' && resource.data) {
    try {
      const ops = JSON.parse(Buffer.from(resource.data, 'base64').toString('utf8'));
      if (Array.isArray(ops)) {
        return ops as Operation[];
      }
    } catch {
      // fall through
    }
  }
  throw httpError(
    400,
    'invalid',
    `Bundle.entry[${index}]: a PATCH entry needs a Binary (JSON Patch, base64) or a Parameters resource`,
  );
}

/** `W/"3"` or `"3"` or `3` → `3`. */
export function parseETag(value: string): string {
  const m = /"([^"]+)"/.exec(value);
  return m ? m[1] : value.replace(/^W\//, '').trim();
}

/** Runs fn; in a transaction, marks its error with the entry it came from. */
async function atEntry<T>(mode: Mode, index: number, input: EntryInput, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mode === 'transaction' ? atEntryError(index, input, toHttpError(err)) : err;
  }
}

function atEntrySync<T>(index: number, input: EntryInput, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw atEntryError(index, input, toHttpError(err));
  }
}

/** Adds "at Bundle.entry[i] (METHOD Type)" once; no query string (it may hold identifiers). */
function atEntryError(index: number, input: EntryInput, e: HttpError): HttpError {
  const marker = `Bundle.entry[${index}]`;
  if (e.outcome.issue?.some((i) => i.diagnostics?.includes(marker))) {
    return e;
  }
  const type = input.url.split(/[/?]/)[0];
  const outcome = makeOutcome('informational', `at ${marker} (${input.method} ${type})`, 'information');
  e.outcome.issue = [...(e.outcome.issue ?? []), ...(outcome.issue ?? [])];
  return e;
}
