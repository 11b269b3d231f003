// GET /: a one-page playground on the public API (jobs + SSE over fetch, since EventSource cannot
// send Authorization). The key stays in this tab's sessionStorage and is sent only to this origin.
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>star-api playground</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
  label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
  input, textarea, select, button { font: inherit; width: 100%; box-sizing: border-box; padding: .45rem; }
  textarea { min-height: 4.5rem; }
  button { margin-top: 1rem; cursor: pointer; }
  .row { display: flex; flex-wrap: wrap; gap: .75rem; } .row > div { flex: 1; min-width: 6.5rem; }
  #scales { display: flex; gap: .3rem; margin: 1rem 0; flex-wrap: wrap; }
  #scales span { padding: .15rem .5rem; border-radius: .3rem; background: #eee; }
  #scales span.done { background: #2f7d32; color: #fff; }
  img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }
  #preview { width: 128px; height: 128px; }
  #result img { width: 320px; }
  #status { min-height: 1.4rem; } .error { color: #b00020; }
  code { word-break: break-all; }
  /* Image URLs are one long word: let them break anywhere rather than widen a phone's page. */
  #result p, #status { overflow-wrap: anywhere; }
</style>
</head>
<body>
<h1>star-api playground</h1>
<form id="form">
  <label for="key">API key</label>
  <input id="key" type="password" autocomplete="off" placeholder="sk_..." required>
  <label for="prompt">Prompt</label>
  <textarea id="prompt" required maxlength="2000">dog face on a green background</textarea>
  <div class="row">
    <div><label for="model">Model</label><select id="model"><option value="">(server default)</option></select></div>
    <div><label for="seed">Seed</label><input id="seed" type="number" min="0" max="4294967295" placeholder="random"></div>
    <div><label for="format">Format</label><select id="format"><option>png</option><option>webp</option><option>jpeg</option></select></div>
  </div>
  <button id="go" type="submit">Generate</button>
</form>
<p id="status" role="status"></p>
<div id="scales"></div>
<img id="preview" alt="preview" hidden>
<div id="result"></div>
<script type="module">
const $ = (id) => document.getElementById(id);
const keyInput = $('key');
keyInput.value = sessionStorage.getItem('star-api-key') ?? '';
const auth = () => ({ Authorization: 'Bearer ' + keyInput.value.trim() });
const say = (text, error = false) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };

async function problemText(response) {
  try { const p = await response.json(); return p.title + ': ' + p.detail; } catch { return 'HTTP ' + response.status; }
}

async function loadModels() {
  if (!keyInput.value.trim()) return;
  const response = await fetch('/v1/models', { headers: auth() });
  if (!response.ok) return say(await problemText(response), true);
  const { data } = await response.json();
  $('model').replaceChildren(...data.map((m) => new Option(m.id + (m.default ? ' (default)' : ''), m.id, m.default, m.default)));
}
keyInput.addEventListener('change', () => { sessionStorage.setItem('star-api-key', keyInput.value.trim()); loadModels(); });
loadModels();

function showScales(done, total) {
  $('scales').replaceChildren(...Array.from({ length: total }, (_, i) => {
    const s = document.createElement('span'); s.textContent = i + 1; if (i < done) s.className = 'done'; return s;
  }));
}

async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\\n\\n')) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      let event = 'message', data = '';
      for (const line of block.split('\\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data) yield { event, data: JSON.parse(data) };
    }
  }
}

$('form').addEventListener('submit', async (e) => {
  e.preventDefault();
  sessionStorage.setItem('star-api-key', keyInput.value.trim());
  // Disabled until the job ends (the finally below), so one click is one job.
  $('go').disabled = true; $('result').replaceChildren(); $('preview').hidden = true;
  try {
    const body = { prompt: $('prompt').value, output_format: $('format').value };
    if ($('model').value) body.model = $('model').value;
    if ($('seed').value !== '') body.seed = Number($('seed').value);
    const created = await fetch('/v1/jobs', { method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (!created.ok) return say(await problemText(created), true);
    const job = await created.json();
    showScales(0, job.progress.scales);
    say('Queued ' + job.id);
    const stream = await fetch('/v1/jobs/' + job.id + '/events', { headers: auth() });
    if (!stream.ok) return say(await problemText(stream), true);
    for await (const { event, data } of events(stream)) {
      if (event === 'started') say('Running…');
      if (event === 'progress') {
        showScales(data.scale, data.scales);
        say('Scale ' + data.scale + ' of ' + data.scales + ' (' + data.side + '×' + data.side + ' tokens)');
        if (data.preview) { $('preview').src = data.preview; $('preview').hidden = false; }
      }
      if (event === 'completed') {
        const image = data.job.result.data[0];
        showScales(data.job.progress.scales, data.job.progress.scales);
        const img = new Image(); img.src = image.url; img.alt = body.prompt;
        const link = document.createElement('p');
        link.innerHTML = 'Permanent URL (seed ' + image.seed + '): ';
        const a = document.createElement('a'); a.href = image.url; a.textContent = image.url; a.id = 'permanent-url';
        link.append(a);
        $('result').replaceChildren(img, link);
        say(data.job.result.cached ? 'Done (from the cache)' : 'Done in ' + data.job.result.timings.total_ms + ' ms');
      }
      if (event === 'failed') say(data.job.error.title + ': ' + data.job.error.detail, true);
      if (event === 'cancelled') say('Cancelled', true);
    }
  } catch (error) {
    say(String(error), true);
  } finally {
    $('go').disabled = false;
  }
});
</script>
</body>
</html>
`;
