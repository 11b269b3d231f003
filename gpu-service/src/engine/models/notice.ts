// The NOTICE file fetch-model writes beside a downloaded model: which
// licence covers which files, where they came from, and the terms that
// bind whoever uses them. The weights are third-party; star-api's own code
// does not license them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LicenceId, RemoteFile, RemoteSource } from './registry.ts';
import { LICENCES } from './registry.ts';

export const NOTICE_FILE = 'NOTICE';

export function noticeText(model: string, files: readonly RemoteFile[]): string {
  const groups = new Map<LicenceId, RemoteFile[]>();
  for (const file of files) groups.set(file.licence, [...(groups.get(file.licence) ?? []), file]);
  const sections = [...groups].map(([id, group]) => {
    const licence = LICENCES[id];
    const names = group.map((f) => (f.extract ? `${f.extract.to} (extracted from ${f.target})` : f.target));
    const sources = [...new Set(group.flatMap((f) => f.sources.map(sourceName)))];
    return [
      licence.component,
      `  files:   ${names.join(', ')}`,
      `  from:    ${sources.join(', then ')} (Hugging Face)`,
      `  licence: ${licence.name} — ${licence.url}`,
      ...(licence.terms ? [`  ${licence.terms}`] : []),
    ].join('\n');
  });
  return `${model}: third-party weights, downloaded by \`star fetch-model\`. They are not part of star-api's\nsource and are not covered by its licence; each comes under its own:\n\n${sections.join('\n\n')}\n`;
}

export function writeNotice(dir: string, model: string, files: readonly RemoteFile[]): void {
  writeFileSync(join(dir, NOTICE_FILE), noticeText(model, files));
}

function sourceName(source: RemoteSource): string {
  return source.revision ? `${source.repo}@${source.revision}` : source.repo;
}
