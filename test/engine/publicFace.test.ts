import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const engine = join(root, 'src', 'engine');

/** Every module specifier a TypeScript file imports or re-exports, static or dynamic. */
function specifiers(source: string): string[] {
  return [...source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'([^']+)'/gm)].map((match) => match[1]!);
}

function typescriptFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Imports of the engine's own modules from outside it, as `file -> engine module`. */
function importsAroundTheIndex(directories: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of directories.flatMap((directory) => typescriptFiles(join(root, directory)))) {
    if (file.startsWith(engine + '/')) continue;
    for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      if (dirname(target) === engine && !target.endsWith('/index.js')) found.push(`${relative(root, file)} -> ${relative(root, target)}`);
    }
  }
  return found;
}

describe('the engine index is its whole public face', () => {
  it('is the only way the app and the local stand-ins reach the engine', () => {
    expect(importsAroundTheIndex(['src', 'local/src'])).toEqual([]);
  });

  it('reads every form of import and re-export (the check itself can see a stray one)', () => {
    const source = [
      "import type {\n  Row,\n} from '../engine/db.js';",
      "export { scan } from './engine/recordScanner.js';",
      "const rules = await import('./engine/rowRules.js');",
      "import './polyfill.js';",
    ].join('\n');
    expect(specifiers(source)).toEqual(['../engine/db.js', './engine/recordScanner.js', './engine/rowRules.js', './polyfill.js']);
  });
});
