import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Just enough of Bicep's text form to check the deployment against the app (no compiler is reachable here). */

export const root = join(import.meta.dirname, '..', '..');
export const bicepDir = join(root, 'infra', 'bicep');

export function read(relativePath: string): string {
  return readFileSync(join(root, relativePath), 'utf8');
}

/** The file without line comments, so commented-out code can neither satisfy nor break a check. */
export function readBicep(relativePath: string): string {
  return read(relativePath)
    .split('\n')
    .map((line) => line.replace(/(^|\s)\/\/.*$/, ''))
    .join('\n');
}

export function bicepFiles(): string[] {
  return ['infra/bicep/main.bicep', ...readdirSync(join(bicepDir, 'modules')).map((file) => `infra/bicep/modules/${file}`)];
}

export interface AppSetting {
  name: string;
  value: string;
}

/** `{ name: 'X', value: expr }` entries: the app settings arrays of a site. */
export function appSettings(bicep: string): AppSetting[] {
  return [...bicep.matchAll(/\{\s*name:\s*'([^']+)',\s*value:\s*(.+?)\s*\}\s*$/gm)].map((match) => ({
    name: match[1]!,
    value: match[2]!,
  }));
}

export interface ResourceBlock {
  symbol: string;
  type: string;
  body: string;
}

/** Top-level `resource sym 'Type@version' ... = {...}` declarations with their bodies (brace-matched). */
export function resources(bicep: string): ResourceBlock[] {
  const blocks: ResourceBlock[] = [];
  for (const match of bicep.matchAll(/^resource (\w+) '([^'@]+)@[^']+'( existing)?[^\n]*$/gm)) {
    const start = bicep.indexOf('{', match.index! + match[0].length - 1);
    blocks.push({ symbol: match[1]!, type: match[2]!, body: start < 0 ? '' : braceBlock(bicep, start) });
  }
  return blocks;
}

function braceBlock(text: string, start: number): string {
  let depth = 0;
  for (let index = start; index < text.length; index += 1) {
    if (text[index] === '{') depth += 1;
    else if (text[index] === '}' && --depth === 0) return text.slice(start, index + 1);
  }
  throw new Error(`unbalanced braces after offset ${start}`);
}

/** The first `key: value` (to the end of the line) in a block. */
export function property(body: string, key: string): string | undefined {
  return new RegExp(`(?:^|[\\s{])${key}:\\s*(.+?)\\s*$`, 'm').exec(body)?.[1];
}

/** `'text'` → text; anything else (an expression) → undefined. */
export function literal(value: string | undefined): string | undefined {
  return value !== undefined && /^'[^']*'$/.test(value) ? value.slice(1, -1) : undefined;
}

export interface Param {
  name: string;
  hasDefault: boolean;
  defaultValue?: string;
}

export function params(bicep: string): Param[] {
  return [...bicep.matchAll(/^param (\w+) [\w.]+(?:\s*=\s*(.+))?$/gm)].map((match) => ({
    name: match[1]!,
    hasDefault: match[2] !== undefined,
    ...(match[2] === undefined ? {} : { defaultValue: match[2].trim() }),
  }));
}

export function variable(bicep: string, name: string): string | undefined {
  return new RegExp(`^var ${name} = (.+)$`, 'm').exec(bicep)?.[1]?.trim();
}

/** `module sym 'path' ...` → its params block text. */
export function moduleBlock(bicep: string, path: string): string {
  const index = bicep.indexOf(`'${path}'`);
  if (index < 0) throw new Error(`module ${path} is not used`);
  return braceBlock(bicep, bicep.indexOf('{', index));
}
