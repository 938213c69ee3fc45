/**
 * URLs as they may be printed or logged. A URL carries credentials in two places: its userinfo
 * (`user:password@`, or a token alone before the `@`, as in `https://<token>@host`) and its
 * parameters (`?password=…` in a PostgreSQL URL, `?access_token=…`, the `sig=` of a pre-signed
 * URL). Both are hidden; scheme, host, port and path stay, so a message still says where.
 *
 * The whole userinfo becomes ***, the user name included: which half is the secret is not
 * always the password (`https://<token>:x-oauth-basic@github.com`), and a database's own errors
 * name the user when it matters ("password authentication failed for user …").
 *
 * Pure text in, text out: it finds every URL inside a message (an error that quotes one, a pg
 * error, a log line), and works on URLs that do not even parse, which is when they get quoted.
 */

export const REDACTED = '***';

/**
 * Parameters whose value is hidden, matched anywhere in the name whatever its case: password,
 * passwd, sslpassword, pwd, secret, client_secret, token, access_token, key, api_key, apikey,
 * sslkey, auth, sig, signature, X-Amz-Signature, credential, session, cookie, jwt, hmac. A
 * harmless parameter caught by it (`design=`) only loses its value in a message.
 */
const SECRET_PARAMETER = /pass|pwd|secret|token|key|auth|sig|credential|session|cookie|jwt|hmac/i;

/**
 * A URL inside free text: a scheme, `://`, and everything up to white space, a double quote, <, >
 * or a backquote. Not a single quote: passwords may hold one, and a URL quoted in single quotes
 * only takes the closing quote along.
 */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s"<>`]*/gi;

/** `name=value` in a query or fragment: after `?`, `&`, `;` or `#`. */
const PARAMETER = /([?&;#])([^=&;#?]*)=([^&;#]*)/g;

/** A matrix parameter in the path (`/login;jsessionid=…`), before any query. */
const PATH_PARAMETER = /(;)([^=;/]*)=([^;/]*)/g;

/** Every URL in `text` with its userinfo and secret-looking parameter values replaced by ***. */
export function redactUrl(text: string): string {
  return text.replace(URL_IN_TEXT, redactOne);
}

/** Whether a query or fragment parameter of this name gets its value hidden. */
export function isSecretParameter(name: string): boolean {
  return SECRET_PARAMETER.test(decoded(name));
}

function redactOne(url: string): string {
  const start = url.indexOf('://') + 3;
  const rest = url.slice(start);
  const at = userinfoEnd(rest);
  const head = at < 0 ? '' : `${REDACTED}@`;
  const tail = rest.slice(at + 1);
  const query = tail.search(/[?#]/);
  const path = query < 0 ? tail : tail.slice(0, query);
  const parameters = query < 0 ? '' : tail.slice(query);
  return (
    url.slice(0, start) + head + path.replace(PATH_PARAMETER, hideValue) + parameters.replace(PARAMETER, hideValue)
  );
}

function hideValue(whole: string, sep: string, name: string, value: string): string {
  return value !== '' && isSecretParameter(name) ? `${sep}${name}=${REDACTED}` : whole;
}

/** Where the userinfo of `rest` (what follows `://`) ends: the index of its `@`, or -1. */
function userinfoEnd(rest: string): number {
  const delimiter = rest.search(/[/?#\\]/);
  const authority = delimiter < 0 ? rest : rest.slice(0, delimiter);
  // The last @: an unencoded @ inside a password belongs to the userinfo, as URL parsers read it.
  const at = authority.lastIndexOf('@');
  if (at >= 0 || delimiter < 0) return at;
  // `user:pa/ss@host`: a /, ? or # inside an unencoded password ends the authority early, leaving
  // what looks like host:port with a port that is no number. Then the userinfo runs to the next @.
  if (/^[^[\]]*:(?!\d*$)/.test(authority)) return rest.indexOf('@', delimiter);
  return -1;
}

function decoded(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}
