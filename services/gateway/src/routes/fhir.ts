/**
 * FHIR-style endpoints for integration engineers: $validate (as HAPI and Medplum answer it), the
 * CapabilityStatement, and the project's compiled profiles.
 */
import type { Bundle, OperationOutcome, Parameters, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { Router, type Request, type Response } from 'express';
import { requireScope, SCOPES } from '../auth';
import { capabilityStatement } from '../capability';
import { bodyOf, JSON_TYPES, rawBody, requireContentType } from '../http';
import { HttpError, sendFhir } from '../outcome';
import type { AppDeps } from '../app';

export function fhirRoutes(deps: AppDeps): Router {
  const router = Router();
  const read = requireScope(deps.authenticator, SCOPES.read);
  const body = [requireContentType(JSON_TYPES), rawBody(deps.config.jsonLimitBytes)];
  const byId = new Map(deps.profiles.map((sd) => [sd.id, sd]));

  const validateHandler = (req: Request, res: Response) => {
    const type = String(req.params.type ?? 'Bundle');
    const parsed = parseJson(bodyOf(req));
    if (!parsed.ok) throw new HttpError(400, parsed.outcome);
    const { resource, profiles } = unwrapParameters(parsed.value, req);
    if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
      throw new HttpError(
        400,
        'the body must be a FHIR resource, or a Parameters resource with a "resource" parameter',
        'structure',
      );
    }
    const given = (resource as { resourceType?: unknown }).resourceType;
    if (given !== type) {
      throw new HttpError(
        400,
        `the resource is a ${typeof given === 'string' ? given : '(no resourceType)'}, but this is the $validate of ${type}`,
        'invalid',
      );
    }
    const result = deps.metrics.timeValidation('$validate', () =>
      deps.validator.validate(resource as Resource | Bundle, profiles.length ? { profiles } : undefined),
    );
    req.log.info(
      { operation: '$validate', resourceType: type, issues: result.issue?.length ?? 0, profiles: profiles.length },
      'validated',
    );
    // As the FHIR spec says: 200 whether or not the resource is valid; 4xx only when validation could not run.
    sendFhir(res, 200, allOk(result));
  };

  router.post('/fhir/Bundle/$validate', read, ...body, validateHandler);
  router.post('/fhir/:type/$validate', read, ...body, validateHandler);

  router.get('/fhir/metadata', read, (_req, res) => {
    sendFhir(res, 200, capabilityStatement(deps.publicUrl, deps.profiles));
  });

  router.get('/fhir/StructureDefinition', read, (req, res) => {
    const url = typeof req.query.url === 'string' ? req.query.url : undefined;
    const matches = deps.profiles.filter((sd) => !url || sd.url === url);
    const bundle: Bundle<StructureDefinition> = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      entry: matches.map((sd) => ({
        fullUrl: `${deps.publicUrl}/fhir/StructureDefinition/${sd.id}`,
        resource: sd,
        search: { mode: 'match' },
      })),
    };
    sendFhir(res, 200, bundle);
  });

  router.get('/fhir/StructureDefinition/:id', read, (req, res) => {
    const sd = byId.get(String(req.params.id));
    if (!sd)
      throw new HttpError(404, `no StructureDefinition with id ${String(req.params.id).slice(0, 80)}`, 'not-found');
    sendFhir(res, 200, sd);
  });

  return router;
}

function parseJson(buf: Buffer): { ok: true; value: unknown } | { ok: false; outcome: OperationOutcome } {
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    // The parser's message can quote the body; it goes only to the sender.
    return {
      ok: false,
      outcome: {
        resourceType: 'OperationOutcome',
        issue: [
          {
            severity: 'fatal',
            code: 'structure',
            details: { text: `the body is not valid JSON: ${err instanceof Error ? err.message : 'parse error'}` },
          },
        ],
      },
    };
  }
}

/**
 * A bare resource, or a Parameters with `resource` (and optional `profile`, as HAPI and Medplum accept).
 * `?profile=` in the query adds a profile too.
 */
function unwrapParameters(value: unknown, req: Request): { resource: unknown; profiles: string[] } {
  const profiles: string[] = [];
  const q = req.query.profile;
  for (const p of Array.isArray(q) ? q : q === undefined ? [] : [q]) if (typeof p === 'string' && p) profiles.push(p);
  const v = value as { resourceType?: string };
  if (v && v.resourceType === 'Parameters' && req.params.type !== 'Parameters') {
    const params = (value as Parameters).parameter ?? [];
    const resource = params.find((p) => p.name === 'resource')?.resource;
    for (const p of params.filter((x) => x.name === 'profile')) {
      const url = p.valueCanonical ?? p.valueUri ?? p.valueString ?? p.valueUrl;
      if (url) profiles.push(url);
    }
    return { resource, profiles };
  }
  return { resource: value, profiles };
}

/** An empty outcome gets the information issue HAPI and Medplum send, so the answer is never issue-less. */
function allOk(o: OperationOutcome): OperationOutcome {
  if ((o.issue ?? []).length > 0) return o;
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK: no issues found' } }],
  };
}
