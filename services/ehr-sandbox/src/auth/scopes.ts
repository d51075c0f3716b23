/**
 * SMART system scopes, v1 (`system/DiagnosticReport.write`, `system/*.read`, `system/Patient.*`)
 * and v2 (`system/Observation.cu`, `system/*.rs`). Only the `system/` context is meaningful for
 * backend services; v2 scopes with query parameters (`?category=...`) are not supported.
 */

/** c = create, r = read (read, vread, history), u = update/patch, d = delete, s = search. */
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface SystemScope {
  /** A resource type or '*'. */
  readonly resourceType: string;
  readonly permissions: ReadonlySet<Permission>;
  /** The scope as written. */
  readonly text: string;
}

const V1: Record<string, Permission[]> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
};

const SCOPE_RE = /^system\/(\*|[A-Z][A-Za-z]+)\.([a-z*]+)$/;

/** Parses one scope; undefined when it is not a supported system scope. */
export function parseScope(text: string): SystemScope | undefined {
  const m = SCOPE_RE.exec(text);
  if (!m) {
    return undefined;
  }
  const [, resourceType, action] = m;
  let permissions: Permission[] | undefined = V1[action];
  if (!permissions) {
    if (!/^c?r?u?d?s?$/.test(action)) {
      return undefined;
    }
    permissions = [...action] as Permission[];
  }
  return { resourceType, permissions: new Set(permissions), text };
}

/** Splits a space-separated scope string; throws with the offending scope when one is not supported. */
export function parseScopes(text: string): SystemScope[] {
  const scopes: SystemScope[] = [];
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const scope = parseScope(token);
    if (!scope) {
      throw new Error(
        `unsupported scope "${token}" (expected system/<Type|*>.<read|write|*> or system/<Type|*>.<cruds>)`,
      );
    }
    scopes.push(scope);
  }
  return scopes;
}

/** True when `allowed` grants everything `requested` asks for. */
export function covers(allowed: SystemScope, requested: SystemScope): boolean {
  if (allowed.resourceType !== '*' && allowed.resourceType !== requested.resourceType) {
    return false;
  }
  for (const p of requested.permissions) {
    if (!allowed.permissions.has(p)) {
      return false;
    }
  }
  return true;
}

/** True when the granted scopes allow `permission` on `resourceType`. */
export function permits(granted: readonly SystemScope[], resourceType: string, permission: Permission): boolean {
  return granted.some(
    (s) => (s.resourceType === '*' || s.resourceType === resourceType) && s.permissions.has(permission),
  );
}
