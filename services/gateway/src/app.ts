/** The express application, built from its dependencies so tests can make one without listening. */
import type { EhrClient } from '@marrowbridge/ehr-client';
import type { IntakeOptions } from '@marrowbridge/intake';
import type { DeliveryQueues } from '@marrowbridge/queue';
import type { Validator } from '@marrowbridge/validation';
import type { StructureDefinition } from '@medplum/fhirtypes';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import type { Authenticator } from './auth';
import type { GatewayConfig } from './config';
import { errorHandler, notFound } from './http';
import { IntakeService } from './intake-service';
import { httpLogger } from './logging';
import type { GatewayMetrics } from './metrics';
import { adminRoutes } from './routes/admin';
import { fhirRoutes } from './routes/fhir';
import { intakeRoutes } from './routes/intake';
import { opsRoutes } from './routes/ops';
import { trackingRoutes } from './routes/tracking';
import { translateRoutes } from './routes/translate';
import { securityHeaders } from './security-headers';

export interface GatewayDeps {
  config: GatewayConfig;
  queues: DeliveryQueues;
  ehr: EhrClient;
  validator: Validator;
  log: Logger;
  metrics: GatewayMetrics;
  /** Undefined when GATEWAY_AUTH=off. */
  authenticator: Authenticator | undefined;
  /** The compiled profiles served under /fhir/StructureDefinition. */
  profiles: StructureDefinition[];
  /** Base URL clients use (OpenAPI servers, CapabilityStatement). */
  publicUrl: string;
}

export interface AppDeps extends GatewayDeps {
  intake: IntakeService;
  intakeOptions: IntakeOptions;
}

export function intakeOptionsOf(config: GatewayConfig): IntakeOptions {
  return {
    hl7: { timeZone: config.hl7TimeZone },
    maxBytes: Math.max(config.jsonLimitBytes, config.hl7LimitBytes),
  };
}

export function createGatewayApp(deps: GatewayDeps, intake?: IntakeService): Express {
  const intakeOptions = intakeOptionsOf(deps.config);
  const all: AppDeps = {
    ...deps,
    intakeOptions,
    intake:
      intake ??
      new IntakeService({
        queues: deps.queues,
        metrics: deps.metrics,
        intake: intakeOptions,
        enqueueTimeoutMs: deps.config.enqueueTimeoutMs,
      }),
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(
    httpLogger(deps.log, (method, route, status, seconds) => deps.metrics.observeHttp(method, route, status, seconds)),
  );
  app.use(securityHeaders());

  app.use(opsRoutes(all));
  app.use(intakeRoutes(all));
  app.use(trackingRoutes(all));
  app.use(fhirRoutes(all));
  app.use(translateRoutes(all));
  app.use(adminRoutes(all));
  app.use(notFound());
  app.use(errorHandler());
  return app;
}
