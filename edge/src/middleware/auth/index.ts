// Bearer API keys. KV maps the key id to a record holding the key's SHA-256, compared in constant time.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../env.ts';
import { sha256Hex, timingSafeEqual } from '../../crypto.ts';
import { KEY_PATTERN } from '../../keys/record.ts';
import { lookupKey } from '../../keys/lookup.ts';
import { problem } from '../problem/index.ts';

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="star-api"' };

export function bearerAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('Authorization');
    const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!match) return problem(c, 'unauthorized', 'Send your API key as "Authorization: Bearer sk_..."', { headers: CHALLENGE });
    const key = match[1];
    if (!KEY_PATTERN.test(key)) return problem(c, 'unauthorized', 'The API key is malformed', { headers: CHALLENGE });
    const hash = await sha256Hex(key);
    const record = await lookupKey(c.env, hash.slice(0, 16), c.get('config').keyCacheSeconds);
    if (!record || !timingSafeEqual(record.hash, hash))
      return problem(c, 'unauthorized', 'The API key is not valid', { headers: CHALLENGE });
    if (record.revoked_at !== undefined) return problem(c, 'forbidden', 'The API key has been revoked');
    c.set('apiKey', record);
    await next();
  };
}
