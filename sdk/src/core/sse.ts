// A server-sent events parser per the WHATWG HTML "event stream
// interpretation": bytes → UTF-8 text → lines (CRLF, LF or CR) → events.
// Chunks may split anything, even a CRLF pair or a UTF-8 sequence.

export interface ServerSentEvent {
  /** The `event:` field, `message` when absent. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last event id seen on the stream so far (it persists across events, as in EventSource). */
  id: string | undefined;
}

export async function* parseServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  // The default TextDecoder drops a leading BOM, as the spec asks.
  const decoder = new TextDecoder();
  const lines = new LineSplitter();
  let eventType = '';
  let dataLines: string[] = [];
  let lastEventId: string | undefined;
  try {
    while (true) {
      const { done, value } = await reader.read();
      // An event still being assembled at the end of the stream is dropped (spec).
      if (done) return;
      for (const line of lines.push(decoder.decode(value, { stream: true }))) {
        if (line === '') {
          if (dataLines.length > 0) yield { event: eventType || 'message', data: dataLines.join('\n'), id: lastEventId };
          eventType = '';
          dataLines = [];
          continue;
        }
        if (line.startsWith(':')) continue; // a comment, e.g. ": keepalive"
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') eventType = value;
        else if (field === 'data') dataLines.push(value);
        else if (field === 'id' && !value.includes('\0')) lastEventId = value;
        // `retry` and unknown fields are ignored: reconnection policy is the client's.
      }
    }
  } finally {
    // Reached on normal end, on error, and when the consumer stops early
    // (break/return): cancelling releases the connection.
    await reader.cancel().catch(() => {});
  }
}

/** Splits text arriving in pieces into lines, whatever the line ending. */
class LineSplitter {
  private buffer = '';
  // A chunk ended in "\r": if the next one starts with "\n", that "\n" is
  // the second half of a CRLF, not an empty line.
  private skipLeadingLF = false;

  push(text: string): string[] {
    if (text === '') return [];
    if (this.skipLeadingLF && text.startsWith('\n')) text = text.slice(1);
    this.skipLeadingLF = false;
    this.buffer += text;
    const lines: string[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const char = this.buffer[i];
      if (char !== '\r' && char !== '\n') continue;
      lines.push(this.buffer.slice(start, i));
      if (char === '\r') {
        if (i + 1 === this.buffer.length) this.skipLeadingLF = true;
        else if (this.buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return lines;
  }
}
