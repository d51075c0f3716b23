/**
 * Security headers of every API answer. They are helmet's, with a CSP for an API that serves JSON and HL7 only
 * (the dashboard sets its own policy). With these options helmet's headers do not depend on the request, so they
 * are worked out once, by running helmet against a recording response, and set in one step per request instead
 * of through helmet's chain of a dozen middlewares.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

export const API_HELMET_OPTIONS: Readonly<HelmetOptions> = {
  contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
};

export interface HeaderPlan {
  /** Headers set, in helmet's order. */
  set: [name: string, value: string | string[]][];
  /** Headers removed (X-Powered-By). */
  remove: string[];
}

/** What helmet(options) does to a response, recorded once. Throws if helmet fails or depends on the request. */
export function helmetPlan(options: Readonly<HelmetOptions>): HeaderPlan {
  const plan: HeaderPlan = { set: [], remove: [] };
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      plan.set.push([name, Array.isArray(value) ? [...(value as string[])] : String(value)]);
      return recorder;
    },
    removeHeader(name: string) {
      plan.remove.push(name);
    },
  };
  let done = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  // helmet calls next synchronously; if it ever did not, the recording would be incomplete.
  if (!done) throw new Error('helmet did not finish synchronously: its headers cannot be precomputed');
  return plan;
}

/** Sets the precomputed helmet headers on every answer. */
export function securityHeaders(options: Readonly<HelmetOptions> = API_HELMET_OPTIONS): RequestHandler {
  const { set, remove } = helmetPlan(options);
  return (_req, res, next) => {
    for (const name of remove) res.removeHeader(name);
    for (const [name, value] of set) res.setHeader(name, value);
    next();
  };
}
