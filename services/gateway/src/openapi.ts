/**
 * The OpenAPI 3.1 description of the gateway (GET /openapi.json). A test walks the express router and checks
 * that every route is described here, and that nothing described here is missing from the router.
 */
import { SCOPES } from './auth';

type Json = Record<string, unknown>;

const outcomeRef = { $ref: '#/components/schemas/OperationOutcome' };
const fhirOutcome = (description: string): Json => ({
  description,
  content: { 'application/fhir+json': { schema: outcomeRef } },
});
const jsonBody = (ref: string, description: string): Json => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } },
});

/** The answers every authenticated route can give. */
const AUTH_ERRORS: Json = {
  '401': fhirOutcome('No bearer token, or it is expired, malformed or wrongly signed'),
  '403': fhirOutcome('The token lacks the scope this operation needs'),
};

const secured = (scope: string): Json => ({ security: [{ bearerJwt: [scope] }] });

const HL7_CONTENT = {
  'application/hl7-v2': { schema: { type: 'string' } },
  'x-application/hl7-v2+er7': { schema: { type: 'string' } },
  'text/plain': { schema: { type: 'string' } },
};

function intakeJson(kind: 'order' | 'result'): Json {
  const what = kind === 'order' ? 'a bone marrow aspiration order (BmaOrder)' : 'a result update (ResultUpdate)';
  return {
    tags: ['intake'],
    summary: `Queue ${what}`,
    description:
      `Canonical JSON (${kind === 'order' ? '"kind": "order"' : '"kind": "result"'}) is checked against its JSON Schema ` +
      'and rules, mapped to a FHIR transaction Bundle and queued for delivery. 202 only after the delivery job is ' +
      'durably in Redis. A re-sent document (same sender, message id and content) gets 202 with the same tracking id ' +
      'and status "already-queued"; nothing is queued twice. Rejected input is not queued.',
    operationId: kind === 'order' ? 'postOrder' : 'postResult',
    ...secured(SCOPES.intake),
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { type: 'object', required: ['kind'] } } },
    },
    responses: {
      '202': {
        ...jsonBody('IntakeAccepted', 'Queued (or already queued); Location and X-Tracking-Id give the tracking id'),
        headers: {
          Location: { schema: { type: 'string' }, description: '/orders/{trackingId}' },
          'X-Tracking-Id': { schema: { type: 'string' } },
        },
      },
      '400': fhirOutcome('The body is not a JSON object (or is HL7 v2: use POST /hl7)'),
      ...AUTH_ERRORS,
      '413': fhirOutcome('The body exceeds GATEWAY_JSON_LIMIT'),
      '415': fhirOutcome('Content-Type is not application/json'),
      '422': fhirOutcome('Schema or rule violations (what, where, how to fix), or the wrong kind for this endpoint'),
      '503': fhirOutcome('Redis did not take the job in time; nothing was acknowledged, send it again'),
    },
  };
}

