export { createGatewayApp, intakeOptionsOf, type AppDeps, type GatewayDeps } from './app';
export {
  createAuthenticator,
  requireScope,
  scopesOf,
  SCOPES,
  type Authenticator,
  type Principal,
  type Scope,
} from './auth';
export { capabilityStatement } from './capability';
export { byteSize, GATEWAY_SETTINGS, loadGatewayConfig, type GatewayConfig } from './config';
export {
  IntakeService,
  statusForRejection,
  type Hl7Answer,
  type Hl7MessageAnswer,
  type IntakeServiceOptions,
  type JsonAccepted,
} from './intake-service';
export { createLogger, httpLogger } from './logging';
export { createMetrics, type GatewayMetrics, type IntakeResult } from './metrics';
export { buildOpenApi } from './openapi';
export { HttpError, outcome } from './outcome';
export { summarize as summarizeTracking, type OrderStatus, type UpdateSummary } from './routes/tracking';
export { DASHBOARD_PATH, summarizeDeadLetter, type DeadLetterSummary } from './routes/admin';
export {
  startGateway,
  type GatewayOverrides,
  type HostedListener,
  type MllpHostContext,
  type MllpListenerStarter,
  type RunningGateway,
} from './server';
export { loadMllpConfig, mllpListener, MLLP_SETTINGS, type MllpConfig } from './mllp';
