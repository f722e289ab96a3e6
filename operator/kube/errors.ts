// Typed errors for everything that talks to an API server: the HTTP status code (and
// the Status object's `reason`) are mapped once here, so callers branch on
// predicates like isNotFound(e) and never on message text.
import { ApiException } from '@kubernetes/client-node';

/** Why a Kubernetes request failed. */
export type KubeErrorReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Invalid'
  | 'TooManyRequests'
  | 'InternalError'
  | 'Unavailable'
  | 'Timeout'
  | 'Network'
  /** The client was closed (close/destroy): it never reconnects, so a new client is needed. */
  | 'Closed'
  | 'Unknown';

/** A metav1.Status body as returned with API errors. */
export interface StatusBody {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number; name?: string; kind?: string };
}

const byCode: Record<number, KubeErrorReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  502: 'Unavailable',
  503: 'Unavailable',
  504: 'Timeout',
};

/** A failed Kubernetes request: `code` is the HTTP status (0 when no response came). */
export class KubeError extends Error {
  override readonly name = 'KubeError';
  readonly code: number;
  readonly reason: KubeErrorReason;
  readonly status: StatusBody | undefined;

  constructor(code: number, reason: KubeErrorReason, message: string, status?: StatusBody, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.reason = reason;
    this.status = status;
  }

  /** Builds the error for an HTTP status and its (optional) Status body. */
  static fromStatus(code: number, body: unknown, context: string): KubeError {
    const status = isStatusBody(body) ? body : undefined;
    let reason = byCode[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
    if (code === 409 && status?.reason === 'AlreadyExists') reason = 'AlreadyExists';
    if (code === 410 || status?.reason === 'Expired' || status?.reason === 'Gone') reason = 'Gone';
    return new KubeError(code, reason, `${context}: ${code} ${status?.message ?? reason}`, status);
  }
}

/** The error of every request on a closed client (code 0, reason Closed); no connection is opened. */
export function closedError(context: string, cause?: unknown): KubeError {
  return new KubeError(0, 'Closed', `${context}: client closed`, undefined, cause);
}

/** An error a reconciler throws when retrying cannot help; the controller reports it and does not requeue. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

function isStatusBody(b: unknown): b is StatusBody {
  return typeof b === 'object' && b !== null && (b as { kind?: unknown }).kind === 'Status';
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Maps any thrown value from a request (ApiException, undici or abort errors) to a KubeError; others pass through. */
export function toKubeError(e: unknown, context = 'request'): unknown {
  if (e instanceof KubeError) return e;
  if (e instanceof ApiException) {
    let body: unknown = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {
        /* not JSON: keep the code only */
      }
    }
    return KubeError.fromStatus(e.code, body, context);
  }
  if (typeof e === 'object' && e !== null) {
    const name = (e as { name?: unknown }).name;
    const code = (e as { code?: unknown }).code;
    const causeCode = (e as { cause?: { code?: unknown } }).cause?.code;
    const c = typeof code === 'string' ? code : typeof causeCode === 'string' ? causeCode : '';
    if (name === 'TimeoutError' || timeoutCodes.has(c)) {
      return new KubeError(0, 'Timeout', `${context}: timed out`, undefined, e);
    }
    if (networkCodes.has(c)) return new KubeError(0, 'Network', `${context}: ${c}`, undefined, e);
  }
  return e;
}

function reasonOf(e: unknown): KubeErrorReason | undefined {
  const k = toKubeError(e);
  return k instanceof KubeError ? k.reason : undefined;
}

/** 404: the object (or its namespace) does not exist. */
export const isNotFound = (e: unknown): boolean => reasonOf(e) === 'NotFound';
/** 409 with reason AlreadyExists: a create found the name taken. */
export const isAlreadyExists = (e: unknown): boolean => reasonOf(e) === 'AlreadyExists';
/** 409 Conflict: optimistic concurrency (resourceVersion) failed; re-read and retry. */
export const isConflict = (e: unknown): boolean => reasonOf(e) === 'Conflict';
/** 422 Invalid: the object was refused by validation (a field's value, or an immutable field changed). */
export const isInvalid = (e: unknown): boolean => reasonOf(e) === 'Invalid';
/** 410 Gone: a watch or list resourceVersion is too old; relist. */
export const isGone = (e: unknown): boolean => reasonOf(e) === 'Gone';
/** 403 Forbidden: RBAC denies it (may change when roles are granted). */
export const isForbidden = (e: unknown): boolean => reasonOf(e) === 'Forbidden';
/** 401 Unauthorized: credentials were refused. */
export const isUnauthorized = (e: unknown): boolean => reasonOf(e) === 'Unauthorized';
/** The client was closed for good (its credentials may have been replaced): use the new client. */
export const isClosed = (e: unknown): boolean => reasonOf(e) === 'Closed';

/** The server or the network is unavailable right now (5xx, 429, timeouts, connection errors). */
export function isUnavailable(e: unknown): boolean {
  const r = reasonOf(e);
  return r === 'Unavailable' || r === 'Timeout' || r === 'Network' || r === 'TooManyRequests' || r === 'InternalError';
}

/** Retrying the same request cannot succeed: a TerminalError, or a 400/405/413/415/422 answer. */
export function isTerminal(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && depth < 5; depth++) {
    if (cur instanceof TerminalError) return true;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  const r = reasonOf(e);
  return (
    r === 'BadRequest' ||
    r === 'Invalid' ||
    r === 'MethodNotAllowed' ||
    r === 'RequestEntityTooLarge' ||
    r === 'UnsupportedMediaType'
  );
}
