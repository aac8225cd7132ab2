import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

/**
 * Who may use the console: whoever holds this start's random access token. The token arrives once
 * in the printed URL, is swapped for an HttpOnly SameSite=Strict cookie and dropped from the
 * address bar; every request after that carries the cookie. Requests for another Host name are
 * refused, so a web page cannot reach the console through DNS rebinding.
 */

export const COOKIE_NAME = 'recordings_console';

/** A fresh per-start token: 256 random bits. */
export function newAccessToken(): string {
  return randomBytes(32).toString('base64url');
}

export interface AccessOptions {
  readonly token: string;
  /** When the token stops working (ms since the epoch). */
  readonly expiresAt: number;
  /** Host header values accepted, e.g. `127.0.0.1:8090`. */
  readonly hosts: () => readonly string[];
  readonly now?: () => number;
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A short HTML page for a refused request (the page itself) or JSON (the API). */
export function refuse(c: Context, status: 401 | 403, message: string): Response {
  if (c.req.path.startsWith('/api/')) return c.json({ error: message }, status);
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Recordings console: ${status === 401 ? 'not signed in' : 'refused'}</title></head>` +
      `<body><main><h1>${status === 401 ? 'Access token not accepted' : 'Request refused'}</h1><p>${escapeHtml(message)}</p></main></body></html>`,
    status,
  );
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function accessGuard(options: AccessOptions): MiddlewareHandler {
  const now = options.now ?? Date.now;
  return async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (!options.hosts().includes(host)) {
      return refuse(
        c,
        403,
        `this console answers only at ${options.hosts()[0]}, not ${host || 'an unnamed host'}`,
      );
    }
    if (now() >= options.expiresAt) {
      return refuse(
        c,
        401,
        'this console start has expired: start `npx recordings console` again and open the new URL',
      );
    }
    const offered = c.req.query('token');
    if (offered !== undefined) {
      if (!sameToken(offered, options.token)) {
        return refuse(c, 401, 'wrong access token: open the exact URL `npx recordings console` printed');
      }
      setCookie(c, COOKIE_NAME, options.token, {
        httpOnly: true,
        sameSite: 'Strict',
        path: '/',
        maxAge: Math.max(1, Math.floor((options.expiresAt - now()) / 1000)),
      });
      // The token leaves the address bar (and the history) at once.
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    if (!sameToken(getCookie(c, COOKIE_NAME), options.token)) {
      return refuse(
        c,
        401,
        'no access token: open the URL `npx recordings console` printed (it holds the token)',
      );
    }
    // SameSite=Strict keeps the cookie off cross-site requests; a changing request must also say it comes from here.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      if (origin === undefined || !options.hosts().some((allowed) => origin === `http://${allowed}`)) {
        return refuse(c, 403, 'a change request must come from the console page itself');
      }
    }
    await next();
  };
}
