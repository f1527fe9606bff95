import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether `path` holds a tessera store in the default layout: some
 * `drive-<i>` directory under it has a FORMAT file or a segments/
 * directory. Any drive tells, so a store whose drive 0 is gone or damaged
 * is still found (the open then decides whether enough drives are left).
 */
export function isStoreDir(path: string): boolean {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch {
    return false;
  }
  return names.some(
    (name) =>
      /^drive-\d+$/.test(name) &&
      (existsSync(join(path, name, 'FORMAT')) || existsSync(join(path, name, 'segments'))),
  );
}
