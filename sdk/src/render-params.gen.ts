// Generated from openapi.yaml (GET /v1/render) by sdk/scripts/generate-schema.ts. Do not edit:
// run `npm run generate -w sdk`. sdk/test/schema.test.ts fails when this file is stale.

/** Each render parameter's JSON Schema bounds, as the API validates them. */
export const renderParameterBounds = {
  "prompt": {
    "type": "string",
    "minLength": 1,
    "maxLength": 2000
  },
  "model": {
    "type": "string",
    "pattern": "^[a-z0-9][a-z0-9.-]{0,63}$",
    "maxLength": 64
  },
  "seed": {
    "type": "integer",
    "minimum": 0,
    "maximum": 4294967295
  },
  "negative_prompt": {
    "type": "string",
    "maxLength": 2000
  },
  "cfg": {
    "type": "number",
    "minimum": 0,
    "maximum": 20
  },
  "top_k": {
    "type": "integer",
    "minimum": 1,
    "maximum": 1000000
  },
  "top_p": {
    "type": "number",
    "maximum": 1,
    "exclusiveMinimum": 0
  },
  "more_smooth": {
    "type": "boolean"
  },
  "format": {
    "type": "string",
    "enum": [
      "png",
      "webp",
      "jpeg"
    ]
  },
  "png_metadata": {
    "type": "boolean"
  },
  "private": {
    "type": "boolean"
  }
} as const;

/** The longest a render URL may live, in seconds (`exp`'s `x-max-lifetime-seconds`). */
export const maxRenderUrlLifetimeSeconds = 2592000;
