import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { extract } from 'tar-fs';

/**
 * A headless Chromium that comes from the npm registry alone: `@sparticuz/chromium` ships a self-contained build
 * (brotli-compressed, with the NSS/expat libraries it links and a font), so the browser tests need no apt, no root
 * and no browser download. The package's own loader unpacks into a shared /tmp and trusts any file already there
 * (a half-written one after an interrupted run too); this unpacks once per package version into
 * node_modules/.cache, atomically, so a cut extraction is never used and parallel runs do not collide.
 */
const packageDir = join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..');
const binDir = join(packageDir, 'bin');

async function unpacked(): Promise<string> {
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const dir = join(packageDir, '..', '..', '.cache', `sparticuz-chromium-${version}`);
  if (existsSync(join(dir, 'chromium'))) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const brotli = (name: string) => createReadStream(join(binDir, name)).pipe(createBrotliDecompress());
  await Promise.all([
    pipeline(brotli('chromium.br'), createWriteStream(join(partial, 'chromium'), { mode: 0o755 })),
    // lib/: libnss3, libnspr4, libexpat and friends, built for Amazon Linux 2023 (glibc 2.34, so any newer glibc).
    pipeline(brotli('al2023.tar.br'), extract(partial)),
    pipeline(brotli('fonts.tar.br'), extract(partial)),
  ]);
  // The package's fonts.conf names Lambda's paths; ours names the unpacked fonts and keeps the system's, if any.
  await writeFile(join(partial, 'fonts.conf'), [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    `  <dir>${join(dir, 'fonts')}</dir>`,
    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    `  <cachedir>${join(dir, 'fonts-cache')}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n'));
  try {
    await rename(partial, dir);
  } catch (error) {
    // Another run unpacked the same version first: use its copy.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(dir, 'chromium'))) throw error;
  }
  return dir;
}

/** Launches the packaged Chromium headless with the given extra arguments. */
export async function launchChromium(args: readonly string[]): Promise<Browser> {
  const dir = await unpacked();
  return chromium.launch({
    executablePath: join(dir, 'chromium'),
    args: [...args],
    env: {
      ...process.env,
      LD_LIBRARY_PATH: [join(dir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      FONTCONFIG_PATH: dir,
    },
  });
}
