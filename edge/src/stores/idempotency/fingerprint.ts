// What "the same body" means for an Idempotency-Key: the validated request with defaults applied,
// as canonical JSON, hashed. Formatting, key order and spelled-out defaults do not matter.
import { sha256Hex } from '../../crypto.ts';
import { canonicalJson } from '../../generation/params.ts';

export function requestFingerprint(request: Record<string, string | number | boolean | undefined>): Promise<string> {
  const defined = Object.entries(request).filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined);
  return sha256Hex(canonicalJson(Object.fromEntries(defined)));
}
