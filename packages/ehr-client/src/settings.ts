/**
 * The EHR connection settings of every process that talks to the EHR (sync-worker writes, gateway reads),
 * and the one way to build a client from them.
 */
import { httpUrl, int, keyText, list, optional, spec, text } from '@marrowbridge/config';
import { SmartBackendAuth } from './auth';
import { EhrClient } from './client';

export function ehrClientSettings(defaultScopes: string[]) {
  return {
    ehrBaseUrl: spec('EHR_BASE_URL', 'FHIR R4 base URL of the EHR', 'http://127.0.0.1:8103/fhir/R4', httpUrl),
    ehrClientId: optional('EHR_CLIENT_ID', 'SMART backend client id; unset means no authentication', text),
    ehrPrivateKey: optional(
      'EHR_PRIVATE_KEY',
      'the client private key: PEM text or a path to a PEM/JWK file',
      keyText,
      true,
    ),
    ehrKeyId: optional('EHR_KEY_ID', 'kid of the client key in its registered JWKS', text),
    ehrScopes: spec('EHR_SCOPES', 'scopes requested from the token endpoint', defaultScopes, list),
    ehrTokenUrl: optional('EHR_TOKEN_URL', 'token endpoint; discovered from the EHR when unset', httpUrl),
    ehrTimeoutMs: spec('EHR_TIMEOUT_MS', 'timeout of one EHR request, in ms', 10_000, int(100, 600_000)),
  };
}

export interface EhrClientConfig {
  ehrBaseUrl: string;
  ehrClientId?: string;
  ehrPrivateKey?: string;
  ehrKeyId?: string;
  ehrScopes: string[];
  ehrTokenUrl?: string;
  ehrTimeoutMs: number;
}

/** Checks what the settings cannot check one by one; returns the problems (empty when fine). */
export function ehrClientConfigProblems(config: EhrClientConfig): string[] {
  return config.ehrClientId && !config.ehrPrivateKey ? ['EHR_PRIVATE_KEY is required when EHR_CLIENT_ID is set'] : [];
}

/** An EhrClient for the configured EHR, with SMART backend auth when a client id is set. */
export function createEhrClient(
  config: EhrClientConfig,
  options: { userAgent: string; requestRetries?: number },
): EhrClient {
  const auth = config.ehrClientId
    ? new SmartBackendAuth({
        clientId: config.ehrClientId,
        privateKey: config.ehrPrivateKey!,
        scopes: config.ehrScopes,
        tokenUrl: config.ehrTokenUrl,
        kid: config.ehrKeyId,
        timeoutMs: config.ehrTimeoutMs,
      })
    : undefined;
  return new EhrClient({
    baseUrl: config.ehrBaseUrl,
    auth,
    timeoutMs: config.ehrTimeoutMs,
    userAgent: options.userAgent,
    requestRetries: options.requestRetries,
  });
}
