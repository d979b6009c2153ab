// Manifests as YAML: one document each, each with the comment that says why it is as it is.
import { Document } from 'yaml';

export interface Doc {
  /** Lines of the comment above the document (without '#'). */
  comment?: string[];
  value: unknown;
}

export function toYaml(docs: Doc[], header: string[] = []): string {
  const parts = docs.map((d, i) => {
    const doc = new Document(d.value, { aliasDuplicateObjects: false });
    const lines = [...(i === 0 ? header : []), ...(d.comment ?? [])];
    if (lines.length) doc.commentBefore = lines.map((l) => ` ${l}`).join('\n');
    return doc.toString({ lineWidth: 0 });
  });
  return parts.join('---\n');
}
