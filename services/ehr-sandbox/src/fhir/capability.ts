import { getResourceTypes, globalSchema } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRest,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
} from '@medplum/fhirtypes';

export interface CapabilityInput {
  baseUrl: string;
  tokenUrl: string;
  auth: 'smart' | 'off';
  transactions: boolean;
  /** Server start, as the statement's date. */
  date: string;
}

const SEARCH_PARAM_TYPES = new Set([
  'number',
  'date',
  'string',
  'token',
  'reference',
  'composite',
  'quantity',
  'uri',
  'special',
]);

/** Per-type search parameters, computed once (they do not change at run time). */
let resourcesCache: CapabilityStatementRestResource[] | undefined;

function resources(): CapabilityStatementRestResource[] {
  if (resourcesCache) {
    return resourcesCache;
  }
  resourcesCache = getResourceTypes()
    .filter(
      (t) =>
        t !== 'Binary' &&
        t !== 'Parameters' &&
        t !== 'OperationOutcome' &&
        t !== 'Bundle' &&
        !t.startsWith('DomainResource'),
    )
    .sort()
    .map((type): CapabilityStatementRestResource => {
      const params = globalSchema.types[type]?.searchParams ?? {};
      const searchParam: CapabilityStatementRestResourceSearchParam[] = Object.entries(params)
        .filter(([code, sp]) => !code.startsWith('_') && SEARCH_PARAM_TYPES.has(sp.type as string))
        .map(([code, sp]) => ({
          name: code,
          type: sp.type as CapabilityStatementRestResourceSearchParam['type'],
          ...(sp.url ? { definition: sp.url } : {}),
        }))
        .sort((a, b) => (a.name < b.name ? -1 : 1));
      return {
        type,
        interaction: [
          { code: 'read' },
          { code: 'vread' },
          { code: 'update' },
          { code: 'patch' },
          { code: 'delete' },
          { code: 'history-instance' },
          { code: 'create' },
          { code: 'search-type' },
        ],
        versioning: 'versioned-update',
        readHistory: true,
        updateCreate: true,
        conditionalCreate: true,
        conditionalRead: 'not-supported',
        conditionalUpdate: true,
        conditionalDelete: 'single',
        referencePolicy: ['literal', 'logical', 'local'],
        searchParam,
      } as CapabilityStatementRestResource;
    });
  return resourcesCache;
}

/** A CapabilityStatement that says what this server does (and no more). */
export function capabilityStatement(input: CapabilityInput): CapabilityStatement {
  const rest: CapabilityStatementRest = {
    mode: 'server',
    documentation:
      'marrowbridge ehr-sandbox: in-memory FHIR R4 server for tests and the demo. No type- or system-level history, no system-level search.',
    resource: resources(),
    interaction: input.transactions ? [{ code: 'transaction' }, { code: 'batch' }] : [{ code: 'batch' }],
  };
  if (input.auth === 'smart') {
    rest.security = {
      cors: false,
      service: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
          text: 'SMART Backend Services (client_credentials, private_key_jwt with RS384 or ES384)',
        },
      ],
      extension: [
        {
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'token', valueUri: input.tokenUrl }],
        },
      ],
    };
  }
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.date,
    kind: 'instance',
    software: { name: 'marrowbridge ehr-sandbox' },
    implementation: { description: 'marrowbridge ehr-sandbox', url: input.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json', 'application/fhir+json'],
    rest: [rest],
  };
}

/** SMART configuration (/.well-known/smart-configuration) for backend services. */
export function smartConfiguration(tokenUrl: string): Record<string, unknown> {
  return {
    token_endpoint: tokenUrl,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    scopes_supported: ['system/*.read', 'system/*.write', 'system/*.*', 'system/*.cruds'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
