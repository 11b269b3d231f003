// Server-sent events: the formatter of the job event streams the Worker writes (GET /v1/jobs/{id}/events).
export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

export function formatEvent(message: SseMessage): string {
  let out = '';
  if (message.id !== undefined) out += `id: ${message.id}\n`;
  out += `event: ${message.event}\n`;
  for (const line of message.data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}