export function buildOpenApi(publicUrl: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'marrowbridge gateway',
      version: '0.1.0',
      summary: 'Bone marrow aspiration orders and results into the EHR as FHIR R4',
      description:
        'Intake of canonical JSON and HL7 v2, order tracking, FHIR-style validation and dry runs, and operations. ' +
        'Every route but /healthz and /readyz needs `Authorization: Bearer <JWT>`; the token must carry the scope ' +
        `listed on the operation in its \`scope\` (space-separated) or \`scp\` claim: \`${SCOPES.intake}\` (intake), ` +
        `\`${SCOPES.read}\` (tracking, $validate, $translate, profiles, metadata, metrics, this document), ` +
        `\`${SCOPES.admin}\` (dead letters, queue dashboard). Every error answer is a FHIR OperationOutcome; every ` +
        'answer carries X-Request-Id (the incoming one when it is a plain token, else a new UUID).',
    },
    servers: [{ url: publicUrl }],
    tags: [
      { name: 'intake', description: 'Orders and results in' },
      { name: 'tracking', description: 'Where an order stands' },
      { name: 'fhir', description: 'FHIR-style operations for integration engineers' },
      { name: 'operations', description: 'Health, metrics, dead letters, dashboard' },
    ],
    paths: {
      '/orders': { post: intakeJson('order') },
      '/results': { post: intakeJson('result') },
      '/hl7': {
        post: {
          tags: ['intake'],
          summary: 'Queue HL7 v2 (OML^O21, ORM^O01, ORU^R01) sent over HTTP; answered with the ACK',
          description:
            'One message or a batch (FHS/BHS). The answer is one ACK per message (separated by CR), in the content ' +
            'type family of the request. AA only after the delivery jobs are in Redis (MSA-3 names the tracking id); ' +
            'AE / AR with one ERR per problem otherwise, and nothing is queued for that message. A re-sent message ' +
            '(same MSH-3/4, MSH-10 and content) is acknowledged AA again with the same tracking id, and not queued twice. ' +
            'The HTTP status is the worst of the messages: 202 all accepted, 422 an AE, 400 an AR, 503 Redis unavailable ' +
            '(AR with ERR 207: send again).',
          operationId: 'postHl7',
          ...secured(SCOPES.intake),
          requestBody: { required: true, content: HL7_CONTENT },
          responses: {
            '202': {
              description: 'ACK with MSA-1 AA',
              headers: { 'X-Tracking-Id': { schema: { type: 'string' }, description: 'comma-separated tracking ids' } },
              content: HL7_CONTENT,
            },
            '400': { description: 'ACK AR (unreadable message, unsupported type or version)', content: HL7_CONTENT },
            ...AUTH_ERRORS,
            '413': fhirOutcome('The body exceeds GATEWAY_HL7_LIMIT'),
            '415': fhirOutcome('Content-Type is not an HL7 v2 type'),
            '422': { description: 'ACK AE with ERR segments', content: HL7_CONTENT },
            '503': { description: 'ACK AR with ERR 207: the message could not be queued now', content: HL7_CONTENT },
          },
        },
      },
      '/orders/{id}': {
        get: {
          tags: ['tracking'],
          summary: "An order's resources in the EHR, its reports' status and the history of its updates",
          operationId: 'getOrderStatus',
          ...secured(SCOPES.read),
          parameters: [
            {
              name: 'id',
              in: 'path',
              required: true,
              description: 'A tracking id (trk-…), a placer order number, or system|value of a placer order number',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': jsonBody('OrderStatus', 'The order'),
            '300': fhirOutcome('Several orders have this placer number: ask again with system|value'),
            ...AUTH_ERRORS,
            '404': fhirOutcome('Unknown id'),
          },
        },
      },
      '/fhir/{type}/$validate': {
        post: validateOperation('type'),
      },
      '/fhir/Bundle/$validate': {
        post: validateOperation('Bundle'),
      },
      '/$translate': {
        post: {
          tags: ['fhir'],
          summary: 'Dry run: the FHIR Bundles of canonical JSON or HL7 v2 and their validation; nothing is queued',
          description:
            'With ?diff=true the EHR is read (never written) and each Bundle entry says whether a push would create ' +
            'it, update it (with the RFC 6902 JSON Patch from the EHR copy) or leave it unchanged; for a result, ' +
            'what the report precedence check would decide. If the EHR cannot be read, diff.outcome says why.',
          operationId: 'translate',
          ...secured(SCOPES.read),
          parameters: [
            {
              name: 'diff',
              in: 'query',
              required: false,
              schema: { type: 'boolean' },
              description: 'also read the EHR',
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { type: 'object' } }, ...HL7_CONTENT },
          },
          responses: {
            '200': jsonBody('TranslateResult', 'One entry per message (an HL7 batch has several)'),
            '400': fhirOutcome('Neither canonical JSON nor HL7 v2'),
            ...AUTH_ERRORS,
            '413': fhirOutcome('Too large'),
            '415': fhirOutcome('Unsupported Content-Type'),
            '422': fhirOutcome('No message of the input translates'),
          },
        },
      },
      '/fhir/metadata': {
        get: {
          tags: ['fhir'],
          summary: 'CapabilityStatement of the FHIR-style endpoints',
          operationId: 'metadata',
          ...secured(SCOPES.read),
          responses: {
            '200': {
              description: 'CapabilityStatement',
              content: { 'application/fhir+json': { schema: { type: 'object' } } },
            },
            ...AUTH_ERRORS,
          },
        },
      },
      '/fhir/StructureDefinition': {
        get: {
          tags: ['fhir'],
          summary: 'The compiled profiles and extensions (searchset Bundle)',
          operationId: 'searchStructureDefinitions',
          ...secured(SCOPES.read),
          parameters: [{ name: 'url', in: 'query', required: false, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'searchset Bundle',
              content: { 'application/fhir+json': { schema: { type: 'object' } } },
            },
            ...AUTH_ERRORS,
          },
        },
      },
      '/fhir/StructureDefinition/{id}': {
        get: {
          tags: ['fhir'],
          summary: 'One compiled profile or extension, with its snapshot',
          operationId: 'readStructureDefinition',
          ...secured(SCOPES.read),
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' }, example: 'bma-procedure' },
          ],
          responses: {
            '200': {
              description: 'StructureDefinition',
              content: { 'application/fhir+json': { schema: { type: 'object' } } },
            },
            ...AUTH_ERRORS,
            '404': fhirOutcome('Unknown id'),
          },
        },
      },
      '/admin/dead-letters': {
        get: {
          tags: ['operations'],
          summary: 'Dead-lettered deliveries (without their payloads), oldest first',
          operationId: 'listDeadLetters',
          ...secured(SCOPES.admin),
          responses: { '200': jsonBody('DeadLetterList', 'The entries'), ...AUTH_ERRORS },
        },
      },
      '/admin/dead-letters/{id}': {
        get: {
          tags: ['operations'],
          summary: 'One dead letter: the exact payload, the last OperationOutcome and every attempt',
          operationId: 'getDeadLetter',
          ...secured(SCOPES.admin),
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'The entry', content: { 'application/json': { schema: { type: 'object' } } } },
            ...AUTH_ERRORS,
            '404': fhirOutcome('Unknown id'),
          },
        },
      },
      '/admin/dead-letters/{id}/replay': {
        post: {
          tags: ['operations'],
          summary: 'Translate the kept input again with the current code and queue it as a new job',
          operationId: 'replayDeadLetter',
          ...secured(SCOPES.admin),
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '202': jsonBody('ReplayAccepted', 'Queued again; the entry is removed'),
            ...AUTH_ERRORS,
            '404': fhirOutcome('Unknown id'),
            '422': fhirOutcome('The kept input no longer translates; the entry stays'),
          },
        },
      },
      '/admin/queues': {
        get: {
          tags: ['operations'],
          summary: 'Queue dashboard (bull-board); its pages and API live below this path',
          operationId: 'queueDashboard',
          ...secured(SCOPES.admin),
          responses: {
            '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } },
            ...AUTH_ERRORS,
          },
        },
      },
      '/healthz': {
        get: {
          tags: ['operations'],
          summary: 'Liveness: the process answers (no authentication)',
          operationId: 'healthz',
          security: [],
          responses: { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
      '/readyz': {
        get: {
          tags: ['operations'],
          summary: 'Readiness: Redis answers PING and the EHR answers GET metadata (no authentication)',
          operationId: 'readyz',
          security: [],
          responses: {
            '200': {
              description: 'ready, with the time of each check',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
            '503': fhirOutcome('A dependency is not reachable (one issue per check)'),
          },
        },
      },
      '/metrics': {
        get: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          description:
            'marrowbridge_jobs{queue,state}, marrowbridge_queue_depth{queue}, marrowbridge_delivery_latency_seconds' +
            '{queue,outcome} (intake to EHR 2xx), marrowbridge_deliveries_total{queue,outcome}, ' +
            'marrowbridge_ehr_delivery_attempts_total{queue,status}, marrowbridge_validation_duration_seconds{operation}, ' +
            'marrowbridge_intake_messages_total{channel,result}, marrowbridge_http_request_duration_seconds' +
            '{method,route,status}, and process metrics prefixed marrowbridge_gateway_.',
          operationId: 'metrics',
          ...secured(SCOPES.read),
          responses: {
            '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
            ...AUTH_ERRORS,
          },
        },
      },
      '/openapi.json': {
        get: {
          tags: ['operations'],
          summary: 'This document',
          operationId: 'openapi',
          ...secured(SCOPES.read),
          responses: {
            '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
            ...AUTH_ERRORS,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerJwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A JWT signed with a key of GATEWAY_JWKS_URL (or GATEWAY_JWT_PUBLIC_KEY), with iss/aud as configured. ' +
            `Scopes (in \`scope\` or \`scp\`): ${Object.values(SCOPES).join(', ')}.`,
        },
      },
      schemas: {
        OperationOutcome: {
          type: 'object',
          required: ['resourceType', 'issue'],
          properties: {
            resourceType: { const: 'OperationOutcome' },
            issue: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  severity: { enum: ['fatal', 'error', 'warning', 'information'] },
                  code: { type: 'string' },
                  details: { type: 'object', properties: { text: { type: 'string' } } },
                  diagnostics: { type: 'string' },
                  expression: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
        IntakeAccepted: {
          type: 'object',
          required: ['trackingId', 'status', 'jobs'],
          properties: {
            trackingId: { type: 'string', examples: ['trk-3f2a9c0d1e5b7a6c4d8e9f01'] },
            status: { enum: ['queued', 'already-queued'] },
            jobs: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  jobId: { type: 'string' },
                  kind: { enum: ['order', 'result'] },
                  created: { type: 'boolean' },
                },
              },
            },
            links: { type: 'object', properties: { status: { type: 'string' } } },
          },
        },
        OrderStatus: {
          type: 'object',
          properties: {
            orderKey: { type: 'string', description: 'placer system|value' },
            placerOrderNumber: {
              type: 'object',
              properties: { system: { type: 'string' }, value: { type: 'string' } },
            },
            resources: {
              type: 'object',
              additionalProperties: { type: 'array', items: { type: 'string' } },
              description: 'Type → [Type/id] in the EHR',
            },
            reports: { type: 'object', additionalProperties: { type: 'string' }, description: 'report code → status' },
            updates: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  trackingId: { type: 'string' },
                  jobId: { type: 'string' },
                  kind: { enum: ['order', 'result'] },
                  reportCode: { type: 'string' },
                  status: { type: 'string' },
                  outcome: {
                    enum: [
                      'queued',
                      'retrying',
                      'delivered',
                      'unchanged',
                      'superseded',
                      'review',
                      'dead-lettered',
                      'replayed',
                    ],
                  },
                  detail: { type: 'string' },
                  queuedAt: { type: 'string', format: 'date-time' },
                  updatedAt: { type: 'string', format: 'date-time' },
                },
              },
            },
            history: { type: 'array', items: { type: 'object' } },
          },
        },
        TranslateResult: {
          type: 'object',
          properties: {
            dryRun: { const: true },
            messages: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  index: { type: 'integer' },
                  ok: { type: 'boolean' },
                  format: { enum: ['json', 'hl7v2'] },
                  messageId: { type: 'string' },
                  messageType: { type: 'string' },
                  outcome: outcomeRef,
                  items: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        kind: { enum: ['order', 'result'] },
                        bundle: { type: 'object', description: 'FHIR transaction Bundle' },
                        valid: { type: 'boolean' },
                        outcome: outcomeRef,
                        diff: {
                          type: 'object',
                          properties: {
                            precedence: {
                              type: 'object',
                              properties: {
                                action: { enum: ['apply', 'superseded', 'duplicate', 'review'] },
                                reason: { type: 'string' },
                              },
                            },
                            entries: {
                              type: 'array',
                              items: {
                                type: 'object',
                                properties: {
                                  fullUrl: { type: 'string' },
                                  resourceType: { type: 'string' },
                                  action: { enum: ['create', 'update', 'unchanged', 'kept'] },
                                  reference: { type: 'string' },
                                  versionId: { type: 'string' },
                                  patch: { type: 'array', items: { type: 'object' } },
                                  note: { type: 'string', description: "kept: why the EHR's copy stays" },
                                },
                              },
                            },
                            outcome: outcomeRef,
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        DeadLetterList: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            entries: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  queue: { type: 'string' },
                  jobId: { type: 'string' },
                  trackingId: { type: 'string' },
                  orderKey: { type: 'string' },
                  kind: { enum: ['order', 'result'] },
                  failedAt: { type: 'string', format: 'date-time' },
                  reason: { type: 'string' },
                  lastHttpStatus: { type: 'integer' },
                  attempts: { type: 'integer' },
                },
              },
            },
          },
        },
        ReplayAccepted: {
          type: 'object',
          properties: {
            replayed: { type: 'string' },
            trackingId: { type: 'string' },
            jobId: { type: 'string' },
            queue: { type: 'string' },
          },
        },
      },
    },
  };
}

