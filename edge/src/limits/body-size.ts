// The largest request body the API reads; anything larger is a 413 before it is parsed.
export const MAX_BODY_BYTES = 64 * 1024;
