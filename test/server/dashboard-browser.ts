import { sessionKey, verifySessionValue } from '../../src/server/dashboard/session.js';

export interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The Location of a redirect, '' otherwise. */
  location: string;
  /** The Set-Cookie lines of this response. */
  setCookies: string[];
}

/**
 * A browser as far as the dashboard can tell: keeps the cookies the server sets (by name, as a
 * browser does for one path), never follows redirects by itself, and sends its own Origin and
 * Sec-Fetch-Site: same-origin with a form POST, as browsers do.
 */
export class DashboardBrowser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  private remember(res: Response): string[] {
    const lines = res.headers.getSetCookie();
    for (const line of lines) {
      const [pair, ...attributes] = line.split(';').map((p) => p.trim());
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at);
      const cleared = attributes.some((a) => /^max-age=0$/i.test(a));
      if (cleared) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(at + 1));
    }
    return lines;
  }

  private cookieHeader(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  private async read(res: Response): Promise<PageResponse> {
    const setCookies = this.remember(res);
    return {
      status: res.status,
      headers: res.headers,
      text: await res.text(),
      location: res.headers.get('location') ?? '',
      setCookies,
    };
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<PageResponse> {
    return this.read(
      await fetch(`${this.base}${path}`, { redirect: 'manual', headers: { ...this.cookieHeader(), ...headers } }),
    );
  }

  async post(
    path: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<PageResponse> {
    return this.read(
      await fetch(`${this.base}${path}`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams(fields).toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: this.base,
          'sec-fetch-site': 'same-origin',
          ...this.cookieHeader(),
          ...headers,
        },
      }),
    );
  }

  /** Signs in with the form; returns the answer to the POST. */
  async signIn(token: string, returnTo?: string): Promise<PageResponse> {
    return this.post('/dashboard/login', { token, ...(returnTo === undefined ? {} : { returnTo }) });
  }

  get session(): string | undefined {
    return this.cookies.get('docv_session');
  }

  /**
   * The CSRF token of this browser's session as the dashboard derives it (HMAC of the session id
   * under the key derived from `adminToken`, or the process key when there is none): what the
   * pages put in their forms.
   */
  csrf(adminToken: string | undefined): string {
    const value = this.session;
    if (value === undefined) throw new Error('no session cookie');
    const session = verifySessionValue(sessionKey(adminToken), value);
    if (session === null) throw new Error('the session cookie does not verify');
    return session.csrfToken;
  }
}

/** The message a redirect carries for the banner. */
export function bannerOf(location: string): { path: string; done: string | null; error: string | null } {
  const url = new URL(location, 'http://x');
  return { path: url.pathname, done: url.searchParams.get('done'), error: url.searchParams.get('error') };
}
