// openapi.yaml is bundled as text (wrangler.toml [[rules]] Text; the tests' esbuild `text` loader).
declare module '*.yaml' {
  const text: string;
  export default text;
}
