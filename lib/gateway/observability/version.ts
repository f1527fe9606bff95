/** The package version, read once from the package.json above this file (src and dist alike). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const parsed = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (parsed.name === 'tessera' && parsed.version) return (cached = parsed.version);
    } catch {
      // Not here; keep walking up.
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