function validateOperation(type: 'type' | 'Bundle'): Json {
  const bundle = type === 'Bundle';
  return {
    tags: ['fhir'],
    summary: bundle
      ? 'Validate a Bundle and every entry in it'
      : 'Validate a resource against base FHIR R4 and, when given, a profile',
    description:
      'The body is a bare resource, or a Parameters with `resource` and optional `profile` (valueCanonical/valueUri), ' +
      'as HAPI and Medplum accept; ?profile= also works. The answer is an OperationOutcome with 200 whether or not ' +
      'the resource is valid (an information issue "All OK" when there is nothing to say); 400 when validation could ' +
      'not run (not JSON, no resource, a resource of another type than the path says).',
    operationId: bundle ? 'validateBundle' : 'validateResource',
    ...secured(SCOPES.read),
    parameters: [
      ...(bundle
        ? []
        : [{ name: 'type', in: 'path', required: true, schema: { type: 'string' }, example: 'Procedure' }]),
      { name: 'profile', in: 'query', required: false, schema: { type: 'string' } },
    ],
    requestBody: {
      required: true,
      content: {
        'application/fhir+json': { schema: { type: 'object' } },
        'application/json': { schema: { type: 'object' } },
      },
    },
    responses: {
      '200': fhirOutcome('The validation outcome'),
      '400': fhirOutcome('Validation could not run'),
      ...AUTH_ERRORS,
      '413': fhirOutcome('Too large'),
      '415': fhirOutcome('Unsupported Content-Type'),
    },
  };
}
